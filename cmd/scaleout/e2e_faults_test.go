//go:build linux

package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/scaleout/scaleout/api"
	"github.com/scaleout/scaleout/cluster/clustertest/proctest"
	"github.com/scaleout/scaleout/cluster/worker"
)

// TestE2E_SavedResultSurvivesAgentCrash crashes the agent at the worst
// moment for a result: the package has ended and its result is saved, but
// not yet delivered (the failpoint worker-result-saved exits the process
// as kill -9 would). The agent started again on the same data dir must
// deliver that result: the execution succeeds on its first attempt and is
// not run again, although it had a retry left.
func TestE2E_SavedResultSurvivesAgentCrash(t *testing.T) {
	dir := t.TempDir()
	a := startAgentEnv(t, dir, []string{"SCALEOUT_FAILPOINTS=worker-result-saved"}, "--lease-timeout", "5s", "--heartbeat", "500ms")
	r := cli(t, a.api, "run", "testdata/hello.yaml", "--retries", "1", "--param", "who=crash")
	id := parseOutID(t, r)
	select {
	case <-a.done:
	case <-time.After(60 * time.Second):
		t.Fatalf("the agent did not stop at the failpoint:\n%s", a.logText())
	}
	if code := a.cmd.ProcessState.ExitCode(); code != 86 {
		t.Fatalf("agent exit code %d, want 86 (the failpoint):\n%s", code, a.logText())
	}

	b := startAgent(t, dir, "--lease-timeout", "5s", "--heartbeat", "500ms")
	c := b.client(t)
	e := waitStatus(t, c, id, 60*time.Second, "succeeded", "failed", "ended_unexpectedly", "canceled")
	if e.Status != "succeeded" || e.Attempt != 1 || len(e.Attempts) != 1 {
		t.Fatalf("execution %d: status %s after %d attempts (%+v); want succeeded on the first attempt\nagent log:\n%s",
			id, e.Status, e.Attempt, e.Attempts, b.logText())
	}
	if e.EventCount == 0 {
		t.Fatal("the events that rode with the saved result were lost")
	}
	waitFor(t, "the delivered result file to be removed", 30*time.Second, func() (bool, string) {
		left, _ := filepath.Glob(filepath.Join(dir, "work", "results", "*"))
		return len(left) == 0, "left: " + strings.Join(left, ", ")
	})
}

// TestE2E_FrozenWorkerDoesNotOverlap freezes (SIGSTOP) the agent of a
// worker while its package runs. A frozen agent can neither heartbeat nor
// stop its package process, so the package process fences itself: it stops
// its tasks before the master's lease runs out. The master then runs the
// execution again on another worker; the heartbeat stamps both attempts
// write show that they never ran at the same time.
func TestE2E_FrozenWorkerDoesNotOverlap(t *testing.T) {
	c := startE2ECluster(t)
	waitFor(t, "a leader", 20*time.Second, func() (bool, string) {
		l, seen := c.leader("s1")
		return l != "", seen
	})
	cl := c.agents["s1"].client(t)
	ctx := context.Background()
	servers := []string{"s1", "s2", "s3"}
	for _, s := range servers {
		if err := cl.Workers().SetEnabled(ctx, s, false); err != nil {
			t.Fatal(err)
		}
	}
	stamps := filepath.Join(t.TempDir(), "stamps")
	pkg := fmt.Sprintf(`name: beat
tasks:
  - name: beat
    exec:
      command: [/bin/sh, -c, 'for i in $(seq 1 40); do echo "$SCALEOUT_ATTEMPT $(date +%%s%%N)" >> %s; sleep 0.1; done']
`, stamps)
	id, err := cl.Executions().Submit(ctx, &api.SubmitRequest{Package: pkg, Retries: 1})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "attempt 1 beating on w1", 30*time.Second, func() (bool, string) {
		e, err := cl.Executions().Info(ctx, id)
		if err != nil || e.Status != "running" || e.Worker != "w1" {
			return false, fmt.Sprint(e, err)
		}
		b, _ := os.ReadFile(stamps)
		return strings.HasPrefix(string(b), "1 "), string(b)
	})
	for _, s := range servers {
		if err := cl.Workers().SetEnabled(ctx, s, true); err != nil {
			t.Fatal(err)
		}
	}
	w1 := c.agents["w1"]
	if err := w1.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	frozen := time.Now()
	e := waitStatus(t, cl, id, 90*time.Second, "succeeded", "failed", "ended_unexpectedly", "canceled")
	if e.Status != "succeeded" || e.Attempt != 2 || e.Attempts[1].Worker == "w1" {
		t.Fatalf("execution %d: %s after %d attempts %+v; want succeeded as attempt 2 elsewhere", id, e.Status, e.Attempt, e.Attempts)
	}
	t.Logf("attempt 2 succeeded on %s %s after w1 froze", e.Attempts[1].Worker, time.Since(frozen))
	if err := w1.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "w1 to answer again", 30*time.Second, func() (bool, string) {
		_, err := w1.client(t).Status().Leader(ctx)
		return err == nil, fmt.Sprint(err)
	})
	b, err := os.ReadFile(stamps)
	if err != nil {
		t.Fatal(err)
	}
	last1, first2 := int64(0), int64(math.MaxInt64)
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var attempt int
		var ns int64
		if _, err := fmt.Sscan(line, &attempt, &ns); err != nil {
			t.Fatalf("stamp line %q: %v", line, err)
		}
		switch attempt {
		case 1:
			last1 = max(last1, ns)
		case 2:
			first2 = min(first2, ns)
		}
	}
	if last1 == 0 || first2 == math.MaxInt64 {
		t.Fatalf("stamps of both attempts expected:\n%s", b)
	}
	if last1 >= first2 {
		t.Fatalf("attempt 1 still ran %s after attempt 2 started", time.Duration(last1-first2))
	}
	t.Logf("attempt 1 stopped %s before attempt 2 started", time.Duration(first2-last1))
}

// TestE2E_NoOrphans: processes a package leaves running outside its
// tasks' process groups (setsid, a double fork) end with the run, whether
// it ends by itself, by a stop, or because its agent was killed.
func TestE2E_NoOrphans(t *testing.T) {
	dir := t.TempDir()
	a := startAgent(t, dir)
	c := a.client(t)
	base := 700 + time.Now().UnixNano()%200 // markers no other test uses
	mark := func(i int64) string { return fmt.Sprintf("sleep %d.%d", base, i) }
	pkg := func(name, body string) string {
		f := filepath.Join(t.TempDir(), name+".yaml")
		src := fmt.Sprintf("name: %s\ntasks:\n  - name: t\n    exec:\n      command: [/bin/sh, -c, '%s']\n", name, body)
		if err := os.WriteFile(f, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		return f
	}
	running := func(marker string) {
		waitFor(t, marker+" to run", 30*time.Second, func() (bool, string) {
			gone, _ := processGone(marker)
			return !gone, ""
		})
	}
	gone := func(marker string) {
		waitFor(t, marker+" to be gone", 20*time.Second, func() (bool, string) { return processGone(marker) })
	}

	// Ends by itself, leaving a session of its own and a double fork.
	r := cli(t, a.api, "run", pkg("leave", fmt.Sprintf("setsid %s </dev/null >/dev/null 2>&1 & (%s </dev/null >/dev/null 2>&1 &) ; sleep 0.3", mark(1), mark(2))), "--wait")
	if r.code != 0 {
		t.Fatalf("run: exit %d %s %s", r.code, r.stdout, r.stderr)
	}
	gone(mark(1))
	gone(mark(2))

	// Stopped while its setsid child runs.
	id := parseOutID(t, cli(t, a.api, "run", pkg("stopped", fmt.Sprintf("setsid %s </dev/null >/dev/null 2>&1 & sleep 600", mark(3)))))
	running(mark(3))
	if r := cli(t, a.api, "executions", "stop", strconv.FormatUint(id, 10)); r.code != 0 {
		t.Fatalf("stop: exit %d %s", r.code, r.stderr)
	}
	waitStatus(t, c, id, 30*time.Second, "canceled")
	gone(mark(3))

	// Its agent killed while its setsid child runs.
	parseOutID(t, cli(t, a.api, "run", pkg("killed", fmt.Sprintf("setsid %s </dev/null >/dev/null 2>&1 & sleep 600", mark(4)))))
	running(mark(4))
	a.kill()
	gone(mark(4))
}

// TestE2E_LostPollAnswerIsHandedAgain loses (failpoint) the answer of the
// worker's poll that leased an execution with no retries. The attempt never
// started; before, the master expired it at the next poll ("no longer runs
// it") and the execution failed. Now the worker lists the lost poll and the
// master hands the same attempt over again: it succeeds as attempt 1.
func TestE2E_LostPollAnswerIsHandedAgain(t *testing.T) {
	a := startAgentEnv(t, t.TempDir(), []string{"SCALEOUT_FAILPOINTS=worker-poll-answer-lost"}, "--lease-timeout", "5s", "--heartbeat", "500ms")
	r := cli(t, a.api, "run", "testdata/hello.yaml", "--retries", "0", "--param", "who=lost")
	id := parseOutID(t, r)
	e := waitStatus(t, a.client(t), id, 60*time.Second, "succeeded", "failed", "ended_unexpectedly", "canceled")
	if e.Status != "succeeded" || e.Attempt != 1 || len(e.Attempts) != 1 {
		t.Fatalf("execution %d: status %s after %d attempts (%+v), message %q; want succeeded on the first attempt\nagent log:\n%s",
			id, e.Status, e.Attempt, e.Attempts, e.Message, a.logText())
	}
	waitFor(t, "the agent log to show the failpoint and the handing again", 10*time.Second, func() (bool, string) {
		l := a.logText()
		return strings.Contains(l, "failpoint worker-poll-answer-lost: hit") && strings.Contains(l, "attempt handed again"), l
	})
}

// TestE2E_RestartEndsWhatAKilledAgentLeft kills an agent and its package
// process at once (kill -9; the package process is frozen first, so that
// it cannot end its tasks when its worker's pipe closes, as it would after
// the agent alone died). What the tasks started is then orphaned: a task
// in its process group and a process that left it with setsid. The agent
// started again on the same data dir kills them before it reports: with a
// cgroup per package process, both; with --cgroups=false, the task from
// the pid record (a process that left its group while its package process
// was dead is out of reach without cgroups; docs/semantics.md).
func TestE2E_RestartEndsWhatAKilledAgentLeft(t *testing.T) {
	for _, cgroups := range []bool{true, false} {
		t.Run(fmt.Sprintf("cgroups=%v", cgroups), func(t *testing.T) {
			flag := fmt.Sprintf("--cgroups=%v", cgroups)
			dir := t.TempDir()
			a := startAgent(t, dir, flag)
			base := 900 + time.Now().UnixNano()%90 // markers no other test uses
			inGroup, escaped := fmt.Sprintf("sleep %d.1", base), fmt.Sprintf("sleep %d.2", base)
			t.Cleanup(func() { proctest.KillMarked(inGroup, escaped) })
			f := filepath.Join(t.TempDir(), "orphans.yaml")
			src := fmt.Sprintf("name: orphans\ntasks:\n  - name: t\n    exec:\n      command: [/bin/sh, -c, 'setsid %s </dev/null >/dev/null 2>&1 & %s']\n", escaped, inGroup)
			if err := os.WriteFile(f, []byte(src), 0o644); err != nil {
				t.Fatal(err)
			}
			parseOutID(t, cli(t, a.api, "run", f))
			for _, m := range []string{inGroup, escaped} {
				waitFor(t, m+" to run", 30*time.Second, func() (bool, string) { gone, _ := processGone(m); return !gone, "" })
			}
			children := childrenOf(t, a.cmd.Process.Pid)
			for _, pid := range children {
				_ = syscall.Kill(pid, syscall.SIGSTOP)
			}
			a.kill()
			for _, pid := range children {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
			for _, m := range []string{inGroup, escaped} {
				if gone, _ := processGone(m); gone {
					t.Fatalf("%s ended with its agent; the test proves nothing", m)
				}
			}

			startAgent(t, dir, flag)
			waitFor(t, "the task left by the killed agent to be killed", 20*time.Second, func() (bool, string) { return processGone(inGroup) })
			if cgroups {
				if worker.CgroupsAvailable() != nil {
					t.Log("no writable cgroup v2 here: the setsid process is out of reach, as without cgroups")
					return
				}
				waitFor(t, "the setsid process left by the killed agent to be killed", 20*time.Second, func() (bool, string) { return processGone(escaped) })
			}
		})
	}
}

// childrenOf lists the processes whose parent is pid.
func childrenOf(t *testing.T, pid int) []int {
	t.Helper()
	var out []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		status, err := os.ReadFile(filepath.Join("/proc", e.Name(), "status"))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(status), "\n") {
			if v, ok := strings.CutPrefix(line, "PPid:"); ok && strings.TrimSpace(v) == strconv.Itoa(pid) {
				out = append(out, p)
			}
		}
	}
	if len(out) == 0 {
		t.Fatalf("agent %d has no package processes", pid)
	}
	return out
}
