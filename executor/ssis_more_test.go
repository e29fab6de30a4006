//go:build unix

package executor

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/scaleout/scaleout/catalog/pkgspec"
)

// Under expressions: ssis the loop variable of a foreach over files or
// items is a DT_WSTR that expressions read, and a loop variable declared
// with a type receives each item converted to that type.
func TestRun_SSISForEachLoopVariables(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"a.csv", "bb.csv", "skip.txt"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	res, rec := runSrc(t, `name: p
expressions: ssis
allow_paths: [`+dir+`]
variables:
  names: {}
  total: {type: int, value: '0'}
tasks:
  - name: files
    foreach:
      var: f
      files: '`+dir+`/*.csv'
      tasks:
        - {name: m, set: {names: '@names + TOKEN(@[User::f], "/", TOKENCOUNT(@[User::f], "/")) + ";"'}}
  - name: typed
    after: [files]
    foreach:
      var: n
      variables: {n: {type: int}}
      items: ['1', '${"2" + "0"}', ' 300']
      tasks:
        - {name: add, set: {total: '@total + @n'}}
  - name: show
    after: [typed]
    exec: {command: [echo, '${@names + (DT_WSTR, 10)@total}']}
`, nil, Options{PermittedPaths: []string{dir}})
	if res.Status != StatusSucceeded {
		t.Fatalf("Run = %+v\n%s", res, rec)
	}
	if got := rec.messages(EventStdout, "show"); !slices.Equal(got, []string{"a.csv;bb.csv;321"}) {
		t.Errorf("show stdout = %q\n%s", got, rec)
	}

	// An item that does not convert to the declared type fails the loop,
	// naming the iteration, the item and the variable.
	res, rec = runSrc(t, `name: p
expressions: ssis
variables: {total: {type: int}}
tasks:
  - name: typed
    foreach:
      var: n
      variables: {n: {type: int}}
      items: ['1', 'two']
      tasks:
        - {name: add, set: {total: '@total + @n'}}
`, nil, Options{})
	if res.Status != StatusFailed || !strings.Contains(res.Message, `iteration 2 of 2: item two: loop variable "n" (int): cannot convert`) {
		t.Fatalf("Run = %+v\n%s", res, rec)
	}
	if got := rec.of(EventPreExecute, "add"); len(got) != 1 {
		t.Errorf("add ran %d times, want once (before the bad item)", len(got))
	}
}

// A statement_expression computes the SQL when the task runs, and exec
// arguments is a command line split after expansion as Windows does:
// the fields SSIS property expressions on SqlStatementSource and
// Arguments are converted onto.
func TestRun_StatementExpressionAndArguments(t *testing.T) {
	work := t.TempDir()
	res, rec := runSrc(t, `name: p
expressions: ssis
connections: {db: {driver: sqlite, database: x.db}}
variables:
  table: {value: runs}
  label: {value: 'a "quoted" word'}
  out: {}
tasks:
  - name: make
    sql: {connection: db, statement_expression: '"CREATE TABLE " + @table + " (label TEXT)"'}
  - name: add
    after: [make]
    sql: {connection: db, statement_expression: '"INSERT INTO " + @table + " VALUES (?)"', params: ['${@label}']}
  - name: count
    after: [add]
    result: out
    sql: {connection: db, statement: 'SELECT label FROM runs', mode: single_row}
  - name: show
    after: [count]
    exec:
      command: [printf, '%s|']
      arguments: '${"one \"two three\" " + REPLACE(@out, "\"", "\\\"")}'
`, nil, Options{WorkDir: work})
	if res.Status != StatusSucceeded {
		t.Fatalf("Run = %+v\n%s", res, rec)
	}
	rec.wantStdout(t, "show", `one|two three|a|"quoted"|word|`)

	res, rec = runSrc(t, `name: p
expressions: ssis
connections: {db: {driver: sqlite, database: x.db}}
tasks:
  - name: bad
    sql: {connection: db, statement_expression: 'LEN("x") + 1'}
`, nil, Options{WorkDir: work})
	if res.Status != StatusFailed || !strings.Contains(res.Message, `sql statement_expression "LEN(\"x\") + 1" gives`) {
		t.Errorf("Run = %+v\n%s", res, rec)
	}
}

// force_result replaces a task's outcome after it ran: a failure forced to
// success lets its successors run and the package succeed (with a
// warning); a success forced to failure takes the failure path.
func TestRun_ForceResult(t *testing.T) {
	rec := runOK(t, `name: p
tasks:
  - {name: flaky, force_result: success, exec: {command: ["false"]}}
  - {name: next, after: [flaky], exec: {command: [echo, ran]}}
  - {name: fine, force_result: failure, exec: {command: ["true"]}}
  - {name: on_fail, after: [{task: fine, on: failure}], exec: {command: [echo, handled]}}
  - {name: on_ok, after: [fine], exec: {command: [echo, never]}}
`, nil, Options{})
	rec.wantStdout(t, "next", "ran")
	rec.wantStdout(t, "on_fail", "handled")
	rec.wantSkipped(t, "on_ok")
	if !rec.has(EventWarning, "flaky", "force_result: success makes it succeed") || !rec.has(EventPostExecute, "fine", "forced to fail (force_result: failure)") {
		t.Errorf("events:\n%s", rec)
	}
	if _, err := pkgspec.Parse("p.yaml", []byte("name: p\ntasks:\n  - {name: a, force_result: completion, exec: {command: [x]}}\n")); err == nil || !strings.Contains(err.Error(), `force_result`) {
		t.Errorf("force_result completion: %v", err)
	}
}

// max_errors tolerates fewer unhandled failures than its value, in the
// package and in a container; reaching it fails as usual.
func TestRun_MaxErrors(t *testing.T) {
	res, rec := runSrc(t, `name: p
max_errors: 3
tasks:
  - {name: a, exec: {command: ["false"]}}
  - name: grp
    sequence:
      max_errors: 2
      tasks:
        - {name: b, exec: {command: ["false"]}}
        - {name: c, exec: {command: [echo, c]}}
  - {name: d, after: [grp], exec: {command: [echo, d]}}
`, nil, Options{})
	if res.Status != StatusSucceeded || !strings.Contains(res.Message, `task "a" failed: exit status 1 (tolerated: max_errors 3)`) {
		t.Fatalf("Run = %+v\n%s", res, rec)
	}
	if got := rec.messages(EventStdout, "d"); !slices.Equal(got, []string{"d"}) {
		t.Errorf("d ran after the tolerated failure in grp: %q\n%s", got, rec)
	}
	res, rec = runSrc(t, `name: p
max_errors: 2
tasks:
  - {name: a, exec: {command: ["false"]}}
  - {name: b, exec: {command: ["false"]}}
`, nil, Options{})
	if res.Status != StatusFailed || !strings.Contains(res.Message, `task "a" failed`) || !strings.Contains(res.Message, `task "b" failed`) {
		t.Errorf("two failures with max_errors 2: %+v\n%s", res, rec)
	}
}

// fail_parent fails the task's list although a failure constraint handles
// the failure and max_errors would tolerate it; fail_package fails the
// package although the failure is handled. Without the two fields the same
// package succeeds.
func TestRun_FailParentAndFailPackage(t *testing.T) {
	const src = `name: p
max_errors: 5
tasks:
  - name: seq
    sequence:
      max_errors: 3
      tasks:
        - {name: a, FP_A exec: {command: [sh, -c, 'exit 2']}}
        - {name: a_fix, after: [{task: a, on: failure}], exec: {command: [echo, a handled]}}
  - {name: b, after: [{task: seq, on: completion}], FP_B exec: {command: ["false"]}}
  - {name: b_fix, after: [{task: b, on: failure}], exec: {command: [echo, b handled]}}
`
	plain := strings.NewReplacer("FP_A ", "", "FP_B ", "").Replace(src)
	if res, rec := runSrc(t, plain, nil, Options{}); res.Status != StatusSucceeded || !rec.has(EventPostExecute, "seq", "succeeded") {
		t.Fatalf("without the fields: %+v\n%s", res, rec)
	}
	forced := strings.NewReplacer("FP_A ", "fail_parent: true, ", "FP_B ", "fail_package: true, ").Replace(src)
	res, rec := runSrc(t, forced, nil, Options{})
	if res.Status != StatusFailed || !strings.HasPrefix(res.Message, `task "b" failed (fail_package): exit status 1; `) ||
		!strings.Contains(res.Message, `task "seq" failed: task "a" failed: exit status 2 (tolerated: max_errors 5)`) {
		t.Fatalf("Run = %+v\n%s", res, rec)
	}
	if !rec.has(EventTaskFailed, "seq", `task "a" failed: exit status 2`) {
		t.Errorf("seq did not fail\n%s", rec)
	}
	for task, want := range map[string]string{"a_fix": "a handled", "b_fix": "b handled"} {
		if got := rec.messages(EventStdout, task); !slices.Equal(got, []string{want}) {
			t.Errorf("%s stdout = %q\n%s", task, got, rec)
		}
	}
	if _, err := pkgspec.Parse("p.yaml", []byte("name: p\ntasks:\n  - {name: a, fail_parent: maybe, exec: {command: [x]}}\n")); err == nil || !strings.Contains(err.Error(), "fail_parent") {
		t.Errorf("fail_parent: maybe: %v", err)
	}
}
