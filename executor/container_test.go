//go:build unix

package executor

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// itemLines returns the stdout lines of task, in order.
func itemLines(rec *recorder, task string) []string { return rec.messages(EventStdout, task) }

func TestRun_ForEachFiles(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"b.csv", "a.csv", "c.csv", "skip.txt"} {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	rec := runOK(t, `name: loop
variables: {seen: {type: int}}
tasks:
  - name: each
    foreach:
      var: file
      files: '*.csv'
      tasks:
        - {name: show, exec: {command: [cat, '${vars.file}']}}
        - {name: count, after: [show], set: {seen: 'vars.seen + 1'}}
  - {name: after, after: [each], when: 'vars.seen == 3 && tasks.each.iterations == 3', exec: {command: ["true"]}}
`, nil, Options{WorkDir: dir})
	if got := itemLines(rec, "show"); !slices.Equal(got, []string{"a.csv", "b.csv", "c.csv"}) {
		t.Errorf("bodies printed %q, want a.csv b.csv c.csv in order", got)
	}
	if n := len(rec.of(EventPreExecute, "show")); n != 3 {
		t.Errorf("show ran %d times, want 3", n)
	}
	if got := rec.messages(EventProgress, "each"); len(got) != 3 || !strings.HasPrefix(got[1], "iteration 2 of 3: file = "+filepath.Join(dir, "b.csv")) {
		t.Errorf("progress = %q", got)
	}
	if rec.index(EventPreExecute, "after") < 0 {
		t.Errorf("after did not run\n%s", rec)
	}
}

func TestRun_ForEachSources(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "rows.csv"), []byte("id,name\n1,ann\n2,bob\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, source string
		want         []string
	}{
		{"items", `items: [x, 'y${1+1}', z]`, []string{"x", "y2", "z"}},
		{"in", `in: 'map(split("p,q", ","), upper(#))'`, []string{"P", "Q"}},
		{"csv", `csv: rows.csv`, []string{`{"id":"1","name":"ann"}`, `{"id":"2","name":"bob"}`}},
		{"empty glob", `files: 'nothing-*.x'`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := runOK(t, fmt.Sprintf(`name: loop
tasks:
  - name: each
    foreach:
      var: it
      %s
      tasks:
        - {name: show, exec: {command: [echo, '${vars.it}']}}
`, tt.source), nil, Options{WorkDir: dir})
			if got := itemLines(rec, "show"); !slices.Equal(got, tt.want) {
				t.Errorf("items %q, want %q", got, tt.want)
			}
		})
	}
}

func TestRun_ForEachStopsAtFailure(t *testing.T) {
	res, rec := runSrc(t, `name: loop
tasks:
  - name: each
    foreach:
      var: n
      items: ['1', '2', '3']
      tasks:
        - {name: body, exec: {command: [sh, -c, 'echo $0; [ $0 != 2 ]', '${vars.n}']}}
  - {name: cleanup, after: [{task: each, on: failure}], exec: {command: [echo, '${tasks.each.error}']}}
`, nil, Options{})
	if res.Status != StatusSucceeded || !strings.Contains(res.Message, `task "each" failed (handled by "cleanup")`) {
		t.Errorf("Run = %+v\n%s", res, rec)
	}
	if got := itemLines(rec, "body"); !slices.Equal(got, []string{"1", "2"}) {
		t.Errorf("body printed %q, want 1 2 (the loop stops at the failed iteration)", got)
	}
	if got := itemLines(rec, "cleanup"); len(got) != 1 || !strings.Contains(got[0], `iteration 2 of 3 (n = 2): task "body" failed: exit status 1`) {
		t.Errorf("cleanup printed %q", got)
	}
}

func TestRun_ForLoop(t *testing.T) {
	rec := runOK(t, `name: for
variables: {total: {type: int}}
tasks:
  - name: loop
    for:
      init: {i: '0'}
      condition: 'vars.i < 4'
      step: {i: 'vars.i + 1'}
      variables: {inner: {type: int, value: 10}}
      tasks:
        - {name: add, set: {total: 'vars.total + vars.i', inner: 'vars.inner + 1'}}
        - {name: show, after: [add], exec: {command: [echo, '${vars.i}:${vars.inner}']}}
  - {name: check, after: [loop], when: 'vars.total == 6 && tasks.loop.iterations == 4', exec: {command: ["true"]}}
`, nil, Options{})
	if got := itemLines(rec, "show"); !slices.Equal(got, []string{"0:11", "1:12", "2:13", "3:14"}) {
		t.Errorf("show printed %q", got)
	}
	if rec.index(EventPreExecute, "check") < 0 {
		t.Errorf("check skipped: total or iterations wrong\n%s", rec)
	}
}

func TestRun_Sequence(t *testing.T) {
	rec := runOK(t, `name: seq
tasks:
  - name: group
    sequence:
      variables: {msg: {value: inner}}
      tasks:
        - {name: one, exec: {command: [echo, '${vars.msg}']}}
        - {name: two, after: [one], exec: {command: ["false"]}}
        - {name: fix, after: [{task: two, on: failure}], set: {msg: '"fixed"'}}
  - {name: next, after: [group], exec: {command: [echo, next]}}
  - name: bad
    sequence:
      tasks:
        - {name: boom, exec: {command: ["false"]}}
  - {name: onbad, after: [{task: bad, on: failure}], exec: {command: [echo, '${tasks.bad.status}']}}
`, nil, Options{})
	if got := itemLines(rec, "onbad"); !slices.Equal(got, []string{"failed"}) {
		t.Errorf("onbad printed %q", got)
	}
	if !rec.has(EventPostExecute, "group", `succeeded in`) || !rec.has(EventPostExecute, "bad", `failed: task "boom" failed: exit status 1`) {
		t.Errorf("container post_execute events wrong\n%s", rec)
	}
	if rec.index(EventPreExecute, "next") < rec.index(EventPostExecute, "group") {
		t.Errorf("next started before the sequence ended\n%s", rec)
	}
}
