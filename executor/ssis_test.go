//go:build unix

package executor

import (
	"slices"
	"strings"
	"testing"
)

// A package with expressions: ssis runs its templates, set, when and
// loop expressions in the SSIS language, with SSIS's typing (integer
// division, casts) and names mapped onto parameters, variables and sys.
func TestRun_SSISExpressions(t *testing.T) {
	res, rec := runSrc(t, `name: ssis
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
    when: '@[User::out] == "HELLO WORLD 42 10 10.5 2026 2 ssis/show" && LEN(@[System::MachineName]) > 0'
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
	if res.Status != StatusSucceeded {
		t.Fatalf("Run = %+v\n%s", res, rec)
	}
	if got := rec.messages(EventStdout, "show"); !slices.Equal(got, []string{"HELLO WORLD 42 10 10.5 2026 2 ssis/show"}) {
		t.Errorf("show stdout = %q", got)
	}
	if got := rec.messages(EventStdout, "summed"); !slices.Equal(got, []string{"60"}) {
		t.Errorf("summed stdout = %q", got)
	}
	if got := rec.skipped(); !slices.Equal(got, []string{"never"}) {
		t.Errorf("skipped = %q", got)
	}
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
