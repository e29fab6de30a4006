package master

import (
	"context"
	"testing"
	"time"

	"github.com/scaleout/scaleout/api"
	"github.com/scaleout/scaleout/catalog"
	"github.com/scaleout/scaleout/fsm"
)

// appliedIndex is the Raft index the master's store has applied.
func appliedIndex(t *testing.T, m *Master) uint64 {
	t.Helper()
	i, _, err := m.store.Applied()
	if err != nil {
		t.Fatal(err)
	}
	return i
}

// parkedPoll starts a poll of w1 with one free slot and waits until it is
// parked on the master; the poll's answer comes on the channel.
func parkPoll(t *testing.T, m *Master, token string, wait time.Duration) <-chan *api.PollResponse {
	t.Helper()
	return parkPollCtx(t, context.Background(), m, token, wait)
}

func parkPollCtx(t *testing.T, ctx context.Context, m *Master, token string, wait time.Duration) <-chan *api.PollResponse {
	t.Helper()
	out := make(chan *api.PollResponse, 1)
	go func() {
		r, err := m.Poll(ctx, "w1", &api.PollRequest{Slots: 1, WaitMS: int(wait / time.Millisecond), Token: token})
		if err != nil {
			t.Errorf("poll: %v", err)
		}
		out <- r
	}()
	waitFor(t, "the poll to park", func() bool {
		m.mu.Lock()
		defer m.mu.Unlock()
		return m.parked["w1"] != nil
	})
	return out
}

func answer(t *testing.T, ch <-chan *api.PollResponse) *api.PollResponse {
	t.Helper()
	select {
	case r := <-ch:
		if r == nil {
			t.Fatal("poll failed")
		}
		return r
	case <-time.After(30 * time.Second):
		t.Fatal("no answer to the poll")
	}
	return nil
}

// Idle: a submission while a poll waits with a free slot and nothing is
// pending is created and leased to that poll's worker in one Raft entry,
// and the poll answers with it; the lease names the poll.
func TestMaster_IdleSubmissionIsLeasedInItsOwnEntry(t *testing.T) {
	m := newMaster(t, 10*time.Second)
	polled := parkPoll(t, m, "boot-1", 30*time.Second)
	before := appliedIndex(t, m)
	id := submit(t, m, 0)
	r := answer(t, polled)
	if len(r.Tasks) != 1 || r.Tasks[0].ID != id || r.Tasks[0].Attempt != 1 || r.Tasks[0].Params["who"] != "x" {
		t.Fatalf("poll answer %+v, want execution %d attempt 1", r.Tasks, id)
	}
	if n := appliedIndex(t, m) - before; n != 1 {
		t.Fatalf("%d Raft entries for the submission and its lease, want 1", n)
	}
	e, _ := m.Execution(id)
	if e.Status != catalog.StatusRunning || e.Worker != "w1" || len(e.Attempts) != 1 || e.Attempts[0].Poll != "boot-1" {
		t.Fatalf("execution %+v", e)
	}
	m.mu.Lock()
	l, parked := m.leases[id], len(m.parked)
	m.mu.Unlock()
	if l == nil || l.worker != "w1" || l.attempt != 1 || l.poll != "boot-1" || parked != 0 {
		t.Fatalf("lease table %+v, parked polls %d", l, parked)
	}
}

// Busy: with an execution already pending, a new one is queued behind it
// and leased by the poll's own scan (two entries: submission, lease), in
// the queue's order.
func TestMaster_SubmissionWithAQueueIsNotHandedOff(t *testing.T) {
	m := newMaster(t, 10*time.Second)
	ctx := context.Background()
	// Pending for a worker that is not there: it stays in the queue.
	if _, err := m.Submit(ctx, &api.SubmitRequest{Package: hello, Params: map[string]string{"who": "x"}, Workers: []string{"w9"}, QueueOptions: api.QueueOptions{WaitForWorker: true}}, "test"); err != nil {
		t.Fatal(err)
	}
	polled := parkPoll(t, m, "boot-2", 30*time.Second)
	before := appliedIndex(t, m)
	id := submit(t, m, 0)
	r := answer(t, polled)
	if len(r.Tasks) != 1 || r.Tasks[0].ID != id {
		t.Fatalf("poll answer %+v, want execution %d", r.Tasks, id)
	}
	if n := appliedIndex(t, m) - before; n != 2 {
		t.Fatalf("%d Raft entries, want 2 (submission, then the lease of the woken poll)", n)
	}
}

// slowRaft holds back the commands of one type until release is closed,
// and can pretend that a server of an older version is in the
// configuration.
type slowRaft struct {
	Raft
	hold    fsm.MessageType
	held    chan struct{} // gets a value when a held command waits
	release chan struct{}
	older   bool
}

func (s *slowRaft) Apply(ctx context.Context, t fsm.MessageType, msg any) (any, uint64, error) {
	if t == s.hold {
		s.held <- struct{}{}
		<-s.release
	}
	return s.Raft.Apply(ctx, t, msg)
}

func (s *slowRaft) Supports(t fsm.MessageType) bool { return !s.older && s.Raft.Supports(t) }

func newSlowMaster(t *testing.T, s *slowRaft) *Master {
	t.Helper()
	s.Raft = newRaft(t)
	m := startMaster(t, 10*time.Second, nil, s)
	if err := m.RegisterWorker(context.Background(), &catalog.Worker{ID: "w1", Node: "n1", MaxTasks: 4}); err != nil {
		t.Fatal(err)
	}
	return m
}

// A poll whose wait ends while the submission that leases to it is being
// committed answers with that attempt once it is: its lease names the poll, and a
// worker that never heard of it would have it expired as lost.
func TestMaster_PollWaitsForTheSubmissionThatLeasesToIt(t *testing.T) {
	s := &slowRaft{hold: fsm.ExecutionSubmitLeaseType, held: make(chan struct{}, 1), release: make(chan struct{})}
	m := newSlowMaster(t, s)
	pctx, endWait := context.WithCancel(context.Background())
	defer endWait()
	polled := parkPollCtx(t, pctx, m, "boot-3", 10*time.Second)
	type submitted struct {
		id  uint64
		err error
	}
	done := make(chan submitted, 1)
	go func() {
		id, err := m.Submit(context.Background(), &api.SubmitRequest{Package: hello, Params: map[string]string{"who": "x"}}, "test")
		done <- submitted{id, err}
	}()
	<-s.held
	// The poll's wait ends (as when its time is up, or its caller goes)
	// while the submission that leases to it waits to be committed.
	endWait()
	waitFor(t, "the poll's wait to end", func() bool {
		m.mu.Lock()
		defer m.mu.Unlock()
		return m.parked["w1"] == nil
	})
	close(s.release)
	sub := <-done
	if sub.err != nil {
		t.Fatal(sub.err)
	}
	if r := answer(t, polled); len(r.Tasks) != 1 || r.Tasks[0].ID != sub.id {
		t.Fatalf("poll answer %+v, want execution %d", r, sub.id)
	}
}

// While a server does not apply the combined command (a rolling upgrade),
// submissions and leases are separate commands, as before.
func TestMaster_OlderServerGetsNoSubmitLease(t *testing.T) {
	s := &slowRaft{older: true}
	m := newSlowMaster(t, s)
	polled := parkPoll(t, m, "boot-4", 30*time.Second)
	before := appliedIndex(t, m)
	id := submit(t, m, 0)
	if r := answer(t, polled); len(r.Tasks) != 1 || r.Tasks[0].ID != id {
		t.Fatalf("poll answer %+v, want execution %d", r, id)
	}
	if n := appliedIndex(t, m) - before; n != 2 {
		t.Fatalf("%d Raft entries, want 2", n)
	}
}

// A parked poll holds its worker as it was when it parked. A disable
// acknowledged after that must count at once: the next submission is not
// handed to that poll (make test-stress: a worker disabled just before a
// submission ran it, because its parked poll had not woken yet).
func TestMaster_DisabledWorkerGetsNoHandoffFromAStalePoll(t *testing.T) {
	m := newMaster(t, 10*time.Second)
	ctx := context.Background()
	w := workerNow(t, m)
	p := m.park(w, 1, "stale-1") // as a poll that has not woken since
	if err := m.SetWorkerEnabled(ctx, "w1", false); err != nil {
		t.Fatal(err)
	}
	id := submit(t, m, 0)
	if tasks, err := m.unpark(p); err != nil || len(tasks) != 0 {
		t.Fatalf("the disabled worker's stale poll was handed %+v (err %v)", tasks, err)
	}
	if s := status(t, m, id); s != catalog.StatusPending {
		t.Fatalf("execution %d is %s after a submission to a cluster whose only worker is disabled, want pending", id, s)
	}
}

// The poll's own scan reads its worker again: a disable applied after the
// poll read it leases nothing, and enabling it again leases the execution.
func TestMaster_LeaseReadsTheWorkerAgain(t *testing.T) {
	m := newMaster(t, 10*time.Second)
	ctx := context.Background()
	w := workerNow(t, m)
	if err := m.SetWorkerEnabled(ctx, "w1", false); err != nil {
		t.Fatal(err)
	}
	id := submit(t, m, 0)
	tasks, _, err := m.lease(ctx, w, 1, "stale-2")
	if err != nil || len(tasks) != 0 {
		t.Fatalf("a scan with the worker as read before its disable leased %+v (err %v)", tasks, err)
	}
	if err := m.SetWorkerEnabled(ctx, "w1", true); err != nil {
		t.Fatal(err)
	}
	if tasks, _, err = m.lease(ctx, w, 1, "fresh-2"); err != nil || len(tasks) != 1 || tasks[0].ID != id {
		t.Fatalf("enabled again: leased %+v (err %v), want execution %d", tasks, err, id)
	}
}

// workerNow is w1's record as the store holds it now (a poll's view of its
// worker when it arrives).
func workerNow(t *testing.T, m *Master) *catalog.Worker {
	t.Helper()
	w, err := m.worker("w1")
	if err != nil {
		t.Fatal(err)
	}
	return w
}
