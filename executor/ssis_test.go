//go:build unix

package executor

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/scaleout/scaleout/catalog/pkgspec"
	"github.com/scaleout/scaleout/catalog/pkgspec/pkgspectest"
)

// A package with expressions: ssis runs its templates, set, when and
// loop expressions in the SSIS language, with SSIS's typing (integer
// division, casts) and names mapped onto parameters, variables and sys.
func TestRun_SSISExpressions(t *testing.T) {
	rec := runOK(t, `name: ssis
expressions: ssis
parameters:
  who: {default: world}
  n: {type: int, default: 5}
variables:
  count: {type: int, value: '${@[$Package::n] * 2}'}
  greeting: {value: '${"hello " + @[$Project::who]}'}
  half: {type: int}
  ratio: {type: float}
  out: {}
  day: {type: datetime, value: '2026-01-02T03:04:05Z'}
  total: {type: int}
tasks:
  - name: inc
    set: {count: '@[User::count] + 32', half: '@[User::count] / 4', ratio: '(DT_R8)@count / 4', greeting: 'UPPER(@[User::greeting])'}
  - name: show
    after: [inc]
    exec:
      command: [echo, '${@[User::greeting]} ${(DT_WSTR, 10)@count} ${@half} ${@ratio} ${(DT_WSTR, 4)YEAR(@[User::day])} ${DATEPART("mm", DATEADD("month", 1, @day))} ${@[System::PackageName]}/${@[System::TaskName]}']
      capture: out
  - name: check
    after: [show]
    when: '@[User::out] == "HELLO WORLD 42 10 10.5 2026 2 ssis/show" && LEN(@[System::MachineName]) > 0 && LEN(@[System::UserName]) > 0 && LEN(@[System::ExecutionInstanceGUID]) == 38 && @[System::ContainerStartTime] >= @[System::StartTime]'
    exec: {command: ["true"]}
  - name: loop
    after: [check]
    for:
      variables: {i: {type: int}}
      init: {i: '0'}
      condition: '@i < 4'
      step: {i: '@i + 1'}
      tasks:
        - {name: body, set: {total: '@total + @i * 10'}}
  - name: summed
    after: [loop]
    when: '@total == 60 && @[$Package::n] % 2 == 1'
    exec: {command: [echo, '${(DT_WSTR, 5)@total}']}
  - name: never
    after: [loop]
    when: '@total != 60'
    exec: {command: ["false"]}
`, nil, Options{})
	rec.wantStdout(t, "show", "HELLO WORLD 42 10 10.5 2026 2 ssis/show")
	rec.wantStdout(t, "summed", "60")
	rec.wantSkipped(t, "never")
}

// Run-time SSIS errors (a failing cast, divide by zero) fail the task
// with the field and the character position.
func TestRun_SSISExpressionErrors(t *testing.T) {
	res, rec := runSrc(t, `name: ssis
expressions: ssis
parameters:
  code: {default: "12x"}
  zero: {type: int, default: 0}
variables: {n: {type: int}}
tasks:
  - {name: cast, set: {n: '(DT_I4)@[$Package::code]'}}
  - {name: div, set: {n: '10 / @[$Package::zero]'}}
`, nil, Options{})
	if res.Status != StatusFailed {
		t.Fatalf("Run = %+v\n%s", res, rec)
	}
	for task, want := range map[string]string{
		"cast": `at character 1: cannot convert "12x" to an integer`,
		"div":  "at character 4: divide by zero",
	} {
		msgs := rec.messages(EventPostExecute, task)
		if len(msgs) == 0 || !strings.Contains(strings.Join(msgs, "\n"), want) {
			t.Errorf("task %s: post_execute %q, want it to contain %q\n%s", task, msgs, want, rec)
		}
	}
}

// Derived Column and Conditional Split expressions of a package with
// expressions: ssis are SSIS expressions over the columns (NULLs,
// integer division, DATEPART, REPLACENULL, variables and parameters).
func TestRun_SSISDataFlow(t *testing.T) {
	work := t.TempDir()
	pkgspectest.WriteFiles(t, work, map[string]string{
		"in.csv": "id,name,amount,day\n1,alice,10.50,2026-01-05\n2,bob,600.00,2026-02-10\n3,carol,,2026-03-15\n4,dave,0.10,2026-04-20\n5,eve,900.99,2026-05-01\n",
	})
	runOK(t, `name: df
expressions: ssis
parameters:
  limit: {type: int, default: 500}
variables:
  tag: {value: big}
tasks:
  - name: load
    dataflow:
      components:
        - name: src
          flat_file_source:
            path: in.csv
            columns:
              - {name: id, type: DT_I4}
              - {name: name, type: 'DT_WSTR(20)'}
              - {name: amount, type: 'DT_NUMERIC(10,2)'}
              - {name: day, type: DT_DBDATE}
        - name: d
          derived_column:
            input: src
            columns:
              - {name: label, expression: 'UPPER(SUBSTRING(name, 1, 3)) + "-" + (DT_WSTR, 10)id'}
              - {name: half, expression: 'id / 2'}
              - {name: month, expression: 'DATEPART("mm", day)'}
              - {name: amt, expression: 'REPLACENULL(amount, 0) * 2'}
              - {name: flag, expression: 'ISNULL(amount) ? "none" : @[User::tag]'}
        - name: split
          conditional_split:
            input: d
            cases:
              - {output: large, condition: 'amount > @[$Package::limit]'}
              - {output: nulls, condition: 'ISNULL(amount)'}
        - name: out_large
          json_destination: {input: split.large, path: large.jsonl}
        - name: out_rest
          json_destination: {input: split.default, path: rest.jsonl}
        - name: out_nulls
          json_destination: {input: split.nulls, path: nulls.jsonl}
`, nil, Options{WorkDir: work})
	for file, want := range map[string][]string{
		"large.jsonl": {
			`{"id":2,"name":"bob","amount":600.00,"day":"2026-02-10T00:00:00Z","label":"BOB-2","half":1,"month":2,"amt":1200.00,"flag":"big"}`,
			`{"id":5,"name":"eve","amount":900.99,"day":"2026-05-01T00:00:00Z","label":"EVE-5","half":2,"month":5,"amt":1801.98,"flag":"big"}`,
		},
		"rest.jsonl": {
			`{"id":1,"name":"alice","amount":10.50,"day":"2026-01-05T00:00:00Z","label":"ALI-1","half":0,"month":1,"amt":21.00,"flag":"big"}`,
			`{"id":4,"name":"dave","amount":0.10,"day":"2026-04-20T00:00:00Z","label":"DAV-4","half":2,"month":4,"amt":0.20,"flag":"big"}`,
		},
		"nulls.jsonl": {
			`{"id":3,"name":"carol","amount":null,"day":"2026-03-15T00:00:00Z","label":"CAR-3","half":1,"month":3,"amt":0.00,"flag":"none"}`,
		},
	} {
		if got := fileLines(t, filepath.Join(work, file)); !slices.Equal(got, want) {
			t.Errorf("%s:\n%s\nwant:\n%s", file, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
}

// A variable with an expression (SSIS's EvaluateAsExpression) is
// evaluated every time it is read: inside a loop it follows the loop
// variable, and it may build on expression variables declared before it.
func TestRun_ExpressionVariables(t *testing.T) {
	for _, c := range []struct{ lang, path, full, loopVar, body string }{
		{"ssis", `'@[User::folder] + "/f" + (DT_WSTR, 5)@[User::i] + ".csv"'`, `'UPPER(@path)'`, "i", "${@[User::full]}"},
		{"native", `'vars.folder + "/f" + string(vars.i) + ".csv"'`, `'upper(vars.path)'`, "i", "${vars.full}"},
	} {
		t.Run(c.lang, func(t *testing.T) {
			rec := runOK(t, `name: ev
expressions: `+c.lang+`
variables:
  folder: {value: /data}
  i: {type: int}
  path: {expression: `+c.path+`}
  full: {expression: `+c.full+`}
tasks:
  - name: loop
    for:
      init: {i: '1'}
      condition: '`+map[string]string{"ssis": "@i <= 2", "native": "vars.i <= 2"}[c.lang]+`'
      step: {i: '`+map[string]string{"ssis": "@i + 1", "native": "vars.i + 1"}[c.lang]+`'}
      tasks:
        - {name: show, exec: {command: [echo, '`+c.body+`']}}
`, nil, Options{})
			if got := rec.messages(EventStdout, "show"); !slices.Equal(got, []string{"/DATA/F1.CSV", "/DATA/F2.CSV"}) {
				t.Errorf("show printed %q", got)
			}
		})
	}
}

// testdata/ssis-sample.yaml: a Foreach over files whose Data Flow writes
// to a path from an expression variable that follows the loop variable;
// the file that fails raises OnError, handled on the loop, and stops it.
func TestRun_SSISSample(t *testing.T) {
	pkg, err := pkgspec.ParseFile("../testdata/ssis-sample.yaml")
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	inbox := filepath.Join(work, "inbox")
	pkgspectest.WriteFiles(t, inbox, map[string]string{
		"a.csv": "id,amount\n1,50.00\n2,150.50\n",
		"b.csv": "id,amount\n3,100.00\n4,99.99\n",
		"c.csv": "id,amount\nx,1.00\n",
	})
	rec := &recorder{}
	res := Run(context.Background(), pkg, map[string]string{"inbox": inbox}, Options{WorkDir: work}, rec)
	if res.Status != StatusFailed || !strings.Contains(res.Message, "iteration 3 of 3") {
		t.Fatalf("Run = %+v\n%s", res, rec)
	}
	for file, want := range map[string]string{
		"a.csv.big.jsonl": `{"id":2,"amount":150.50,"band":"big","cents":15050}`,
		"b.csv.big.jsonl": `{"id":3,"amount":100.00,"band":"big","cents":10000}`,
	} {
		if got := fileLines(t, filepath.Join(inbox, file)); !slices.Equal(got, []string{want}) {
			t.Errorf("%s = %q, want %q", file, got, want)
		}
	}
	out := rec.messages(EventStdout, "report")
	if want := "1 error(s): split failed on c.csv;"; len(out) == 0 || out[len(out)-1] != want {
		t.Errorf("report printed %q, want the last %q", out, want)
	}
}

// The run's execution id and attempt reach expressions (sys.execution_id,
// sys.attempt, @[System::ServerExecutionID]) and the tasks' environment is
// the caller's (the worker adds SCALEOUT_EXECUTION_ID and SCALEOUT_ATTEMPT).
func TestRun_ExecutionIDAndAttempt(t *testing.T) {
	res, rec := runSrc(t, `name: ids
tasks:
  - name: native
    exec: {command: [echo, '${sys.execution_id}/${sys.attempt}']}
  - name: env
    exec: {command: [/bin/sh, -c, 'echo "$SCALEOUT_EXECUTION_ID"']}
`, nil, Options{ExecutionID: 4242, Attempt: 3, Env: []string{"SCALEOUT_EXECUTION_ID=4242", "PATH=/usr/bin:/bin"}})
	if res.Status != StatusSucceeded {
		t.Fatalf("Run = %+v\n%s", res, rec)
	}
	rec.wantStdout(t, "native", "4242/3")
	rec.wantStdout(t, "env", "4242")
	res, rec = runSrc(t, `name: ids
expressions: ssis
tasks:
  - name: ssis
    exec: {command: [echo, '${(DT_WSTR, 20)@[System::ServerExecutionID]}']}
`, nil, Options{ExecutionID: 77})
	if res.Status != StatusSucceeded {
		t.Fatalf("Run = %+v\n%s", res, rec)
	}
	rec.wantStdout(t, "ssis", "77")
}
