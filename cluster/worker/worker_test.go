package worker

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/scaleout/scaleout/api"
	"github.com/scaleout/scaleout/cluster/clustertest/poll"
)

// The test binary doubles as the package process: the worker re-executes it
// with this variable set.
const childEnv = "SCALEOUT_WORKER_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		os.Exit(ChildMain(os.Stdin, os.Stdout))
	}
	os.Setenv(childEnv, "1")
	os.Exit(m.Run())
}

// fakeMaster answers the worker protocol from a script.
type fakeMaster struct {
	mu      sync.Mutex
	polls   []api.PollRequest
	answer  func(n int, req api.PollRequest) (*api.PollResponse, int)
	results map[string]api.ResultReport
	events  []api.Event
	// slowEvents delays every events report (a slow master).
	slowEvents time.Duration
	// down answers every poll, event and result report with 503.
	down atomic.Bool
}

func (f *fakeMaster) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case r.URL.Path == "/v1/workers":
		w.Write([]byte("{}"))
	case f.down.Load():
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte(`{"error":"no leader"}`))
	case strings.HasSuffix(r.URL.Path, "/poll"):
		var req api.PollRequest
		json.NewDecoder(r.Body).Decode(&req)
		f.polls = append(f.polls, req)
		resp, code := f.answer(len(f.polls), req)
		if code != 200 {
			w.WriteHeader(code)
			w.Write([]byte(`{"error":"master unavailable"}`))
			return
		}
		if resp == nil {
			time.Sleep(time.Duration(req.WaitMS) * time.Millisecond / 4) // a short long-poll
			resp = &api.PollResponse{}
		}
		json.NewEncoder(w).Encode(resp)
	case strings.HasSuffix(r.URL.Path, "/events"):
		if f.slowEvents > 0 {
			f.mu.Unlock()
			time.Sleep(f.slowEvents)
			f.mu.Lock()
		}
		var rep api.EventsReport
		json.NewDecoder(r.Body).Decode(&rep)
		f.events = append(f.events, rep.Events...)
		w.Write([]byte("{}"))
	case strings.HasSuffix(r.URL.Path, "/result"):
		var rep api.ResultReport
		json.NewDecoder(r.Body).Decode(&rep)
		f.results[r.URL.Path] = rep
		f.events = append(f.events, rep.Events...)
		w.Write([]byte("{}"))
	default:
		w.WriteHeader(404)
	}
}

func (f *fakeMaster) result(id uint64, attempt int) (api.ResultReport, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.results[fmt.Sprintf("/v1/executions/%d/attempts/%d/result", id, attempt)]
	return r, ok
}

func sleepTask(id uint64, marker string) api.Task {
	return api.Task{ID: id, Attempt: 1, PackageName: "sleep", PackageFile: "sleep.yaml",
		Package: "name: sleep\ntasks:\n  - name: nap\n    exec:\n      command: [/bin/sh, -c, 'sleep " + marker + "']\n"}
}

func startWorker(t *testing.T, f *fakeMaster, lease time.Duration, opts ...func(*Config)) *Worker {
	t.Helper()
	return startWorkerWith(t, f, f, lease, opts...)
}

// startWorkerWith is startWorker with h (wrapping f) answering the worker.
func startWorkerWith(t *testing.T, h http.Handler, f *fakeMaster, lease time.Duration, opts ...func(*Config)) *Worker {
	t.Helper()
	f.results = map[string]api.ResultReport{}
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	exe, _ := os.Executable()
	client, _ := api.NewClient(api.Config{Address: ts.URL})
	cfg := DefaultConfig()
	cfg.ID, cfg.Node = "w", "w"
	cfg.PollWait = 100 * time.Millisecond
	cfg.LeaseTimeout = lease
	cfg.KillGrace = 500 * time.Millisecond
	cfg.Command = []string{exe}
	cfg.TaskEnvAllow = []string{childEnv} // the re-executed test binary must see it
	cfg.WorkDir = t.TempDir()
	cfg.Client = client
	cfg.Logger = hclog.New(&hclog.LoggerOptions{Level: hclog.Debug, Output: os.Stderr})
	for _, o := range opts {
		o(&cfg)
	}
	w, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); w.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return w
}

func processRunning(marker string) bool {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		raw, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		stat, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if strings.Contains(strings.ReplaceAll(string(raw), "\x00", " "), "sleep "+marker) && !strings.Contains(string(stat), ") Z ") {
			return true
		}
	}
	return false
}

// leaseOnce answers the first poll with task and every later one with an
// empty answer of the given status.
func leaseOnce(task api.Task, later int) func(int, api.PollRequest) (*api.PollResponse, int) {
	return func(n int, _ api.PollRequest) (*api.PollResponse, int) {
		if n == 1 {
			return &api.PollResponse{Tasks: []api.Task{task}}, 200
		}
		return nil, later
	}
}

// waitFor polls cond until it holds. The deadline only ends a test that
// is broken: under make test-stress (both CPUs burnt, -race) a package
// process takes up to a second to start, and TestWorker_StartQueueListsAttemptsAtOnce's
// 30 fresh ones, two at a time, took more than the 15 s this used to be.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	poll.True(t, time.Minute, what, cond)
}

func marker() string { return strconv.Itoa(1000 + int(time.Now().UnixNano()%8000)) }

// TestWorker_FencesItselfWhenCutOff: a worker that cannot reach the master
// for a whole lease kills its attempts, since the master has given them away.
func TestWorker_FencesItselfWhenCutOff(t *testing.T) {
	m := marker()
	lease := time.Second
	// The master answers (and so renews the lease) until the task process
	// runs, however slowly it starts on a loaded machine; then it is gone.
	var lastOK atomic.Int64 // when the master last answered a poll
	gone := false           // the master has gone for good (under f.mu)
	f := &fakeMaster{answer: func(n int, req api.PollRequest) (*api.PollResponse, int) {
		switch {
		case n == 1:
			lastOK.Store(time.Now().UnixNano())
			return &api.PollResponse{Tasks: []api.Task{sleepTask(1, m)}}, 200
		case !gone && !processRunning(m):
			lastOK.Store(time.Now().UnixNano())
			return nil, 200
		}
		gone = true
		return nil, 503
	}}
	w := startWorker(t, f, lease)
	// The master saw the task process run before it went (the fence may
	// end the process sooner than a poll of the test would see it).
	waitFor(t, "the task process", func() bool { f.mu.Lock(); defer f.mu.Unlock(); return gone })
	waitFor(t, "the worker to kill its attempt", func() bool { return !processRunning(m) && w.Running() == 0 })
	// The package process fences itself a lease after the sending of the
	// last answered poll (the master renewed at its arrival), so that its
	// tasks are gone when the master may lease the execution again. Its
	// fence is renewed when less
	// than seven eighths of the budget is left, so it ends between seven
	// eighths of the budget and the budget after the last answered poll;
	// not earlier.
	if d, budget := time.Since(time.Unix(0, lastOK.Load())), w.fenceBudget(); d < budget*6/10 {
		t.Fatalf("attempt killed %s after the last answered poll, before the fence budget of %s could have run out", d, budget)
	}
	if _, reported := f.result(1, 1); reported {
		t.Fatal("a fenced attempt reported a result")
	}
}

// TestWorker_FencesItselfWhenPollHangs: when the network drops packets, a
// poll hangs instead of failing (up to PollWait + 5 s); the worker must still
// kill its attempts when its lease runs out, counted from the last poll's
// sending, since the master renewed the lease when that poll arrived.
func TestWorker_FencesItselfWhenPollHangs(t *testing.T) {
	m := marker()
	release := make(chan struct{})
	hanging := false // under f.mu
	var hangSince atomic.Int64
	f := &fakeMaster{answer: func(n int, _ api.PollRequest) (*api.PollResponse, int) {
		switch {
		case n == 1:
			return &api.PollResponse{Tasks: []api.Task{sleepTask(1, m)}}, 200
		case !hanging && !processRunning(m):
			return nil, 200 // renew until the process runs, however slowly it starts
		}
		if !hanging {
			hangSince.Store(time.Now().UnixNano())
		}
		hanging = true
		<-release
		return nil, 503
	}}
	lease := time.Second
	startWorker(t, f, lease)
	t.Cleanup(func() { close(release) }) // runs before the server closes
	// The master saw the task process before its polls began to hang (the
	// hanging poll holds f.mu, hence the atomic).
	waitFor(t, "the task process", func() bool { return hangSince.Load() != 0 })
	start := time.Unix(0, hangSince.Load())
	waitFor(t, "the worker to kill its attempt", func() bool { return !processRunning(m) })
	// The last successful poll was sent before start: the process must be
	// gone within a lease of it, plus the fencing clock's tick and the kill.
	if d := time.Since(start); d > lease+lease/10+300*time.Millisecond {
		t.Fatalf("attempt killed %s after the polls began to hang, lease %s", d, lease)
	}
}

func TestWorker_StopReportsCanceled(t *testing.T) {
	m := marker()
	var once sync.Once
	f := &fakeMaster{}
	f.answer = func(n int, req api.PollRequest) (*api.PollResponse, int) {
		if n == 1 {
			return &api.PollResponse{Tasks: []api.Task{sleepTask(2, m)}}, 200
		}
		var resp *api.PollResponse
		for _, r := range req.Running {
			if r.ID == 2 && !r.Stopping && processRunning(m) {
				once.Do(func() { resp = &api.PollResponse{Stop: []api.AttemptRef{{ID: 2, Attempt: 1}}} })
			}
		}
		return resp, 200
	}
	w := startWorker(t, f, 5*time.Second)
	waitFor(t, "a canceled result", func() bool { r, ok := f.result(2, 1); return ok && r.Status == "canceled" })
	waitFor(t, "the process to be gone", func() bool { return !processRunning(m) && w.Running() == 0 })
	f.mu.Lock()
	defer f.mu.Unlock()
	var types []string
	for _, ev := range f.events {
		types = append(types, ev.Type)
	}
	if !strings.Contains(strings.Join(types, ","), "post_execute") {
		t.Fatalf("events of the stopped attempt: %v", types)
	}
}

func TestWorker_DropKillsWithoutReport(t *testing.T) {
	m := marker()
	f := &fakeMaster{}
	f.answer = func(n int, req api.PollRequest) (*api.PollResponse, int) {
		if n == 1 {
			return &api.PollResponse{Tasks: []api.Task{sleepTask(3, m)}}, 200
		}
		if len(req.Running) > 0 && processRunning(m) {
			return &api.PollResponse{Drop: []api.AttemptRef{{ID: 3, Attempt: 1}}}, 200
		}
		return nil, 200
	}
	w := startWorker(t, f, 5*time.Second)
	waitFor(t, "the dropped attempt to be gone", func() bool { return n(f) > 2 && !processRunning(m) && w.Running() == 0 })
	if _, reported := f.result(3, 1); reported {
		t.Fatal("a dropped attempt reported a result")
	}
}

func n(f *fakeMaster) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.polls)
}

func TestWorker_DrainHandsBack(t *testing.T) {
	m := marker()
	f := &fakeMaster{answer: leaseOnce(sleepTask(4, m), 200)}
	w := startWorker(t, f, 5*time.Second)
	waitFor(t, "the task process", func() bool { return processRunning(m) })
	w.Drain(200 * time.Millisecond)
	r, ok := f.result(4, 1)
	if !ok || r.Status != "handed_back" {
		t.Fatalf("drained attempt reported %+v (%v)", r, ok)
	}
	if processRunning(m) {
		t.Fatal("the handed-back attempt still runs")
	}
	f.mu.Lock()
	last := f.polls[len(f.polls)-1]
	f.mu.Unlock()
	if last.Slots != 0 {
		t.Fatalf("a draining worker asked for %d tasks", last.Slots)
	}
}

// TestWorker_CutOffKeepsAFinishedResult: a worker cut off from the master
// for longer than a lease kills its running attempts, but an attempt whose
// package has ended has nothing to kill: its result is kept and delivered
// when a master answers again (a new leader gives every running attempt a
// full lease). Dropping it threw finished work away, and the execution
// ran again.
func TestWorker_CutOffKeepsAFinishedResult(t *testing.T) {
	lease := 3 * time.Second // room for the package process to start under -race
	f := &fakeMaster{}
	f.answer = func(n int, req api.PollRequest) (*api.PollResponse, int) {
		if n == 1 {
			f.down.Store(true) // the master is gone once it has leased the attempt
			return &api.PollResponse{Tasks: []api.Task{{ID: 1, Attempt: 1, PackageName: "hi", PackageFile: "hi.yaml",
				Package: "name: hi\ntasks:\n  - name: hi\n    exec:\n      command: [/bin/sh, -c, 'sleep 1; echo done']\n"}}}, 200
		}
		return nil, 200
	}
	start := time.Now()
	w := startWorker(t, f, lease)
	waitFor(t, "the package to end (its events and result pending)", func() bool {
		for _, a := range w.attempts() {
			if a.packageEnded() {
				return true
			}
		}
		return false
	})
	// Cut off for three leases: the fence runs (it ticks every tenth of a
	// lease) a lease after the last answered poll, while the last events
	// of the package, which ended a second after that poll, are still being
	// sent (for a lease); it must leave the finished attempt alone.
	deadline := start.Add(3 * lease)
	poll.True(t, 30*time.Second, "three leases cut off", func() bool { return time.Now().After(deadline) })
	if w.Running() != 1 {
		t.Fatalf("the finished attempt was dropped while cut off (%d attempts left)", w.Running())
	}
	f.down.Store(false)
	waitFor(t, "the result to arrive", func() bool { r, ok := f.result(1, 1); return ok && r.Status == "succeeded" })
}
