package master

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/scaleout/scaleout/api"
	"github.com/scaleout/scaleout/catalog"
	"github.com/scaleout/scaleout/catalog/pkgspec/pkgspectest"
	"github.com/scaleout/scaleout/cluster"
	"github.com/scaleout/scaleout/cluster/clustertest/poll"
)

// hello is the shared fixture package; its parameter who is a string.
const hello = pkgspectest.HelloYAML

func newMaster(t *testing.T, lease time.Duration) *Master {
	t.Helper()
	return newMasterWith(t, lease, nil)
}

func newMasterWith(t *testing.T, lease time.Duration, cipher *catalog.Cipher) *Master {
	t.Helper()
	m := startMaster(t, lease, cipher, newRaft(t))
	if err := m.RegisterWorker(context.Background(), &catalog.Worker{ID: "w1", Node: "n1", MaxTasks: 4}); err != nil {
		t.Fatal(err)
	}
	return m
}

// newRaft starts a one-node dev cluster, shut down when the test ends.
func newRaft(t *testing.T) *cluster.Cluster {
	t.Helper()
	cfg := cluster.DevConfig()
	cfg.NodeName = "n1"
	cfg.DataDir = t.TempDir()
	cfg.APIAddr = "http://127.0.0.1:1"
	cfg.Logger = hclog.NewNullLogger()
	c, err := cluster.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Shutdown() })
	return c
}

// startMaster starts a master over r with a fast expiry loop and waits
// until it leads.
func startMaster(t *testing.T, lease time.Duration, cipher *catalog.Cipher, r Raft) *Master {
	t.Helper()
	mc := DefaultConfig()
	mc.LeaseTimeout = lease
	mc.ExpiryInterval = 20 * time.Millisecond
	mc.Cipher = cipher
	m, err := New(mc, r)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	waitFor(t, "leadership", func() bool { return m.requireLeader() == nil })
	return m
}

// newCipher returns a cipher with a fresh key.
func newCipher(t *testing.T) *catalog.Cipher {
	t.Helper()
	key, _ := catalog.ParseKey(catalog.GenerateKey())
	cipher, err := catalog.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	return cipher
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	poll.True(t, 10*time.Second, what, cond)
}

func status(t *testing.T, m *Master, id uint64) catalog.Status {
	t.Helper()
	e, err := m.Execution(id)
	if err != nil {
		t.Fatal(err)
	}
	return e.Status
}

// finish reports result for attempt of id and fails the test unless the
// execution then stands in want.
func finish(t *testing.T, m *Master, id uint64, attempt int, result string, want catalog.Status) {
	t.Helper()
	if err := m.ReportResult(context.Background(), id, attempt, &api.ResultReport{Status: result}, nil); err != nil {
		t.Fatal(err)
	}
	if st := status(t, m, id); st != want {
		t.Fatalf("final status %s, want %s", st, want)
	}
}

func submit(t *testing.T, m *Master, retries int) uint64 {
	t.Helper()
	id, err := m.Submit(context.Background(), &api.SubmitRequest{Package: hello, Params: map[string]string{"who": "x"}, Retries: retries}, "test")
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// leaseOne polls as worker w1 with one free slot and fails the test unless
// the answer leases exactly one attempt, which it returns.
func leaseOne(t *testing.T, m *Master) api.Task {
	t.Helper()
	r, err := m.Poll(context.Background(), "w1", &api.PollRequest{Slots: 1})
	if err != nil || len(r.Tasks) != 1 {
		t.Fatalf("lease: %+v %v", r, err)
	}
	return r.Tasks[0]
}

func TestMaster_SubmitValidates(t *testing.T) {
	m := newMaster(t, 10*time.Second)
	cases := map[string]*api.SubmitRequest{
		"empty":                 {},
		"yaml":                  {Package: "name: [unclosed"},
		"unknown param":         {Package: hello, Params: map[string]string{"nope": "1"}},
		"negative retry":        {Package: hello, Retries: -1},
		"missing command":       {Package: "name: x\ntasks:\n  - name: a\n    exec: {}\n"},
		"undeclared connection": {Package: "name: x\ntasks:\n  - name: q\n    sql: {connection: nowhere, statement: select 1}\n"},
	}
	for name, req := range cases {
		if _, err := m.Submit(context.Background(), req, ""); !errors.Is(err, catalog.ErrInvalid) {
			t.Errorf("%s: err = %v, want catalog.ErrInvalid (400)", name, err)
		}
	}
	list, _ := m.Executions(catalog.ListOptions{})
	if len(list) != 0 {
		t.Fatalf("invalid submissions created %d executions", len(list))
	}
}

func TestMaster_PollLeasesAndLongPolls(t *testing.T) {
	m := newMaster(t, 10*time.Second)
	// An idle poll waits for work and answers as soon as it is submitted.
	got := make(chan *api.PollResponse, 1)
	go func() {
		r, err := m.Poll(context.Background(), "w1", &api.PollRequest{Slots: 2, WaitMS: 10000})
		if err != nil {
			t.Error(err)
		}
		got <- r
	}()
	id := submit(t, m, 0)
	var r *api.PollResponse
	select {
	case r = <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("long poll did not return after a submission")
	}
	if len(r.Tasks) != 1 || r.Tasks[0].ID != id || r.Tasks[0].Attempt != 1 || r.Tasks[0].Params["who"] != "x" {
		t.Fatalf("poll answer %+v", r)
	}
	if st := status(t, m, id); st != catalog.StatusRunning {
		t.Fatalf("status after lease %s", st)
	}
	// Unknown workers are told so (404) and must register.
	if _, err := m.Poll(context.Background(), "nobody", &api.PollRequest{}); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("poll of unknown worker: %v", err)
	}
	// Result of a superseded attempt is rejected with 409 and changes nothing.
	err := m.ReportResult(context.Background(), id, 2, &api.ResultReport{Status: "succeeded"}, nil)
	if !errors.Is(err, catalog.ErrStaleAttempt) {
		t.Fatalf("stale result: %v", err)
	}
	if err := m.ReportEvents(context.Background(), id, 1, 0, []catalog.Event{{Type: "stdout", Message: "hi"}}); err != nil {
		t.Fatal(err)
	}
	finish(t, m, id, 1, "succeeded", catalog.StatusSucceeded)
	if err := m.ReportEvents(context.Background(), id, 1, 0, nil); !errors.Is(err, catalog.ErrStaleAttempt) {
		t.Fatalf("events after the end: %v", err)
	}
}

// TestMaster_StopManyAnswersEachID: one bulk stop cancels pending
// executions, moves a running one to stopping and answers an unknown or
// ended id with its own error; over the limit it refuses the whole request.
func TestMaster_StopManyAnswersEachID(t *testing.T) {
	m := newMaster(t, 10*time.Second)
	a, b := submit(t, m, 0), submit(t, m, 0)
	leaseOne(t, m) // a runs
	sts, errs, err := m.StopMany(context.Background(), []uint64{a, b, 999, b}, "ops")
	if err != nil {
		t.Fatal(err)
	}
	if sts[0] != catalog.StatusStopping || errs[0] != nil || sts[1] != catalog.StatusCanceled || errs[1] != nil {
		t.Fatalf("statuses %v errors %v", sts, errs)
	}
	if !errors.Is(errs[2], catalog.ErrNotFound) || !errors.Is(errs[3], catalog.ErrAlreadyEnded) {
		t.Fatalf("per-id errors %v", errs)
	}
	if _, _, err := m.StopMany(context.Background(), make([]uint64, catalog.MaxBulkStop+1), "ops"); !errors.Is(err, catalog.ErrInvalid) {
		t.Fatalf("over the limit: %v, want ErrInvalid (400)", err)
	}
}

func TestMaster_StopWakesPoll(t *testing.T) {
	m := newMaster(t, 10*time.Second)
	id := submit(t, m, 0)
	leaseOne(t, m)
	running := []api.AttemptRef{{ID: id, Attempt: 1}}
	got := make(chan *api.PollResponse, 1)
	go func() {
		r, _ := m.Poll(context.Background(), "w1", &api.PollRequest{Running: running, WaitMS: 10000})
		got <- r
	}()
	st, err := m.Stop(context.Background(), id, "me")
	if err != nil || st != catalog.StatusStopping {
		t.Fatalf("stop: %s %v", st, err)
	}
	var r *api.PollResponse
	select {
	case r = <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("stop did not wake the poll")
	}
	if len(r.Stop) != 1 || r.Stop[0].ID != id {
		t.Fatalf("poll answer %+v", r)
	}
	// A worker that says it is already stopping is not told again.
	r, _ = m.Poll(context.Background(), "w1", &api.PollRequest{Running: []api.AttemptRef{{ID: id, Attempt: 1, Stopping: true}}})
	if len(r.Stop) != 0 {
		t.Fatalf("stop repeated: %+v", r)
	}
	finish(t, m, id, 1, "canceled", catalog.StatusCanceled)
}

func TestMaster_ExpiresSilentAttemptAndRetries(t *testing.T) {
	m := newMaster(t, 200*time.Millisecond)
	id := submit(t, m, 1)
	leaseOne(t, m)
	// No heartbeat: the lease runs out, the execution is pending again.
	waitFor(t, "expiry to pending", func() bool { return status(t, m, id) == catalog.StatusPending })
	r, _ := m.Poll(context.Background(), "w1", &api.PollRequest{Slots: 1})
	if len(r.Tasks) != 1 || r.Tasks[0].Attempt != 2 {
		t.Fatalf("retry lease %+v", r)
	}
	// The first attempt's late report is rejected.
	if err := m.ReportResult(context.Background(), id, 1, &api.ResultReport{Status: "succeeded"}, nil); !errors.Is(err, catalog.ErrStaleAttempt) {
		t.Fatalf("late report of attempt 1: %v", err)
	}
	waitFor(t, "second expiry", func() bool { return status(t, m, id) == catalog.StatusEndedUnexpectedly })
}

func TestMaster_HeartbeatKeepsLease(t *testing.T) {
	m := newMaster(t, 300*time.Millisecond)
	id := submit(t, m, 0)
	leaseOne(t, m)
	end := time.Now().Add(time.Second)
	for time.Now().Before(end) {
		r, err := m.Poll(context.Background(), "w1", &api.PollRequest{Running: []api.AttemptRef{{ID: id, Attempt: 1}}, WaitMS: 50})
		if err != nil || len(r.Drop) != 0 {
			t.Fatalf("heartbeat poll: %+v %v", r, err)
		}
	}
	if st := status(t, m, id); st != catalog.StatusRunning {
		t.Fatalf("status %s after heartbeats, want running", st)
	}
}

func TestMaster_WorkerThatLostAttemptIsReconciled(t *testing.T) {
	m := newMaster(t, time.Minute)
	id := submit(t, m, 1)
	leaseOne(t, m)
	// The worker restarted: it polls without the attempt. The master does not
	// wait for the lease to run out.
	r, err := m.Poll(context.Background(), "w1", &api.PollRequest{Slots: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Tasks) != 1 || r.Tasks[0].Attempt != 2 {
		t.Fatalf("after reconcile: %+v (status %s)", r, status(t, m, id))
	}
}

func TestMaster_InlineSensitiveParamsAreSealed(t *testing.T) {
	m := newMasterWith(t, 10*time.Second, newCipher(t))
	id, err := m.Submit(context.Background(), &api.SubmitRequest{Package: sensitivePkg, Params: map[string]string{"pw": "hunter2"}}, "t")
	if err != nil {
		t.Fatal(err)
	}
	e, _ := m.Execution(id)
	if !catalog.IsSealed(e.Params["pw"]) {
		t.Fatalf("stored value %q is not sealed", e.Params["pw"])
	}
	if task := leaseOne(t, m); task.Params["pw"] != "hunter2" {
		t.Fatalf("lease: %+v", task)
	}
}

// gossipRaft is the cluster with member events the test sends.
type gossipRaft struct {
	Raft
	events chan cluster.Member
}

func (g gossipRaft) MemberEvents() <-chan cluster.Member { return g.events }

// TestMaster_GossipFailureWaitsForTheLease: a node that gossip declares
// failed may only be cut off, with its worker still running its attempts
// until its own lease runs out; the master must not give them away before
// that. A node that left has stopped them: its attempts expire at once.
func TestMaster_GossipFailureWaitsForTheLease(t *testing.T) {
	lease := 600 * time.Millisecond
	g := gossipRaft{Raft: newRaft(t), events: make(chan cluster.Member, 4)}
	m := startMaster(t, lease, nil, g)
	ctx := context.Background()
	for _, w := range []string{"w1", "w2"} {
		if err := m.RegisterWorker(ctx, &catalog.Worker{ID: w, Node: w, MaxTasks: 1}); err != nil {
			t.Fatal(err)
		}
	}
	failed, left := submit(t, m, 1), submit(t, m, 1)
	// The lease starts while the poll is served: count from before it, so
	// that an expiry at the end of the lease is never seen as early.
	leased := time.Now()
	if r, _ := m.Poll(ctx, "w1", &api.PollRequest{Slots: 1}); len(r.Tasks) != 1 || r.Tasks[0].ID != failed {
		t.Fatalf("lease to w1: %+v", r)
	}
	if r, _ := m.Poll(ctx, "w2", &api.PollRequest{Slots: 1}); len(r.Tasks) != 1 || r.Tasks[0].ID != left {
		t.Fatalf("lease to w2: %+v", r)
	}
	g.events <- cluster.Member{Name: "w1", Status: cluster.StatusFailed}
	g.events <- cluster.Member{Name: "w2", Status: cluster.StatusLeft}
	waitFor(t, "the left node's attempt to expire", func() bool { return status(t, m, left) == catalog.StatusPending })
	if st := status(t, m, failed); st != catalog.StatusRunning && time.Since(leased) < lease {
		t.Fatalf("the failed node's attempt is %s before its lease ran out", st)
	}
	waitFor(t, "the failed node's attempt to expire with its lease", func() bool { return status(t, m, failed) == catalog.StatusPending })
	if d := time.Since(leased); d < lease {
		t.Fatalf("the failed node's attempt expired after %s, before its lease of %s", d, lease)
	}
}

// TestMaster_UnopenableSealedValueFailsExecution: a value sealed with
// another key fails its execution with a message instead of looping.
func TestMaster_UnopenableSealedValueFailsExecution(t *testing.T) {
	k1, _ := catalog.ParseKey(catalog.GenerateKey())
	k2, _ := catalog.ParseKey(catalog.GenerateKey())
	c1, _ := catalog.NewCipher(k1)
	c2, _ := catalog.NewCipher(k2)
	m := newMasterWith(t, 10*time.Second, c1)
	id, err := m.Submit(context.Background(), &api.SubmitRequest{Package: sensitivePkg, Params: map[string]string{"pw": "x"}}, "t")
	if err != nil {
		t.Fatal(err)
	}
	m.cfg.Cipher = c2 // as if the leader had another key
	r, err := m.Poll(context.Background(), "w1", &api.PollRequest{Slots: 1})
	if err != nil || len(r.Tasks) != 0 {
		t.Fatalf("poll: %+v %v", r, err)
	}
	e, _ := m.Execution(id)
	if e.Status != catalog.StatusFailed || !strings.Contains(e.Message, "encrypt-key") {
		t.Fatalf("execution %s: %q", e.Status, e.Message)
	}
}

// sensitivePkg declares one sensitive parameter, pw.
const sensitivePkg = "name: s\nparameters:\n  pw: {type: string, sensitive: true}\ntasks:\n  - name: a\n    exec: {command: [/bin/true]}\n"

// TestMaster_WorkerProtocolWaitsForTheLeaseTable: between winning an
// election and applying its predecessor's last entries (barrier) a new
// leader's store may lack the newest leases; a poll answered then would
// tell a worker to drop an attempt it rightly holds. Until the lease table
// is rebuilt, the worker protocol gets "not the leader" (the worker polls
// again) instead.
func TestMaster_WorkerProtocolWaitsForTheLeaseTable(t *testing.T) {
	m := newMaster(t, 10*time.Second)
	id := submit(t, m, 0)
	leaseOne(t, m)
	m.mu.Lock()
	m.ready = false // as right after an election, before the barrier
	m.mu.Unlock()
	running := []api.AttemptRef{{ID: id, Attempt: 1}}
	if _, err := m.Poll(context.Background(), "w1", &api.PollRequest{Running: running}); !errors.Is(err, cluster.ErrNotLeader) {
		t.Fatalf("poll before the lease table is rebuilt: %v, want not the leader", err)
	}
	if err := m.ReportEvents(context.Background(), id, 1, 0, nil); !errors.Is(err, cluster.ErrNotLeader) {
		t.Fatalf("events before the lease table is rebuilt: %v", err)
	}
	m.mu.Lock()
	m.ready = true
	m.mu.Unlock()
	r, err := m.Poll(context.Background(), "w1", &api.PollRequest{Running: running})
	if err != nil || len(r.Drop) != 0 {
		t.Fatalf("poll after: %+v %v", r, err)
	}
}
