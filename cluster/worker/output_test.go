package worker

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scaleout/scaleout/api"
)

func TestReadLines(t *testing.T) {
	long := strings.Repeat("x", 100)
	var got []string
	err := readLines(strings.NewReader("a\nb\r\n"+long+"\n\nlast"), 16, func(line []byte, cut bool) {
		if cut {
			got = append(got, "<cut>")
			return
		}
		got = append(got, string(line))
	})
	want := []string{"a", "b", "<cut>", "", "last"}
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("readLines = %q, %v; want %q", got, err, want)
	}

	// A read buffer smaller than max: lines longer than the buffer are
	// gathered up to max (with the newline), longer ones cut.
	for _, c := range []struct {
		in   string
		want []string
	}{
		{strings.Repeat("y", 39) + "\nz\n", []string{strings.Repeat("y", 39), "z"}},
		{strings.Repeat("y", 40) + "\nz\n", []string{"<cut>", "z"}},
		{strings.Repeat("y", 100) + "\nz\n", []string{"<cut>", "z"}},
		{strings.Repeat("y", 20) + "\n" + strings.Repeat("w", 30) + "\r\n", []string{strings.Repeat("y", 20), strings.Repeat("w", 30)}},
		{strings.Repeat("y", 30), []string{strings.Repeat("y", 30)}},
	} {
		got = nil
		err := readLinesBuf(strings.NewReader(c.in), 40, 16, func(line []byte, cut bool) {
			if cut {
				got = append(got, "<cut>")
				return
			}
			got = append(got, string(line))
		})
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("readLinesBuf(%.12q..., max 40, buffer 16) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}

func printTask(id uint64, script string) api.Task {
	return api.Task{ID: id, Attempt: 1, PackageName: "print", PackageFile: "print.yaml",
		Package: "name: print\ntasks:\n  - name: p\n    exec:\n      command: [/bin/sh, -c, '" + script + "']\n"}
}

// TestWorker_EventCapKeepsTheRestInTheLog: beyond MaxEvents the master gets
// one warning and nothing more; the attempt log has every line.
func TestWorker_EventCapKeepsTheRestInTheLog(t *testing.T) {
	f := &fakeMaster{answer: leaseOnce(printTask(7, "seq 1 5000"), 200)}
	w := startWorker(t, f, 5*time.Second, func(c *Config) { c.MaxEvents = 100 })
	waitFor(t, "the result", func() bool { _, ok := f.result(7, 1); return ok })
	if r, _ := f.result(7, 1); r.Status != api.StatusSucceeded {
		t.Fatalf("result = %+v", r)
	}
	f.mu.Lock()
	events := slices.Clone(f.events)
	f.mu.Unlock()
	if len(events) != 100 {
		t.Fatalf("master got %d events, want the cap of 100", len(events))
	}
	if last := events[99]; last.Type != "warning" || !strings.Contains(last.Message, "/v1/executions/7/attempts/1/log") {
		t.Fatalf("last event = %+v, want the warning naming the log", last)
	}
	rc, size, err := w.AttemptLog(7, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, _ := io.ReadAll(rc)
	if int64(len(b)) != size || !bytes.Contains(b, []byte(" stdout [p] 5000\n")) || !bytes.Contains(b, []byte(" stdout [p] 1\n")) {
		t.Fatalf("log (%d bytes, size %d) lacks the first or last line:\n%.300s", len(b), size, b)
	}
	if _, _, err := w.AttemptLog(7, 2); err == nil {
		t.Fatal("log of an attempt never run was found")
	}
}

// TestWorker_SlowMasterSlowsTheChild: while the master takes its time with
// event batches, the worker holds at most MaxBufferedBytes of them and the
// package waits; nothing is lost.
func TestWorker_SlowMasterSlowsTheChild(t *testing.T) {
	const lines = 20000
	f := &fakeMaster{answer: leaseOnce(printTask(8, "i=0; while [ $i -lt 20000 ]; do echo line-$i-0123456789012345678901234567890123456789012345678901234567890123456789; i=$((i+1)); done"), 200)}
	f.slowEvents = 20 * time.Millisecond
	const limit = 64 << 10
	w := startWorker(t, f, 5*time.Second, func(c *Config) { c.MaxBufferedBytes = limit })
	var peak atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			if _, ok := f.result(8, 1); ok {
				return
			}
			for _, a := range w.attempts() {
				a.mu.Lock()
				if n := int64(a.bufBytes + a.inflight); n > peak.Load() {
					peak.Store(n)
				}
				a.mu.Unlock()
			}
			time.Sleep(time.Millisecond)
		}
	}()
	waitFor(t, "the result", func() bool { _, ok := f.result(8, 1); return ok })
	<-done
	if p := peak.Load(); p > limit+4096 {
		t.Fatalf("worker held %d bytes of events, limit %d", p, limit)
	}
	f.mu.Lock()
	n := 0
	for _, ev := range f.events {
		if ev.Type == "stdout" {
			n++
		}
	}
	f.mu.Unlock()
	if n != lines {
		t.Fatalf("master got %d stdout events, want %d", n, lines)
	}
}

// TestWorker_StartQueueListsAttemptsAtOnce: attempts waiting for a start
// slot are listed (heartbeated) in the very next poll, and all run.
func TestWorker_StartQueueListsAttemptsAtOnce(t *testing.T) {
	const n = 30
	var tasks []api.Task
	for i := range n {
		tasks = append(tasks, printTask(uint64(100+i), "sleep 0.2"))
	}
	f := &fakeMaster{answer: func(k int, _ api.PollRequest) (*api.PollResponse, int) {
		if k == 1 {
			return &api.PollResponse{Tasks: tasks}, 200
		}
		return nil, 200
	}}
	startWorker(t, f, 5*time.Second, func(c *Config) { c.MaxTasks, c.MaxStarting = n, 2 })
	waitFor(t, "a second poll", func() bool { f.mu.Lock(); defer f.mu.Unlock(); return len(f.polls) >= 2 })
	f.mu.Lock()
	listed := len(f.polls[1].Running)
	f.mu.Unlock()
	if listed != n {
		t.Fatalf("second poll listed %d attempts, want all %d", listed, n)
	}
	waitFor(t, "every result", func() bool {
		for i := range n {
			if r, ok := f.result(uint64(100+i), 1); !ok || r.Status != api.StatusSucceeded {
				return false
			}
		}
		return true
	})
}

// TestWorker_PruneLogsKeepsTheNewest: logs an earlier run left are listed
// once, oldest first; from then on every ended attempt removes the oldest
// ended log beyond KeepLogs (and its rotated half), never a running
// attempt's log.
func TestWorker_PruneLogsKeepsTheNewest(t *testing.T) {
	dir := t.TempDir()
	w := &Worker{cfg: Config{LogDir: dir, KeepLogs: 3}, running: map[uint64]*attempt{}}
	old := time.Now().Add(-time.Hour)
	for i, name := range []string{"1-1.log", "2-1.log", "3-1.log"} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("x\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		// 1-1 newest of the three, 3-1 oldest.
		if err := os.Chtimes(p, old, old.Add(-time.Duration(i)*time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "3-1.log.1"), []byte("older half\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Attempt 9 is running: its log is never a candidate.
	w.running[9] = &attempt{task: api.Task{ID: 9, Attempt: 1}}
	if err := os.WriteFile(filepath.Join(dir, "9-1.log"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	left := func() []string {
		ents, _ := os.ReadDir(dir)
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		return names
	}
	for _, id := range []uint64{4, 5} {
		name := logName(id, 1)
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o600); err != nil {
			t.Fatal(err)
		}
		w.pruneLogs(name, false)
	}
	// Ended: 3-1, 2-1, 1-1 (old), 4-1, 5-1: the two oldest went.
	want := []string{"1-1.log", "4-1.log", "5-1.log", "9-1.log"} // and 3-1.log.1 with 3-1.log
	if got := left(); !slices.Equal(got, want) {
		t.Fatalf("logs left %v, want %v", got, want)
	}
}
