//go:build unix

package executor

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// runAsync starts Run and returns a channel for its result.
func runAsync(ctx context.Context, t *testing.T, src string, opts Options, rec *recorder) <-chan Result {
	pkg := mustParse(t, src)
	done := make(chan Result, 1)
	go func() { done <- Run(ctx, pkg, nil, opts, rec) }()
	return done
}

func waitResult(t *testing.T, done <-chan Result, rec *recorder) Result {
	t.Helper()
	select {
	case res := <-done:
		return res
	case <-time.After(30 * time.Second):
		t.Fatalf("Run did not return\n%s", rec)
		return Result{}
	}
}

func TestRun_Cancel(t *testing.T) {
	tests := []struct {
		name      string
		command   string
		killGrace time.Duration
		sigkill   bool // whether SIGKILL must have been needed
	}{
		// The shell forks sleep, so the group has two processes.
		{"sleep", `echo ready; sleep 600; echo after`, 0, false},
		{"ignores SIGTERM", `trap "" TERM; echo ready; sleep 600; echo after`, 100 * time.Millisecond, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			rec := &recorder{}
			var groups pgids
			opts := Options{KillGrace: tt.killGrace, OnProcess: groups.hook, MaxParallel: 2}
			done := runAsync(ctx, t, `name: c
tasks:
  - {name: slow, exec: {command: [/bin/sh, -c, '`+tt.command+`']}}
  - {name: next, after: [slow], exec: {command: ["true"]}}
  - {name: also, exec: {command: [/bin/sh, -c, 'echo ready; sleep 600']}}
  - {name: queued, exec: {command: ["true"]}}
`, opts, rec)
			poll(t, 10*time.Second, "both tasks to print ready", func() bool {
				return slices.Equal(rec.messages(EventStdout, "slow"), []string{"ready"}) &&
					slices.Equal(rec.messages(EventStdout, "also"), []string{"ready"})
			})
			cancel()
			res := waitResult(t, done, rec)
			if res.Status != StatusCanceled || !strings.Contains(res.Message, "canceled; canceled while running: slow, also; 2 tasks not started") {
				t.Errorf("Run = %+v\n%s", res, rec)
			}
			for _, task := range []string{"slow", "also"} {
				if post := rec.messages(EventPostExecute, task); len(post) != 1 || !strings.HasPrefix(post[0], "canceled after ") {
					t.Errorf("%s post_execute = %q, want canceled", task, post)
				}
			}
			for _, task := range []string{"next", "queued"} {
				if rec.index(EventPreExecute, task) >= 0 {
					t.Errorf("task %s started after cancel", task)
				}
			}
			if !rec.has(EventInformation, "", "canceled before start: next, queued") {
				t.Errorf("no information event about tasks not started\n%s", rec)
			}
			if got := rec.has(EventInformation, "slow", "SIGKILL to process group"); got != tt.sigkill {
				t.Errorf("SIGKILL sent = %v, want %v\n%s", got, tt.sigkill, rec)
			}
			if rec.has(EventStdout, "slow", "after") {
				t.Error("task ran past its sleep")
			}
			groups.mu.Lock()
			started, ended := slices.Clone(groups.started), slices.Clone(groups.ended)
			groups.mu.Unlock()
			slices.Sort(started)
			slices.Sort(ended)
			if len(started) != 2 || !slices.Equal(started, ended) {
				t.Errorf("OnProcess started %v, ended %v", started, ended)
			}
			for _, pgid := range started {
				waitGroupGone(t, pgid)
			}
		})
	}
}

func TestRun_CanceledBeforeStart(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rec := &recorder{}
	res := Run(ctx, mustParse(t, helloYAML), nil, Options{}, rec)
	if res.Status != StatusCanceled || res.Message != "canceled; 2 tasks not started" {
		t.Errorf("Run = %+v\n%s", res, rec)
	}
	if n := len(rec.of(EventPreExecute, "*")); n != 0 {
		t.Errorf("%d tasks started", n)
	}
}

// TestRun_LeftoverProcesses checks that processes a task leaves behind in its
// group are killed when the task exits, rather than holding its output open.
func TestRun_LeftoverProcesses(t *testing.T) {
	rec := &recorder{}
	var groups pgids
	done := runAsync(context.Background(), t, `name: bg
tasks:
  - {name: t, exec: {command: [/bin/sh, -c, 'sleep 600 & echo started']}}
`, Options{OnProcess: groups.hook}, rec)
	res := waitResult(t, done, rec)
	if res.Status != StatusSucceeded {
		t.Fatalf("Run = %+v\n%s", res, rec)
	}
	if !rec.has(EventInformation, "t", "killed processes left in process group") {
		t.Errorf("no information event about leftover processes\n%s", rec)
	}
	waitGroupGone(t, groups.first())
}

func TestRun_OnProcess(t *testing.T) {
	var groups pgids
	rec := &recorder{}
	if res := Run(context.Background(), mustParse(t, helloYAML), nil, Options{OnProcess: groups.hook}, rec); res.Status != StatusSucceeded {
		t.Fatalf("Run = %+v", res)
	}
	groups.mu.Lock()
	defer groups.mu.Unlock()
	if len(groups.started) != 2 || !slices.Equal(groups.started, groups.ended) {
		t.Fatalf("OnProcess started %v, ended %v", groups.started, groups.ended)
	}
	for _, pgid := range groups.ended {
		if pgid <= 0 {
			t.Errorf("pgid %d", pgid)
		}
		if !groups.goneAt[pgid] && isSubreaper() {
			t.Errorf("process group %d still existed when reported ended", pgid)
		}
	}
}

// TestRun_EscapedOutputHolder has a task start a process in a new session,
// out of reach of the group kill, that keeps the task's stdout open. Run
// must stop waiting for the output after the drain timeout.
func TestRun_EscapedOutputHolder(t *testing.T) {
	if _, err := exec.LookPath("setsid"); err != nil {
		t.Skip("no setsid")
	}
	work := t.TempDir()
	pidFile := filepath.Join(work, "escaped.pid")
	t.Cleanup(func() {
		b, err := os.ReadFile(pidFile)
		if err != nil {
			return
		}
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			var ws syscall.WaitStatus
			_, _ = syscall.Wait4(pid, &ws, 0, nil) // reparented to us as subreaper; no-op otherwise
		}
	})
	pkg := mustParse(t, `name: escape
tasks:
  - {name: t, exec: {command: [/bin/sh, -c, 'setsid /bin/sh -c "echo \$\$ > escaped.pid; exec sleep 600" & while [ ! -s escaped.pid ]; do sleep 0.01; done; echo started']}}
`)
	rec := &recorder{}
	done := make(chan Result, 1)
	go func() { done <- run(context.Background(), pkg, nil, Options{WorkDir: work}, rec, 100*time.Millisecond) }()
	res := waitResult(t, done, rec)
	if res.Status != StatusSucceeded {
		t.Fatalf("Run = %+v\n%s", res, rec)
	}
	if !rec.has(EventInformation, "t", "output still open") || !slices.Equal(rec.messages(EventStdout, "t"), []string{"started"}) {
		t.Errorf("events:\n%s", rec)
	}
}

// TestRun_MayStartRefusesNewTasks: once Options.MayStart refuses (the
// package process's lease ran out while it was frozen), no further task and
// no further task process starts: the first task's process was stopped at
// its start, the second task never ran.
func TestRun_MayStartRefusesNewTasks(t *testing.T) {
	dir := t.TempDir()
	var allowed atomic.Int32
	allowed.Store(1) // the first ask (the first task's attempt) is allowed
	opts := Options{MaxParallel: 1, MayStart: func() error {
		if allowed.Add(-1) >= 0 {
			return nil
		}
		return errors.New("lease ran out")
	}}
	rec := &recorder{}
	res := Run(context.Background(), mustParse(t, `name: m
tasks:
  - {name: first, exec: {command: [/bin/sh, -c, 'touch `+dir+`/first']}}
  - {name: second, after: [first], exec: {command: [/bin/sh, -c, 'touch `+dir+`/second']}}
`), nil, opts, rec)
	if res.Status != StatusFailed {
		t.Fatalf("status %s, want failed\n%s", res.Status, rec)
	}
	for _, f := range []string{"first", "second"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			t.Errorf("task %s ran after MayStart refused", f)
		}
	}
	if !strings.Contains(rec.String(), "lease ran out") {
		t.Errorf("the refusal is not in the events:\n%s", rec)
	}
}
