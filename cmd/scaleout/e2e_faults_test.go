package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
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
