//go:build unix

package executor

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
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
`, nil, Options{})
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
