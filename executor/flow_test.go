//go:build unix

package executor

import (
	"context"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/scaleout/scaleout/catalog/pkgspec"
)

// runSrc parses and runs src with opts and returns the result and events.
func runSrc(t *testing.T, src string, params map[string]string, opts Options) (Result, *recorder) {
	t.Helper()
	rec := &recorder{}
	res := Run(context.Background(), mustParse(t, src), params, opts, rec)
	return res, rec
}

// runOK is runSrc for a package that must succeed: it ends the test with
// the result and the events otherwise.
func runOK(t *testing.T, src string, params map[string]string, opts Options) *recorder {
	t.Helper()
	res, rec := runSrc(t, src, params, opts)
	if res.Status != StatusSucceeded {
		t.Fatalf("Run = %+v\n%s", res, rec)
	}
	return rec
}

// started returns the tasks that have a pre_execute event, sorted.
func (r *recorder) started() []string {
	var out []string
	for _, e := range r.of(EventPreExecute, "*") {
		out = append(out, e.Task)
	}
	sort.Strings(out)
	return out
}

// skipped returns the tasks whose post_execute says skipped, sorted.
func (r *recorder) skipped() []string {
	var out []string
	for _, e := range r.of(EventPostExecute, "*") {
		if strings.HasPrefix(e.Message, "skipped") {
			out = append(out, e.Task)
		}
	}
	sort.Strings(out)
	return out
}

func TestRun_Constraints(t *testing.T) {
	const ok, fail = `exec: {command: ["true"]}`, `exec: {command: ["false"]}`
	tests := []struct {
		name    string
		tasks   string
		status  Status
		ran     []string
		skipped []string
		msg     string // substring of the result message
	}{
		{"success runs on success", `
  - {name: a, ` + ok + `}
  - {name: b, after: [a], ` + ok + `}`, StatusSucceeded, []string{"a", "b"}, nil, "2 tasks succeeded"},
		{"success skipped on failure", `
  - {name: a, ` + fail + `}
  - {name: b, after: [a], ` + ok + `}`, StatusFailed, []string{"a"}, []string{"b"}, `task "a" failed: exit status 1; 1 task skipped`},
		{"failure branch handles the failure", `
  - {name: a, ` + fail + `}
  - {name: cleanup, after: [{task: a, on: failure}], ` + ok + `}`, StatusSucceeded, []string{"a", "cleanup"}, nil, `task "a" failed (handled by "cleanup")`},
		{"failure branch skipped on success", `
  - {name: a, ` + ok + `}
  - {name: cleanup, after: [{task: a, on: failure}], ` + ok + `}`, StatusSucceeded, []string{"a"}, []string{"cleanup"}, "1 task succeeded; 1 task skipped"},
		{"completion runs either way but does not handle", `
  - {name: a, ` + fail + `}
  - {name: cleanup, after: [{task: a, on: completion}], ` + ok + `}`, StatusFailed, []string{"a", "cleanup"}, nil, `task "a" failed: exit status 1`},
		{"completion after success", `
  - {name: a, ` + ok + `}
  - {name: b, after: [{task: a, on: completion}], ` + ok + `}`, StatusSucceeded, []string{"a", "b"}, nil, "2 tasks succeeded"},
		{"failing handler fails the package", `
  - {name: a, ` + fail + `}
  - {name: cleanup, after: [{task: a, on: failure}], ` + fail + `}`, StatusFailed, []string{"a", "cleanup"}, nil, `task "cleanup" failed`},
		{"failure branch with false when does not handle", `
  - {name: a, ` + fail + `}
  - {name: cleanup, after: [{task: a, on: failure, when: 'tasks.a.exit_code == 2'}], ` + ok + `}`, StatusFailed, []string{"a"}, []string{"cleanup"}, `task "a" failed: exit status 1`},
		{"when on success constraint reads the result", `
  - {name: a, exec: {command: [sh, -c, 'exit 3'], success_codes: [0, 3]}}
  - {name: b, after: [{task: a, when: 'tasks.a.exit_code == 3'}], ` + ok + `}
  - {name: c, after: [{task: a, when: 'tasks.a.exit_code == 0'}], ` + ok + `}`, StatusSucceeded, []string{"a", "b"}, []string{"c"}, ""},
		{"and needs all", `
  - {name: a, ` + ok + `}
  - {name: b, ` + fail + `}
  - {name: c, after: [{task: a}, {task: b, on: failure}], ` + ok + `}
  - {name: d, after: [a, b], ` + ok + `}`, StatusSucceeded, []string{"a", "b", "c"}, []string{"d"}, `task "b" failed (handled by "c")`},
		{"or needs one", `
  - {name: a, ` + ok + `}
  - {name: b, ` + fail + `}
  - {name: c, after: [a, b], join: or, ` + ok + `}
  - {name: d, after: [{task: a, on: failure}, b], join: or, ` + ok + `}`, StatusFailed, []string{"a", "b", "c"}, []string{"d"}, `task "b" failed`},
		{"skip propagates through every kind", `
  - {name: a, ` + fail + `}
  - {name: b, after: [a], ` + ok + `}
  - {name: c, after: [{task: b, on: completion}], ` + ok + `}
  - {name: d, after: [{task: c, on: failure}], ` + ok + `}`, StatusFailed, []string{"a"}, []string{"b", "c", "d"}, "3 tasks skipped"},
		{"task when false skips", `
  - {name: a, when: 'param.n > 5', ` + ok + `}
  - {name: b, after: [a], ` + ok + `}
  - {name: c, when: 'param.n < 5', ` + ok + `}`, StatusSucceeded, []string{"c"}, []string{"a", "b"}, "1 task succeeded; 2 tasks skipped"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, rec := runSrc(t, "name: p\nparameters: {n: {type: int, default: 3}}\ntasks:"+tt.tasks+"\n", nil, Options{})
			if res.Status != tt.status || !strings.Contains(res.Message, tt.msg) {
				t.Errorf("Run = %+v, want %s containing %q\n%s", res, tt.status, tt.msg, rec)
			}
			if got := rec.started(); !slices.Equal(got, tt.ran) {
				t.Errorf("started %v, want %v\n%s", got, tt.ran, rec)
			}
			if got := rec.skipped(); !slices.Equal(got, tt.skipped) {
				t.Errorf("skipped %v, want %v\n%s", got, tt.skipped, rec)
			}
		})
	}
}

func TestRun_ConstraintMessages(t *testing.T) {
	_, rec := runSrc(t, `name: p
tasks:
  - {name: a, exec: {command: ["true"]}}
  - {name: b, after: [{task: a, on: failure}], exec: {command: ["true"]}}
  - {name: c, after: [{task: a, when: 'tasks.a.exit_code != 0'}], exec: {command: ["true"]}}
`, nil, Options{})
	want := map[string]string{
		"b": `skipped: dependency "a" succeeded (constraint on failure)`,
		"c": `skipped: dependency "a": when "tasks.a.exit_code != 0" is false`,
	}
	for task, msg := range want {
		if got := rec.messages(EventPostExecute, task); !slices.Equal(got, []string{msg}) {
			t.Errorf("%s post_execute = %q, want %q", task, got, msg)
		}
	}
}

func TestRun_ExpressionErrors(t *testing.T) {
	tests := []struct {
		name, tasks, msg string
	}{
		{"runtime error in when", `
  - {name: a, when: 'vars.s + 1 > 2', exec: {command: ["true"]}}`, `task "a" failed: when: expression "vars.s + 1 > 2"`},
		{"when not a bool", `
  - {name: a, when: 'vars.s', exec: {command: ["true"]}}`, `when: expression "vars.s" is string "x", not true or false`},
		{"runtime error in a constraint fails the task", `
  - {name: z, exec: {command: ["true"]}}
  - {name: a, after: [{task: z, when: 'vars.s * 2 > 1'}], exec: {command: ["true"]}}`, `task "a" failed: after "z" when: expression "vars.s * 2 > 1"`},
		{"runtime error in a template", `
  - {name: a, exec: {command: [echo, 'n=${vars.s / 2}']}}`, `task "a" failed: exec command[1]: expression "vars.s / 2" at character`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, rec := runSrc(t, "name: p\nvariables: {s: {value: x}}\ntasks:"+tt.tasks+"\n", nil, Options{})
			if res.Status != StatusFailed || !strings.Contains(res.Message, tt.msg) {
				t.Errorf("Run = %+v, want failed containing %q\n%s", res, tt.msg, rec)
			}
			if !rec.has(EventTaskFailed, "a", tt.msg[strings.Index(tt.msg, ": ")+2:]) {
				t.Errorf("no task_failed event for a\n%s", rec)
			}
		})
	}
}

func TestRun_VariablesAndSet(t *testing.T) {
	res, rec := runSrc(t, `name: vars
parameters:
  who: {default: world}
variables:
  count: {type: int, value: 1}
  greeting: {value: 'hello ${param.who}'}
  out: {}
  when: {type: datetime, value: '2026-01-02T03:04:05Z'}
tasks:
  - name: inc
    set: {count: 'vars.count + 41', greeting: 'upper(vars.greeting)'}
  - name: show
    after: [inc]
    exec:
      command: [echo, '${vars.greeting} ${vars.count} ${formatDate(vars.when, "2006-01-02")} ${basename("/a/b.csv")} ${stem("x/y.tar")}']
      capture: out
  - name: check
    after: [show]
    when: 'vars.out == "HELLO WORLD 42 2026-01-02 b.csv y" && tasks.show.exit_code == 0'
    set: {count: '"7"'}
  - name: typed
    after: [check]
    when: 'vars.count == 7'
    exec: {command: ["true"]}
`, nil, Options{})
	if res.Status != StatusSucceeded || res.Message != "4 tasks succeeded" {
		t.Fatalf("Run = %+v\n%s", res, rec)
	}
	rec.wantStdout(t, "show", "HELLO WORLD 42 2026-01-02 b.csv y")
}

func TestRun_SetTypeError(t *testing.T) {
	res, rec := runSrc(t, `name: p
variables: {n: {type: int}}
tasks:
  - {name: s, set: {n: '"abc"'}}
`, nil, Options{})
	if res.Status != StatusFailed || !strings.Contains(res.Message, `set n: variable "n" (int): cannot convert string "abc" to int`) {
		t.Errorf("Run = %+v\n%s", res, rec)
	}
}

func TestRun_LoggingLevels(t *testing.T) {
	src := `name: p
parameters: {pw: {default: hunter22, sensitive: true}}
tasks:
  - {name: a, exec: {command: [sh, -c, 'echo pw=$0; echo err >&2', '${param.pw}']}}
  - {name: b, after: [a], exec: {command: ["false"]}}
  - {name: c, after: [{task: a, when: 'true'}], exec: {command: ["true"]}}
`
	tests := []struct {
		level string
		want  []string // event types present
		not   []string // event types absent
	}{
		{pkgspec.LoggingNone, []string{EventError, EventTaskFailed}, []string{EventPreExecute, EventPostExecute, EventStdout, EventInformation, EventDiagnostic}},
		{pkgspec.LoggingBasic, []string{EventPreExecute, EventPostExecute, EventStdout, EventStderr, EventInformation, EventError, EventTaskFailed}, []string{EventDiagnostic}},
		{pkgspec.LoggingPerformance, []string{EventPostExecute, EventError, EventTaskFailed}, []string{EventPreExecute, EventStdout, EventInformation, EventDiagnostic}},
		{pkgspec.LoggingVerbose, []string{EventPreExecute, EventPostExecute, EventStdout, EventInformation, EventDiagnostic}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.level, func(t *testing.T) {
			res, rec := runSrc(t, src, nil, Options{LoggingLevel: tt.level})
			if res.Status != StatusFailed {
				t.Errorf("Run = %+v", res)
			}
			for _, typ := range tt.want {
				if len(rec.of(typ, "*")) == 0 {
					t.Errorf("no %s event at level %s\n%s", typ, tt.level, rec)
				}
			}
			for _, typ := range tt.not {
				if n := len(rec.of(typ, "*")); n > 0 {
					t.Errorf("%d %s events at level %s", n, typ, tt.level)
				}
			}
			for _, e := range rec.all() {
				if strings.Contains(e.Message, "hunter22") {
					t.Errorf("sensitive value in event %+v", e)
				}
			}
		})
	}
	if res, _ := runSrc(t, src, nil, Options{LoggingLevel: "loud"}); res.Status != StatusFailed || !strings.Contains(res.Message, `invalid logging level "loud"`) {
		t.Errorf("Run with bad level = %+v", res)
	}
}

func TestRun_SecretsMaskedInOutput(t *testing.T) {
	_, rec := runSrc(t, `name: p
tasks:
  - {name: a, exec: {command: [sh, -c, 'echo token=s3cr3t-value']}}
`, nil, Options{Secrets: []string{"s3cr3t-value", "x"}})
	if got := rec.messages(EventStdout, "a"); !slices.Equal(got, []string{"token=" + Masked}) {
		t.Errorf("stdout = %q", got)
	}
}
