package pkgspec

import "testing"

func TestParse_Handlers(t *testing.T) {
	pkg, err := Parse("h.yaml", []byte(`name: h
variables: {n: {type: int}}
handlers:
  on_error: [{name: p1, set: {Propagate: 'false', n: 'vars.n + sys.error_code'}}]
tasks:
  - name: s
    handlers:
      on_pre_execute: [{name: s1, exec: {command: [echo, '${sys.source_name}']}}]
    sequence:
      tasks:
        - name: a
          handlers: {on_task_failed: [{name: a1, exec: {command: ["true"]}}, {name: a2, after: [a1], exec: {command: ["true"]}}]}
          exec: {command: ["true"]}
`))
	if err != nil {
		t.Fatal(err)
	}
	if len(pkg.Handlers[OnError]) != 1 || len(pkg.Tasks[0].Handlers[OnPreExecute]) != 1 || pkg.Task("a2") == nil || !pkg.HasHandlers() {
		t.Fatalf("handlers not parsed: %+v", pkg.Handlers)
	}
	_, err = Parse("bad.yaml", []byte(`name: bad
expressions: ssis
variables: {n: {type: int}}
handlers:
  on_crash: [{name: x, exec: {command: ["true"]}}]
  on_warning: []
tasks:
  - name: a
    handlers:
      on_error:
        - {name: a, exec: {command: ["true"]}}
        - {name: b, after: [zz], exec: {command: ["true"]}}
    exec: {command: ["true"]}
  - {name: c, set: {Propagate: 'FALSE'}}
  - {name: d, when: '@[System::Propagate]', exec: {command: ["true"]}}
`))
	wantProblems(t, err, "bad.yaml", []want{
		{5, `package handlers: unknown event "on_crash" (want one of: on_error, on_warning, on_pre_execute, on_post_execute, on_task_failed, on_variable_value_changed)`},
		{6, `package handlers on_warning has no tasks`},
		{11, `duplicate task name "a" (lines 8 and 11)`},
		{12, `task "b": after names unknown task "zz"`},
		{14, `task "c" set assigns variable "Propagate", which is not declared in this scope`},
		{15, `task "d" when: expression "@[System::Propagate]" at character 1: @[System::Propagate] exists only in event handlers`},
	})
}
