package project

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scaleout/scaleout/catalog/pkgspec"
)

const sample = "../../testdata/projects/etl-sample"

func TestPackLoadUnpack(t *testing.T) {
	a, err := Pack(sample, 0)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Pack(sample, 0)
	if Hash(a) != Hash(b) {
		t.Fatal("packing the same directory twice gave different archives")
	}
	files, err := ReadFiles(a, 0)
	if err != nil {
		t.Fatal(err)
	}
	m, err := Load(files)
	if err != nil {
		t.Fatal(err)
	}
	if m.Name != "etl-sample" || len(m.Packages) != 2 || len(m.Parameters) != 2 || len(m.Connections) != 1 {
		t.Fatalf("manifest %+v", m)
	}
	if p := m.Package("cleanup"); p == nil || p.EntryPoint {
		t.Fatalf("cleanup should not be an entry point: %+v", p)
	}
	if p := m.Package("load"); p == nil || !p.EntryPoint || len(p.Parameters) != 3 {
		t.Fatalf("load: %+v", p)
	}
	dest := t.TempDir()
	if err := Unpack(bytes.NewReader(a), dest, 0); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(dest, "scripts/count.sh"))
	if err != nil || st.Mode()&0o100 == 0 {
		t.Fatalf("script not unpacked executable: %v %v", st, err)
	}
	if _, err := Pack(sample, 100); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("limit: %v", err)
	}
}

func TestLoad_Errors(t *testing.T) {
	const pkg = "name: p\ntasks:\n  - name: a\n    exec: {command: [/bin/true]}\n"
	var manyParams, manyConns strings.Builder
	manyParams.WriteString("name: x\nparameters:\n")
	manyConns.WriteString("name: x\nconnections:\n")
	for i := 0; i <= pkgspec.MaxParameters; i++ {
		fmt.Fprintf(&manyParams, "  p%d: {default: a}\n", i)
		fmt.Fprintf(&manyConns, "  c%d: {type: postgres}\n", i)
	}
	cases := []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"no manifest", map[string]string{"packages/p.yaml": pkg}, "project.yaml is missing"},
		{"bad name", map[string]string{"project.yaml": "name: 'a|b'\n", "packages/p.yaml": pkg}, `project name "a|b"`},
		{"unknown field", map[string]string{"project.yaml": "name: x\nfoo: 1\n", "packages/p.yaml": pkg}, "project.yaml:2: unknown field \"foo\" in project.yaml"},
		{"no packages", map[string]string{"project.yaml": "name: x\n"}, "no packages"},
		{"bad param type", map[string]string{"project.yaml": "name: x\nparameters:\n  n: {type: integer}\n", "packages/p.yaml": pkg}, "unknown type"},
		{"bad param name", map[string]string{"project.yaml": "name: x\nparameters:\n  1n: {default: a}\n", "packages/p.yaml": pkg}, `parameter "1n"`},
		{"bad default", map[string]string{"project.yaml": "name: x\nparameters:\n  n: {type: int, default: x}\n", "packages/p.yaml": pkg}, "does not match type int"},
		{"sensitive default", map[string]string{"project.yaml": "name: x\nparameters:\n  pw: {sensitive: true, default: x}\n", "packages/p.yaml": pkg}, "must not have a default"},
		{"sensitive package default", map[string]string{"project.yaml": "name: x\n",
			"packages/p.yaml": "name: p\nparameters:\n  pw: {sensitive: true, default: x}\ntasks:\n  - name: a\n    exec: {command: [/bin/true]}\n"}, "p.yaml:3: sensitive parameter"},
		{"invalid package", map[string]string{"project.yaml": "name: x\n", "packages/p.yaml": "name: p\ntasks: []\n"}, "packages/p.yaml"},
		{"duplicate package", map[string]string{"project.yaml": "name: x\n", "packages/p.yaml": pkg, "packages/q.yaml": pkg}, "also used by"},
		{"undeclared project reference", map[string]string{"project.yaml": "name: x\nparameters:\n  host: {default: h}\nconnections:\n  db: {type: postgres, properties: {host: '${project.host}', password: '${project.pw}'}}\n", "packages/p.yaml": pkg},
			`connection "db" property password refers to ${project.pw}`},
		{"too many parameters", map[string]string{"project.yaml": manyParams.String(), "packages/p.yaml": pkg}, "project.yaml:2: project has 1025 parameters, over the limit of 1024 (pkgspec.MaxParameters)"},
		{"too many connections", map[string]string{"project.yaml": manyConns.String(), "packages/p.yaml": pkg}, "project.yaml:2: project has 1025 connections, over the limit of 1024 (pkgspec.MaxConnections)"},
		{"entry_point not bool", map[string]string{"project.yaml": "name: x\n", "packages/p.yaml": "entry_point: maybe\n" + pkg}, "true or false"},
	}
	for _, c := range cases {
		files := map[string][]byte{}
		for k, v := range c.files {
			files[k] = []byte(v)
		}
		_, err := Load(files)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %q", c.name, err, c.want)
		}
	}
	// entry_point keeps the line numbers of the rest of the package.
	files := map[string][]byte{"project.yaml": []byte("name: x\n"),
		"packages/p.yaml": []byte("entry_point: false\nname: p\ntasks:\n  - name: a\n    after: [zz]\n    exec: {command: [/bin/true]}\n")}
	if _, err := Load(files); err == nil || !strings.Contains(err.Error(), "p.yaml:5") {
		t.Fatalf("line numbers after entry_point: %v", err)
	}
}
