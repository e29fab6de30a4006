package pkgspec

import (
	"fmt"
	"testing"
	"time"
)

func TestParse_RuntimeFeatures(t *testing.T) {
	pkg, err := Parse("p.yaml", []byte(`name: p
max_parallel: 3
timeout: 1m
allow_paths: [/data]
parameters: {pw: {sensitive: true, default: x}}
variables: {n: {type: int, value: 2}, rows: {type: object}}
connections:
  db: {driver: postgres, host: h, port: '5432', user: u, password: '${param.pw}', database: d}
tasks:
  - {name: a, timeout: 2s, retries: 2, retry_delay: 1s, result: n, sql: {connection: db, statement: 'SELECT ?', params: ['${vars.n}'], mode: single_row}}
  - name: b
    after: [a, {task: a2, on: failure, when: 'tasks.a.rows > 0'}]
    join: or
    when: 'vars.n > 1'
    set: {n: 'vars.n + 1'}
  - {name: a2, exec: {command: ["true"], success_codes: [0, 3]}}
  - name: loop
    foreach:
      var: f
      files: '*.csv'
      variables: {k: {type: string}}
      tasks:
        - {name: inner, set: {k: 'vars.f', n: '1'}}
  - name: count
    for:
      init: {i: '0'}
      condition: 'vars.i < 3'
      step: {i: 'vars.i + 1'}
      tasks:
        - {name: use_i, exec: {command: [echo, '${vars.i}']}}
`))
	if err != nil {
		t.Fatalf("Parse:\n%v", err)
	}
	if pkg.MaxParallel != 3 || pkg.Timeout != time.Minute || pkg.Connection("db").Port != "5432" {
		t.Errorf("package fields: %+v", pkg)
	}
	b := pkg.Task("b")
	if b.Join != JoinOr || len(b.Constraints) != 2 || b.Constraints[1].On != OnFailure || b.Constraints[1].When == "" {
		t.Errorf("b constraints: %+v", b.Constraints)
	}
	if pkg.Task("inner") == nil || pkg.Task("use_i") == nil || pkg.Task("count").For.Init[0].Var != "i" {
		t.Error("container tasks not found")
	}
	if uses := pkg.ConnectionUses(); len(uses) != 1 || uses[0].Connection != "db" || uses[0].Line != 10 {
		t.Errorf("ConnectionUses = %+v", uses)
	}
}

func TestParse_RuntimeProblems(t *testing.T) {
	tests := []struct {
		name, src string
		want      []want
	}{
		{"bad on", "name: a\ntasks:\n  - {name: x, exec: {command: [x]}}\n  - {name: y, after: [{task: x, on: sometimes}], exec: {command: [x]}}\n",
			[]want{{4, `task "y" after "x": on must be success, failure or completion, not "sometimes"`}}},
		{"or with one", "name: a\ntasks:\n  - {name: x, exec: {command: [x]}}\n  - {name: y, after: [x], join: or, exec: {command: [x]}}\n",
			[]want{{4, `task "y" join: or needs at least two entries in after`}}},
		{"after into another list", "name: a\ntasks:\n  - {name: s, sequence: {tasks: [{name: in, exec: {command: [x]}}]}}\n  - {name: y, after: [in], exec: {command: [x]}}\n",
			[]want{{4, `task "y": after names task "in", which is in another task list`}}},
		{"duplicate across containers", "name: a\ntasks:\n  - {name: s, sequence: {tasks: [{name: s, exec: {command: [x]}}]}}\n",
			[]want{{3, `duplicate task name "s"`}}},
		{"when syntax", "name: a\ntasks:\n  - {name: x, when: 'param.n >', exec: {command: [x]}}\n",
			[]want{{3, `task "x" when: expression "param.n >" at character 9: unexpected token EOF`}}},
		{"undeclared var", "name: a\ntasks:\n  - {name: x, set: {y: '1'}}\n",
			[]want{{3, `task "x" set assigns variable "y", which is not declared in this scope`}}},
		{"loop var out of scope", "name: a\ntasks:\n  - {name: l, foreach: {var: f, items: [a], tasks: [{name: i, exec: {command: [x]}}]}}\n  - {name: y, exec: {command: ['${vars.f}']}}\n",
			[]want{{4, `task "y" exec command[0] references variable "f", which is not declared in this scope`}}},
		{"two sources", "name: a\ntasks:\n  - {name: l, foreach: {var: f, items: [a], files: '*', tasks: [{name: i, exec: {command: [x]}}]}}\n",
			[]want{{3, `needs exactly one source of items`}}},
		{"bad duration", "name: a\ntimeout: soon\ntasks:\n  - {name: x, exec: {command: [x]}}\n",
			[]want{{2, `package timeout "soon" is not a duration`}}},
		{"bad driver", "name: a\nconnections: {db: {driver: oracle, dsn: x}}\ntasks:\n  - {name: x, exec: {command: [x]}}\n",
			[]want{{2, `connection "db" has unknown driver "oracle"`}}},
		{"into without single_row", "name: a\nvariables: {v: {}}\ntasks:\n  - {name: x, sql: {connection: c, statement: s, into: [v]}}\n",
			[]want{{4, `into needs mode: single_row`}}},
		{"file op", "name: a\ntasks:\n  - {name: x, file: {op: shred, path: p}}\n",
			[]want{{3, `op must be one of copy, move, rename, delete, mkdir; not "shred"`}}},
		{"unknown task ref", "name: a\ntasks:\n  - {name: x, exec: {command: ['${tasks.nope.rows}']}}\n",
			[]want{{3, `references unknown task "nope"`}}},
		{"variable value type", "name: a\nvariables: {n: {type: int, value: abc}}\ntasks:\n  - {name: x, exec: {command: [x]}}\n",
			[]want{{2, `variable "n" value "abc" does not match type int`}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("p.yaml", []byte(tt.src))
			wantProblems(t, err, "p.yaml", tt.want)
		})
	}
}

func TestParseTemplate(t *testing.T) {
	env := map[string]any{"param": map[string]any{"who": "w"}, "vars": map[string]any{"m": map[string]any{"a": 1}}}
	tests := []struct{ in, want string }{
		{"plain $x $$ text", "plain $x $$ text"},
		{"hi ${param.who}!", "hi w!"},
		{"$${param.who}", "${param.who}"},
		{`${ {"k": "}"}.k }`, "}"},
		{"${vars.m.a + 1}${'{'}", "2{"},
	}
	for _, tt := range tests {
		tpl, err := ParseTemplate(tt.in)
		if err != nil {
			t.Errorf("ParseTemplate(%q): %v", tt.in, err)
			continue
		}
		got, err := tpl.Expand(func(e *Expr) (any, error) { return e.Eval(env) }, func(v any) string { return fmt.Sprint(v) })
		if err != nil || got != tt.want {
			t.Errorf("Expand(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"${param.who", "${'x}", "${}", "${HOME}"} {
		if _, err := ParseTemplate(bad); err == nil {
			t.Errorf("ParseTemplate(%q) accepted", bad)
		}
	}
}
