package pkgspec

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/scaleout/scaleout/catalog/pkgspec/pkgspectest"
	"go.yaml.in/yaml/v3"
)

// helloYAML is the shared fixture (see pkgspectest).
const helloYAML = pkgspectest.HelloYAML

func strp(s string) *string { return &s }

func TestParse_Hello(t *testing.T) {
	pkg, err := Parse("hello.yaml", []byte(helloYAML))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	want := &Package{
		Name:        "hello",
		Description: "optional text",
		File:        "hello.yaml",
		Parameters: []*Parameter{
			{Name: "who", Type: TypeString, Default: strp("world"), Line: 4},
			{Name: "code", Type: TypeInt, Default: strp("0"), Line: 5},
		},
		Tasks: []*Task{
			{Name: "greet", Line: 7, Exec: &ExecTask{Command: []string{"/bin/sh", "-c", `echo "hello ${param.who}"`}}},
			{Name: "finish", Line: 10, After: []string{"greet"}, Constraints: []*Constraint{{Task: "greet", On: OnSuccess, Line: 11}}, Exec: &ExecTask{Command: []string{"/bin/sh", "-c", "exit ${param.code}"}}},
		},
	}
	if !reflect.DeepEqual(pkg, want) {
		t.Errorf("Parse mismatch\n got: %s\nwant: %s", dump(pkg), dump(want))
	}
	if got := pkg.Tasks[0].Kind(); got != KindExec {
		t.Errorf("Kind = %q, want exec", got)
	}
	if pkg.Param("code") != pkg.Parameters[1] || pkg.Param("nope") != nil {
		t.Error("Param lookup wrong")
	}
	if pkg.Task("finish") != pkg.Tasks[1] || pkg.Task("nope") != nil {
		t.Error("Task lookup wrong")
	}
}

func dump(p *Package) string {
	var b strings.Builder
	b.WriteString(p.Name + "|" + p.Description + "|" + p.File)
	for _, pr := range p.Parameters {
		b.WriteString("\n  param " + pr.Name + " " + pr.Type)
		if pr.Default != nil {
			b.WriteString(" default=" + *pr.Default)
		}
	}
	for _, t := range p.Tasks {
		b.WriteString("\n  task " + t.Name + " after=" + strings.Join(t.After, ","))
		if t.Exec != nil {
			b.WriteString(" cmd=" + strings.Join(t.Exec.Command, " ") + " dir=" + t.Exec.Dir)
		}
	}
	return b.String()
}

func TestParseFile(t *testing.T) {
	pkg, err := ParseFile(filepath.Join("testdata", "hello.yaml"))
	if err != nil {
		t.Fatalf("ParseFile: %v", err)
	}
	if pkg.Name != "hello" || pkg.File != filepath.Join("testdata", "hello.yaml") {
		t.Errorf("got name %q file %q", pkg.Name, pkg.File)
	}

	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("name: x\ntasks: []\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = ParseFile(bad)
	if err == nil || !strings.HasPrefix(err.Error(), bad+":2: ") {
		t.Errorf("ParseFile(bad) error = %v, want prefix %q", err, bad+":2: ")
	}

	if _, err := ParseFile(filepath.Join(t.TempDir(), "missing.yaml")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ParseFile(missing) error = %v, want ErrNotExist", err)
	}
}

func TestParse_Valid(t *testing.T) {
	tests := []struct {
		name  string
		src   string
		check func(t *testing.T, p *Package)
	}{
		{"canonical defaults", `name: types
parameters:
  s: {default: ""}
  i: {type: int, default: "+042"}
  f: {type: float, default: 1.50}
  b: {type: bool, default: TRUE}
  d: {type: datetime, default: 2024-05-01T10:00:00+02:00}
  r: {type: int, required: true, sensitive: true, description: secret}
  o: {type: string}
tasks: [{name: t, exec: {command: [x]}}]
`, func(t *testing.T, p *Package) {
			want := map[string]string{"s": "", "i": "42", "f": "1.5", "b": "true", "d": "2024-05-01T10:00:00+02:00"}
			for name, w := range want {
				if d := p.Param(name).Default; d == nil || *d != w {
					t.Errorf("param %s default = %v, want %q", name, d, w)
				}
			}
			r := p.Param("r")
			if !r.Required || !r.Sensitive || r.Default != nil || r.Description != "secret" {
				t.Errorf("param r = %+v", r)
			}
			if o := p.Param("o"); !o.Required {
				t.Errorf("param without default should be required: %+v", o)
			}
		}},
		{"exec env dir and escapes", `name: e
parameters:
  d: {default: sub}
tasks:
  - name: t
    description: does things
    exec:
      command: [sh, -c, 'echo $${HOME} $$ $x']
      env: {A: "${param.d}", B: 2, C: ~}
      dir: "${param.d}/x"
`, func(t *testing.T, p *Package) {
			e := p.Tasks[0].Exec
			if want := map[string]string{"A": "${param.d}", "B": "2", "C": ""}; !reflect.DeepEqual(e.Env, want) {
				t.Errorf("env = %v, want %v", e.Env, want)
			}
			if e.Dir != "${param.d}/x" || p.Tasks[0].Description != "does things" {
				t.Errorf("task = %+v exec = %+v", p.Tasks[0], e)
			}
		}},
		{"after as scalar, anchors", `name: a
tasks:
  - {name: a, exec: {command: &cmd [/bin/true]}}
  - {name: b, after: a, exec: {command: *cmd}}
`, func(t *testing.T, p *Package) {
			b := p.Tasks[1]
			if !reflect.DeepEqual(b.After, []string{"a"}) || !reflect.DeepEqual(b.Exec.Command, []string{"/bin/true"}) {
				t.Errorf("task b = %+v exec = %+v", b, b.Exec)
			}
		}},
		{"unicode names", "name: \"Lädt Daten – 日本\"\ntasks: [{name: \"step one\", exec: {command: [x]}}]\n", nil},
		{"diamond", `name: d
tasks:
  - {name: a, exec: {command: [x]}}
  - {name: b, after: [a], exec: {command: [x]}}
  - {name: c, after: [a], exec: {command: [x]}}
  - {name: d, after: [b, c], exec: {command: [x]}}
`, func(t *testing.T, p *Package) {
			got := stageNames(p.Order())
			if want := "a|b,c|d"; got != want {
				t.Errorf("Order = %s, want %s", got, want)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse("t.yaml", []byte(tt.src))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if tt.check != nil {
				tt.check(t, p)
			}
		})
	}
}

func stageNames(stages [][]*Task) string {
	parts := make([]string, len(stages))
	for i, s := range stages {
		names := make([]string, len(s))
		for j, t := range s {
			names[j] = t.Name
		}
		parts[i] = strings.Join(names, ",")
	}
	return strings.Join(parts, "|")
}

func TestPackage_Order(t *testing.T) {
	mk := func(name string, after ...string) *Task { return &Task{Name: name, After: after} }
	tests := []struct {
		name  string
		tasks []*Task
		want  string
	}{
		{"empty", nil, ""},
		{"independent", []*Task{mk("a"), mk("b")}, "a,b"},
		{"chain declared backwards", []*Task{mk("c", "b"), mk("b", "a"), mk("a")}, "a|b|c"},
		{"cycle left out", []*Task{mk("a"), mk("b", "c"), mk("c", "b")}, "a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := stageNames((&Package{Tasks: tt.tasks}).Order()); got != tt.want {
				t.Errorf("Order = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestProblem_String(t *testing.T) {
	tests := []struct {
		p    Problem
		want string
	}{
		{Problem{File: "f.yaml", Line: 3, Msg: "m"}, "f.yaml:3: m"},
		{Problem{File: "f.yaml", Msg: "m"}, "f.yaml: m"},
		{Problem{Line: 3, Msg: "m"}, "line 3: m"},
		{Problem{Msg: "m"}, "m"},
	}
	for _, tt := range tests {
		if got := tt.p.String(); got != tt.want {
			t.Errorf("%+v.String() = %q, want %q", tt.p, got, tt.want)
		}
	}
	e := &ValidationError{Problems: []Problem{{File: "f", Line: 1, Msg: "a"}, {File: "f", Msg: "b"}}}
	if got, want := e.Error(), "f:1: a\nf: b"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

// TestParse_ReportsEveryProblem checks that problems anywhere in the file are
// all reported, sorted by line.
func TestParse_ReportsEveryProblem(t *testing.T) {
	src := `name: "bad|name"
parameters:
  n: {type: int, default: x}
tasks:
  - name: a
    after: [nope]
    exec: {comand: [x]}
  - name: a
    exec: {command: ['${param.zz}']}
`
	_, err := Parse("m.yaml", []byte(src))
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error = %v, want *ValidationError", err)
	}
	wantLines := []int{1, 3, 6, 7, 7, 8, 9}
	var gotLines []int
	for _, p := range ve.Problems {
		gotLines = append(gotLines, p.Line)
		if p.File != "m.yaml" {
			t.Errorf("problem %v has file %q", p, p.File)
		}
	}
	if !reflect.DeepEqual(gotLines, wantLines) {
		t.Errorf("problem lines = %v, want %v\n%v", gotLines, wantLines, err)
	}
}

// TestParse_TwoTaskTypes uses a parser with an extra task kind, since format
// v0 has only one.
func TestParse_TwoTaskTypes(t *testing.T) {
	p := &parser{file: "k.yaml", kinds: append([]taskKind{{key: "noop", decode: func(*parser, *Task, *yaml.Node, *yaml.Node) {}}}, defaultKinds...)}
	p.parse([]byte("name: k\ntasks:\n  - name: a\n    noop: {}\n    exec: {command: [x]}\n"))
	if len(p.problems) != 1 {
		t.Fatalf("problems = %v, want exactly one", p.problems)
	}
	got := p.problems[0]
	if got.Line != 3 || !strings.Contains(got.Msg, `task "a" has 2 task types (noop, exec); want exactly one`) {
		t.Errorf("problem = %v", got)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(helloYAML))
	f.Add([]byte("name: a\ntasks: [{name: a, after: [a], exec: {command: [x]}}]"))
	f.Add([]byte("- [\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		p, err := Parse("f.yaml", src)
		if (p == nil) == (err == nil) {
			t.Fatalf("Parse returned %v, %v", p, err)
		}
		if p != nil && len(p.Order()) == 0 {
			t.Fatal("valid package with no stages")
		}
	})
}

func TestParse_EntryPoint(t *testing.T) {
	for src, want := range map[string]string{
		"name: a\ntasks:\n  - name: t\n    exec: {command: [x]}\n":                     "<nil>",
		"name: a\nentry_point: false\ntasks:\n  - name: t\n    exec: {command: [x]}\n": "false",
		"name: a\nentry_point: true\ntasks:\n  - name: t\n    exec: {command: [x]}\n":  "true",
	} {
		p, err := Parse("p.yaml", []byte(src))
		if err != nil {
			t.Fatal(err)
		}
		got := "<nil>"
		if p.EntryPoint != nil {
			got = fmt.Sprint(*p.EntryPoint)
		}
		if got != want {
			t.Errorf("entry_point of %q = %s, want %s", src, got, want)
		}
	}
	if _, err := Parse("p.yaml", []byte("name: a\nentry_point: maybe\ntasks:\n  - name: t\n    exec: {command: [x]}\n")); err == nil {
		t.Error("entry_point: maybe was accepted")
	}
}
