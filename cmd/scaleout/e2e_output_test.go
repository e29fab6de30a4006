package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scaleout/scaleout/executor"
)

// rssKB reads the resident set size of pid from /proc (0 if unreadable).
func rssKB(pid int) int64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

// sampleRSS records the peak RSS of pid every 50 ms until stop is called.
func sampleRSS(pid int) (peak func() int64, stop func()) {
	var max atomic.Int64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			if r := rssKB(pid); r > max.Load() {
				max.Store(r)
			}
			select {
			case <-done:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	return max.Load, func() { close(done); wg.Wait() }
}

// agentRSSBound is the most the agent's RSS may grow while a package prints
// without end (the worker holds at most 1 MiB of events per attempt, the
// catalog keeps at most --max-events of them).
const agentRSSBound = 150 << 10 // kB

// TestE2E_OutputCannotDrownTheAgent: one 50 MB line and 200 MB of 100-byte
// lines from a package leave the agent's memory flat; the line is cut with
// the marker, the events stop at the cap with a warning naming the log,
// and the attempt log on the worker has the end of the output.
func TestE2E_OutputCannotDrownTheAgent(t *testing.T) {
	dir := t.TempDir()
	a := startAgent(t, dir, "--max-events", "20000")
	c := a.client(t)
	base := rssKB(a.cmd.Process.Pid)
	peak, stop := sampleRSS(a.cmd.Process.Pid)
	pkg := `name: loud
tasks:
  - name: long
    exec:
      command: [/bin/sh, -c, 'head -c 50000000 /dev/zero | tr "\0" x; echo; echo after-long']
  - name: many
    after: [long]
    exec:
      command: [/bin/sh, -c, 'yes 012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678 | head -n 2000000; echo the-end']
`
	start := time.Now()
	id := submit(t, c, pkg, 0)
	e := waitStatus(t, c, id, 5*time.Minute, "succeeded", "failed", "ended_unexpectedly", "canceled")
	took := time.Since(start)
	stop()
	grew := peak() - base
	t.Logf("250 MB of output in %s: agent RSS %d MB at start, peak %d MB (grew %d MB; bound %d MB); %d events kept",
		took.Round(time.Millisecond), base>>10, peak()>>10, grew>>10, agentRSSBound>>10, e.EventCount)
	if e.Status != "succeeded" {
		t.Fatalf("execution %s: %s\n%s", e.Status, e.Message, a.logText())
	}
	if grew > agentRSSBound {
		t.Errorf("agent RSS grew by %d MB, over the bound of %d MB", grew>>10, agentRSSBound>>10)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	evs, err := c.Executions().Events(ctx, id, 0, 100, 0)
	if err != nil {
		t.Fatal(err)
	}
	cut := false
	for _, ev := range evs.Events {
		if ev.Task == "long" && ev.Type == "stdout" && strings.HasSuffix(ev.Message, executor.CutMarker) {
			cut = len(ev.Message) == executor.MaxMessage && strings.HasSuffix(ev.Message, executor.CutMarker)
		}
	}
	if !cut {
		t.Errorf("the 50 MB line is not one event of %d bytes ending with the marker", executor.MaxMessage)
	}
	if e.EventCount > 20000+5 { // the cap, plus the status changes it does not count
		t.Errorf("%d events kept, over --max-events 20000", e.EventCount)
	}
	logFile := filepath.Join(dir, "work", "logs", fmt.Sprintf("%d-1.log", id))
	tail, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatalf("attempt log: %v", err)
	}
	if !bytes.Contains(tail, []byte("stdout [many] the-end\n")) {
		t.Errorf("attempt log %s lacks the last line of output (%d bytes)", logFile, len(tail))
	}
	if fi, _ := os.Stat(logFile + ".1"); fi == nil || fi.Size()+int64(len(tail)) > 64<<20+128<<10 {
		t.Errorf("attempt log not rotated within its 64 MiB cap")
	}
	// The same log through the API of the agent that ran the attempt.
	var got bytes.Buffer
	if err := c.Executions().AttemptLog(context.Background(), id, 1, &got); err != nil {
		t.Fatalf("GET attempt log: %v", err)
	}
	if !bytes.HasSuffix(got.Bytes(), tail) || got.Len() > 64<<20+128<<10 {
		t.Errorf("attempt log through the API: %d bytes, does not end with the file's %d", got.Len(), len(tail))
	}
	// The agent still serves.
	id2 := submit(t, c, quickPackage, 0)
	waitStatus(t, c, id2, time.Minute, "succeeded")
}
