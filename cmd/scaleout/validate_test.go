package main

import (
	"bytes"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scaleout/scaleout/catalog/pkgspec/pkgspectest"
)

func TestValidate(t *testing.T) {
	bad := t.TempDir()
	pkgspectest.WriteFiles(t, bad, map[string]string{
		"project.yaml": "name: p\nconnections:\n  shared: {type: sqlite, properties: {database: x.db}}\nparameters:\n  n: {type: int, defualt: 1}\n",
		"packages/main.yaml": `name: main
tasks:
  - {name: a, sql: {connection: shared, statement: SELECT 1}}
  - {name: b, sql: {connection: nowhere, statement: SELECT 1}}
  - {name: c, package: {name: missing}}
`,
		"packages/other.yaml": "name: other\ntasks:\n  - {name: d, when: 'vars.x +', exec: {command: [\"true\"]}}\n",
	})
	tests := []struct {
		target string
		code   int
		want   []string
	}{
		{"../../testdata/hello.yaml", 0, []string{"1 package valid"}},
		{"../../testdata/projects/etl", 0, []string{"2 packages valid"}},
		{"../../testdata/invalid-cycle.yaml", exitUsage, []string{"invalid-cycle.yaml:4: dependency cycle: a -> b -> a"}},
		{bad, exitUsage, []string{
			`main.yaml:4: task "b" uses connection "nowhere", which neither the package nor project.yaml declares`,
			`main.yaml:5: task "c" runs package "missing", but the project has no packages/missing.yaml`,
			`other.yaml:3: task "d" when: expression "vars.x +" at character 8: unexpected token EOF`,
			// what only deploy checked: project.yaml itself, with file:line
			`project.yaml:5: unknown field "defualt" in a project parameter`,
		}},
		{filepath.Join(bad, "packages", "main.yaml"), exitUsage, []string{
			`main.yaml:4: task "b" uses connection "nowhere", which neither the package nor project.yaml declares`,
		}},
		{filepath.Join(bad, "nope"), exitUsage, nil},
	}
	for _, tt := range tests {
		var out bytes.Buffer
		err := runValidate(&out, tt.target)
		code := 0
		var ee *exitError
		if errors.As(err, &ee) {
			code = ee.code
		} else if err != nil {
			code = -1
		}
		if code != tt.code {
			t.Errorf("validate %s: code %d (%v), want %d\n%s", tt.target, code, err, tt.code, out.String())
		}
		for _, w := range tt.want {
			if !strings.Contains(out.String(), w) {
				t.Errorf("validate %s: output lacks %q:\n%s", tt.target, w, out.String())
			}
		}
		if strings.Contains(out.String(), `task "a"`) {
			t.Errorf("connection of project.yaml reported as unknown:\n%s", out.String())
		}
	}
}
