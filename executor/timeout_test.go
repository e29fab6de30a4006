//go:build unix

package executor

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scaleout/scaleout/catalog/pkgspec/pkgspectest"
)

func TestRun_TaskTimeout(t *testing.T) {
	start := time.Now()
	res, rec := runSrc(t, `name: p
tasks:
  - {name: slow, timeout: 200ms, exec: {command: [sleep, "600"]}}
  - {name: onfail, after: [{task: slow, on: failure, when: 'tasks.slow.error == "timed out after 200ms"'}], exec: {command: ["true"]}}
`, nil, Options{KillGrace: 100 * time.Millisecond})
	if res.Status != StatusSucceeded || !strings.Contains(res.Message, `task "slow" failed (handled by "onfail")`) {
		t.Errorf("Run = %+v\n%s", res, rec)
	}
	if !rec.has(EventPostExecute, "slow", "failed: timed out after 200ms") {
		t.Errorf("slow post_execute = %q", rec.messages(EventPostExecute, "slow"))
	}
	// The task sleeps 600 s: an end well before that is the timeout's
	// doing, however loaded the machine (not a speed check).
	if took := time.Since(start); took > time.Minute {
		t.Errorf("took %s: the 200 ms timeout did not end the 600 s sleep", took)
	}
}

func TestRun_PackageTimeout(t *testing.T) {
	res, rec := runSrc(t, `name: p
timeout: 300ms
tasks:
  - name: group
    sequence:
      tasks:
        - {name: slow, exec: {command: [sleep, "600"]}}
  - {name: later, after: [group], exec: {command: ["true"]}}
`, nil, Options{KillGrace: 100 * time.Millisecond})
	if res.Status != StatusFailed || !strings.HasPrefix(res.Message, "package timed out after 300ms; canceled; canceled while running: group; 1 task not started") {
		t.Errorf("Run = %+v\n%s", res, rec)
	}
	if !rec.has(EventPostExecute, "slow", "canceled after") {
		t.Errorf("slow not recorded canceled\n%s", rec)
	}
}

func TestRun_Retries(t *testing.T) {
	work := t.TempDir()
	res, rec := runSrc(t, `name: p
tasks:
  - name: flaky
    retries: 3
    retry_delay: 10ms
    exec: {command: [sh, -c, 'echo x >> tries; [ $(wc -l < tries) -ge 3 ]']}
  - {name: never, retries: 1, exec: {command: ["false"]}}
`, nil, Options{WorkDir: work})
	if res.Status != StatusFailed || res.Message != `task "never" failed: exit status 1` {
		t.Errorf("Run = %+v\n%s", res, rec)
	}
	if got := rec.messages(EventWarning, "flaky"); len(got) != 2 || !strings.HasPrefix(got[0], "attempt 1 of 4 failed: exit status 1; retrying in 10ms") {
		t.Errorf("flaky warnings = %q", got)
	}
	if n := len(rec.of(EventPreExecute, "flaky")); n != 1 {
		t.Errorf("flaky has %d pre_execute events, want 1 for all attempts", n)
	}
	if got := len(rec.messages(EventWarning, "never")); got != 1 {
		t.Errorf("never retried %d times, want 1", got)
	}
}

// TestRun_CancelEveryKind stops a package whose running tasks are of every
// kind that can block: exec in a loop, an http request, a SQLite query, a
// package task, and a task waiting for its retry.
func TestRun_CancelEveryKind(t *testing.T) {
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(block)
	proj := t.TempDir()
	pkgspectest.WriteFiles(t, proj, map[string]string{"packages/child.yaml": "name: child\ntasks:\n  - {name: nap, exec: {command: [sh, -c, 'trap \"\" TERM; echo ready; sleep 600']}}\n"})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rec := &recorder{}
	var groups pgids
	done := runAsync(ctx, t, `name: p
max_parallel: 10
connections: {db: {driver: sqlite, database: x.db}}
tasks:
  - name: loop
    foreach:
      var: i
      items: [a, b]
      tasks:
        - {name: body, exec: {command: [sh, -c, 'echo ready; sleep 600']}}
  - {name: web, http: {url: '`+srv.URL+`'}}
  - name: query
    sql:
      connection: db
      statement: "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) SELECT count(*) FROM c"
  - {name: child, package: {name: child}}
  - {name: retry, retries: 5, retry_delay: 10m, exec: {command: ["false"]}}
`, Options{KillGrace: 300 * time.Millisecond, OnProcess: groups.hook, ProjectDir: proj, WorkDir: t.TempDir()}, rec)
	poll(t, 10*time.Second, "the tasks to start", func() bool {
		return len(rec.messages(EventStdout, "body")) == 1 && len(rec.messages(EventStdout, "child/nap")) == 1 &&
			rec.has(EventWarning, "retry", "retrying in 10m") && rec.index(EventPreExecute, "query") >= 0 && rec.index(EventPreExecute, "web") >= 0
	})
	stopped := time.Now()
	cancel()
	res := waitResult(t, done, rec)
	if took := time.Since(stopped); took > 5*time.Second {
		t.Errorf("cancel took %s, want under 5s", took)
	}
	if res.Status != StatusCanceled || !strings.Contains(res.Message, "canceled while running: loop, web, query, child, retry") {
		t.Errorf("Run = %+v\n%s", res, rec)
	}
	for _, task := range []string{"loop", "body", "web", "query", "child", "child/nap", "retry"} {
		if post := rec.messages(EventPostExecute, task); len(post) != 1 || !strings.HasPrefix(post[0], "canceled after") {
			t.Errorf("%s post_execute = %q, want canceled", task, post)
		}
	}
	if got := rec.messages(EventStdout, "body"); !slices.Equal(got, []string{"ready"}) {
		t.Errorf("the loop went on after cancel: %q", got)
	}
	groups.mu.Lock()
	started := slices.Clone(groups.started)
	groups.mu.Unlock()
	for _, pgid := range started {
		waitGroupGone(t, pgid)
	}
}
