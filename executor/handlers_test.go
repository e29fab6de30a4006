//go:build unix

package executor

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// handlerPkg has handlers at task, container and package scope; each
// appends to trail, and the package's on_post_execute handler (which runs
// for every executable, last for the package itself) prints it.
const handlerPkg = `name: h
variables:
  trail: {}
  stop: {type: bool, value: '${param.stop}'}
parameters:
  stop: {type: bool, default: false}
handlers:
  on_error:
    - {name: pkg_err, set: {trail: 'vars.trail + "pkg:" + sys.source_name + ":" + string(sys.error_code) + ";"'}}
  on_task_failed:
    - {name: pkg_failed, set: {trail: 'vars.trail + "pkg-failed:" + sys.source_name + ";"'}}
  on_post_execute:
    - {name: show, exec: {command: [echo, '${vars.trail}']}}
tasks:
  - name: seq
    handlers:
      on_error:
        - name: seq_err
          set: {trail: 'vars.trail + "seq:" + sys.source_name + ";"', Propagate: '!vars.stop'}
    sequence:
      tasks:
        - name: load
          handlers:
            on_error:
              - {name: load_err, set: {trail: 'vars.trail + "load:" + sys.error_description + ";"'}}
            on_pre_execute:
              - {name: load_pre, set: {trail: 'vars.trail + "pre:" + sys.source_name + ";"'}}
          exec: {command: [sh, -c, 'exit 3']}
`

// A failing task raises OnError at the task, its container and the
// package, in that order, then OnTaskFailed (the container's failure too,
// without a second OnError); Propagate set to false in the container's
// handler stops the error there.
func TestRun_EventHandlers(t *testing.T) {
	for _, c := range []struct {
		stop string
		want string
	}{
		{"false", "pre:load;load:exit status 3;seq:load;pkg:load:3;pkg-failed:load;pkg-failed:seq;"},
		{"true", "pre:load;load:exit status 3;seq:load;pkg-failed:load;pkg-failed:seq;"},
	} {
		t.Run("stop="+c.stop, func(t *testing.T) {
			res, rec := runSrc(t, handlerPkg, map[string]string{"stop": c.stop}, Options{})
			if res.Status != StatusFailed {
				t.Fatalf("Run = %+v\n%s", res, rec)
			}
			out := rec.messages(EventStdout, "show")
			if len(out) == 0 || out[len(out)-1] != c.want {
				t.Errorf("trails printed %q, want the last %q\n%s", out, c.want, rec)
			}
			// on_post_execute at package scope runs for load, seq and the package.
			if len(out) != 3 {
				t.Errorf("show ran %d times, want 3: %q", len(out), out)
			}
			if stopped := rec.has(EventInformation, "load", `on_error: Propagate set to false by the handler of container "seq"`); stopped != (c.stop == "true") {
				t.Errorf("no Propagate event\n%s", rec)
			}
		})
	}
}

// Handlers in an SSIS package read System::SourceName, ErrorCode,
// ErrorDescription and set System::Propagate through the variable
// Propagate; a handler that fails is reported and does not change the
// task's outcome; OnWarning fires for each retried attempt.
func TestRun_EventHandlersSSIS(t *testing.T) {
	rec := runOK(t, `name: hs
expressions: ssis
variables:
  log: {}
handlers:
  on_warning:
    - {name: warn, set: {log: '@log + "warn(" + @[System::SourceName] + ");"'}}
  on_error:
    - {name: err, set: {log: '@log + "err(" + @[System::SourceName] + "," + (DT_WSTR, 5)@[System::ErrorCode] + ");"'}}
  on_post_execute:
    - {name: out, exec: {command: [echo, '${@[User::log]}']}}
tasks:
  - name: flaky
    retries: 1
    handlers:
      on_error:
        - {name: local, set: {log: '@log + "local(" + LEFT(@[System::ErrorDescription], 13) + ");"', Propagate: 'FALSE'}}
      on_post_execute:
        - {name: broken, exec: {command: ["false"]}}
    exec: {command: [sh, -c, 'exit 2']}
  - name: ok
    after: [{task: flaky, on: failure}]
    exec: {command: ["true"]}
`, nil, Options{})
	out := rec.messages(EventStdout, "out")
	if want := "warn(flaky);local(exit status 2);"; len(out) == 0 || out[len(out)-1] != want {
		t.Errorf("log printed %q, want the last %q\n%s", out, want, rec)
	}
	if !rec.has(EventError, "flaky", `on_post_execute handler of task "flaky" failed`) {
		t.Errorf("no error event for the failing handler\n%s", rec)
	}
	if got := rec.messages(EventPostExecute, "ok"); len(got) != 1 || !strings.HasPrefix(got[0], "succeeded") {
		t.Errorf("ok: %q", got)
	}
}

// A variable with raise_changed_event raises on_variable_value_changed
// when an assignment changes it (not when it keeps the value), also when
// the assigning task holds the only max_parallel slot.
func TestRun_VariableValueChanged(t *testing.T) {
	rec := runOK(t, `name: vc
max_parallel: 1
variables:
  counter: {type: int, raise_changed_event: true}
  quiet: {type: int}
  log: {}
handlers:
  on_variable_value_changed:
    - {name: note, set: {log: 'vars.log + sys.variable_name + "@" + sys.source_name + "=" + string(vars.counter) + ";"'}}
tasks:
  - {name: one, set: {counter: '1', quiet: '5'}}
  - {name: same, after: [one], set: {counter: '1'}}
  - {name: run, after: [same], result: counter, exec: {command: [sh, -c, 'exit 7'], success_codes: [7]}}
  - {name: show, after: [run], exec: {command: [echo, '${vars.log}']}}
`, nil, Options{})
	if got, want := rec.messages(EventStdout, "show"), "counter@one=1;counter@run=7;"; len(got) != 1 || got[0] != want {
		t.Errorf("log %q, want %q", got, want)
	}
}

// A child package's events reach the parent's handlers through the
// package task, as SSIS's do through the Execute Package task: the child's
// own handlers first, then the package task's, then the parent package's,
// with System::SourceName the child's task; a child handler setting
// Propagate to false stops the event in the child; the package task that
// fails because of the child's error raises no second on_error, and the
// child's on_pre_execute events reach the parent too.
func TestRun_ChildEventsReachParentHandlers(t *testing.T) {
	proj := t.TempDir()
	if err := os.MkdirAll(filepath.Join(proj, "packages"), 0o755); err != nil {
		t.Fatal(err)
	}
	child := `name: child
parameters: {quiet: {type: bool, default: false}}
handlers:
  on_error:
    - {name: child_err, set: {Propagate: '!param.quiet'}}
tasks:
  - {name: load, exec: {command: [sh, -c, 'exit 4']}}
`
	if err := os.WriteFile(filepath.Join(proj, "packages", "child.yaml"), []byte(child), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		quiet string
		want  string
	}{
		{"false", "pre:parent;pre:run;pre:child;pre:run/load;task:run/load:4;pkg:run/load:4;pre:show;"},
		{"true", "pre:parent;pre:run;pre:child;pre:run/load;pre:show;"},
	} {
		t.Run("quiet="+c.quiet, func(t *testing.T) {
			res, rec := runSrc(t, `name: parent
variables:
  trail: {}
handlers:
  on_pre_execute:
    - {name: pkg_pre, set: {trail: 'vars.trail + "pre:" + sys.source_name + ";"'}}
  on_error:
    - {name: pkg_err, set: {trail: 'vars.trail + "pkg:" + sys.source_name + ":" + string(sys.error_code) + ";"'}}
tasks:
  - name: run
    handlers:
      on_error:
        - {name: run_err, set: {trail: 'vars.trail + "task:" + sys.source_name + ":" + string(sys.error_code) + ";"'}}
    package: {name: child, params: {quiet: '`+c.quiet+`'}}
  - {name: show, after: [{task: run, on: completion}], exec: {command: [echo, '${vars.trail}']}}
`, nil, Options{ProjectDir: proj, WorkDir: t.TempDir()})
			if res.Status != StatusFailed {
				t.Fatalf("Run = %+v\n%s", res, rec)
			}
			// pre: the parent package, the package task, the child
			// package, the child's task, show; one error each at the
			// package task and the parent package (no second on_error
			// for the package task's own failure).
			if out := rec.messages(EventStdout, "show"); len(out) != 1 || out[0] != c.want {
				t.Errorf("trail printed %q, want %q\n%s", out, c.want, rec)
			}
		})
	}
}

// A failure forced to success (SSIS's ForceExecutionResult) still raised
// its error: on_error runs with its code and message, on_task_failed and
// on_warning do not, and the package succeeds.
func TestRun_ForcedSuccessRaisesOnError(t *testing.T) {
	rec := runOK(t, `name: f
variables:
  trail: {}
handlers:
  on_error:
    - {name: err, set: {trail: 'vars.trail + "err:" + sys.source_name + ":" + string(sys.error_code) + ":" + sys.error_description + ";"'}}
  on_warning:
    - {name: warn, set: {trail: 'vars.trail + "warn:" + sys.source_name + ";"'}}
  on_task_failed:
    - {name: failed, set: {trail: 'vars.trail + "failed:" + sys.source_name + ";"'}}
tasks:
  - {name: flaky, force_result: success, exec: {command: [sh, -c, 'exit 3']}}
  - {name: show, after: [flaky], exec: {command: [echo, '${vars.trail}']}}
`, nil, Options{})
	if out := rec.messages(EventStdout, "show"); len(out) != 1 || out[0] != "err:flaky:3:exit status 3;" {
		t.Errorf("trail printed %q, want %q\n%s", out, "err:flaky:3:exit status 3;", rec)
	}
	if !rec.has(EventWarning, "flaky", "force_result: success makes it succeed") {
		t.Errorf("no warning event\n%s", rec)
	}
}
