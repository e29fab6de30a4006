package fsm

import (
	"bytes"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/scaleout/scaleout/catalog"
)

var t0 = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

// harness applies commands to an FSM over a fresh store, for tests and
// benchmarks.
type harness struct {
	t     testing.TB
	fsm   *FSM
	index uint64
}

func newHarness(t testing.TB) *harness {
	return &harness{t: t, fsm: New(catalog.TestStore(t), nil)}
}

func (h *harness) encode(typ MessageType, msg any) []byte {
	h.t.Helper()
	buf, err := Encode(typ, msg)
	if err != nil {
		h.t.Fatal(err)
	}
	return buf
}

func (h *harness) log(typ MessageType, msg any) *raft.Log {
	h.t.Helper()
	buf := h.encode(typ, msg)
	h.index++
	return &raft.Log{Index: h.index, Term: 1, Type: raft.LogCommand, Data: buf}
}

// snapshot persists a snapshot of h's FSM and returns its bytes.
func (h *harness) snapshot() []byte {
	h.t.Helper()
	snap, err := h.fsm.Snapshot()
	if err != nil {
		h.t.Fatal(err)
	}
	defer snap.Release()
	var s sink
	if err := snap.Persist(&s); err != nil {
		h.t.Fatal(err)
	}
	return s.Bytes()
}

// restore restores h's FSM from snapshot bytes.
func (h *harness) restore(data []byte) {
	h.t.Helper()
	if err := h.fsm.Restore(ioNopCloser{bytes.NewReader(data)}); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) apply(typ MessageType, msg any) any {
	h.t.Helper()
	return h.fsm.Apply(h.log(typ, msg))
}

func (h *harness) execution(id uint64) *catalog.Execution {
	h.t.Helper()
	e, err := catalog.Read(h.fsm.Store(), func(tx *catalog.Tx) (*catalog.Execution, error) { return tx.Execution(id) })
	if err != nil {
		h.t.Fatal(err)
	}
	return e
}

func (h *harness) submit(n int, retries int) []uint64 {
	h.t.Helper()
	req := &ExecutionSubmitRequest{Time: t0, Caller: "test"}
	for i := 0; i < n; i++ {
		req.Executions = append(req.Executions, NewExecution{ExecutionSpec: catalog.ExecutionSpec{PackageName: "p", Source: "name: p", Retries: retries}})
	}
	resp, ok := h.apply(ExecutionSubmitType, req).(*SubmitResponse)
	if !ok {
		h.t.Fatalf("submit response %T", resp)
	}
	return resp.IDs
}

func TestEncodeDecode(t *testing.T) {
	in := &ExecutionStopRequest{Time: t0, ID: 7, Caller: "me"}
	buf, err := Encode(ExecutionStopType, in)
	if err != nil {
		t.Fatal(err)
	}
	if MessageType(buf[0]) != ExecutionStopType {
		t.Fatalf("type byte %d", buf[0])
	}
	var out ExecutionStopRequest
	if err := Decode(buf, &out); err != nil || out != *in {
		t.Fatalf("decode: %+v, %v", out, err)
	}
}

func TestFSM_ApplyExecutionLifecycle(t *testing.T) {
	h := newHarness(t)
	ids := h.submit(3, 0)
	if len(ids) != 3 || ids[0] != 1 || ids[2] != 3 {
		t.Fatalf("ids %v", ids)
	}
	// Lease two; one of them twice in the same command: the duplicate fails alone.
	resp := h.apply(ExecutionLeaseType, &ExecutionLeaseRequest{Time: t0, Worker: "w1",
		Items: []LeaseItem{{ID: 1, Attempt: 1}, {ID: 2, Attempt: 1}, {ID: 1, Attempt: 1}, {ID: 99, Attempt: 1}}}).(*ItemsResponse)
	if resp.Err(0) != nil || resp.Err(1) != nil || resp.Err(2) == nil || !errors.Is(resp.Err(3), catalog.ErrNotFound) {
		t.Fatalf("lease errors %v", resp.Errors)
	}
	ev := h.apply(ExecutionEventsType, &ExecutionEventsRequest{Time: t0, Items: []EventsItem{
		{ID: 1, Attempt: 1, Events: []catalog.Event{{Type: "stdout", Message: "hello"}}},
		{ID: 2, Attempt: 7, Events: []catalog.Event{{Type: "stdout", Message: "stale"}}},
	}}).(*ItemsResponse)
	if ev.Err(0) != nil || !errors.Is(ev.Err(1), catalog.ErrStaleAttempt) {
		t.Fatalf("events errors %v", ev.Errors)
	}
	fin := h.apply(ExecutionFinishType, &ExecutionFinishRequest{Time: t0, Items: []FinishItem{
		{ID: 1, Attempt: 1, Status: catalog.StatusSucceeded, Events: []catalog.Event{{Type: "post_execute", Message: "done"}}},
	}}).(*ItemsResponse)
	if fin.Err(0) != nil {
		t.Fatal(fin.Err(0))
	}
	e := h.execution(1)
	if e.Status != catalog.StatusSucceeded || e.EventCount != 5 {
		t.Fatalf("execution 1: %s with %d events", e.Status, e.EventCount)
	}
	var evs []catalog.Event
	_ = h.fsm.Store().View(func(tx *catalog.Tx) error { evs, _ = tx.Events(1, 0, 0); return nil })
	want := []string{"status_change", "status_change", "stdout", "post_execute", "status_change"}
	for i, w := range want {
		if evs[i].Type != w || evs[i].Seq != uint64(i+1) {
			t.Fatalf("event %d = %+v, want type %s", i, evs[i], w)
		}
	}
	if evs[2].Attempt != 1 || evs[2].Time != t0 {
		t.Fatalf("reported event not stamped: %+v", evs[2])
	}

	// Expire of 2 without retries: ended_unexpectedly. Stop of 3 (pending): canceled.
	h.apply(ExecutionExpireType, &ExecutionExpireRequest{Time: t0, Items: []ExpireItem{{ID: 2, Attempt: 1, Reason: "lost"}}})
	if st := h.execution(2).Status; st != catalog.StatusEndedUnexpectedly {
		t.Fatalf("execution 2: %s", st)
	}
	if err := h.apply(ExecutionStopType, &ExecutionStopRequest{Time: t0, ID: 3}); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if err, _ := h.apply(ExecutionStopType, &ExecutionStopRequest{Time: t0, ID: 3}).(error); !errors.Is(err, catalog.ErrAlreadyEnded) {
		t.Fatalf("second stop: %v", err)
	}
	if err, _ := h.apply(ExecutionStopType, &ExecutionStopRequest{Time: t0, ID: 42}).(error); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("stop unknown: %v", err)
	}
}

// TestFSM_StopsEachItemOnItsOwn: coalesced stops end each execution they
// can and answer the others with their own error (already ended, not
// found), recording every caller.
func TestFSM_StopsEachItemOnItsOwn(t *testing.T) {
	h := newHarness(t)
	ids := h.submitN(3)
	if err := h.apply(ExecutionStopType, &ExecutionStopRequest{Time: t0, ID: ids[2]}); err != nil {
		t.Fatal(err)
	}
	resp, ok := h.apply(ExecutionStopsType, &ExecutionStopsRequest{Time: t0, Items: []StopItem{
		{ID: ids[0], Caller: "alice"}, {ID: 4242}, {ID: ids[1], Caller: "bob"}, {ID: ids[2]}}}).(*ItemsResponse)
	if !ok || len(resp.Errors) != 4 {
		t.Fatalf("response %#v", resp)
	}
	if resp.Errors[0] != nil || resp.Errors[2] != nil || !errors.Is(resp.Errors[1], catalog.ErrNotFound) || !errors.Is(resp.Errors[3], catalog.ErrAlreadyEnded) {
		t.Fatalf("per-item errors %v", resp.Errors)
	}
	for _, id := range ids {
		if st := h.execution(id).Status; st != catalog.StatusCanceled {
			t.Fatalf("execution %d: %s", id, st)
		}
	}
	var evs []catalog.Event
	_ = h.fsm.Store().View(func(tx *catalog.Tx) error { evs, _ = tx.Events(ids[1], 0, 0); return nil })
	if last := evs[len(evs)-1]; !strings.Contains(last.Message, "bob") {
		t.Fatalf("stop event of execution %d does not name its caller: %+v", ids[1], last)
	}
}

func TestFSM_SubmitRejectsNegativeRetries(t *testing.T) {
	h := newHarness(t)
	bad := NewExecution{ExecutionSpec: catalog.ExecutionSpec{PackageName: "p", Source: "name: p", Retries: -1}}
	good := NewExecution{ExecutionSpec: catalog.ExecutionSpec{PackageName: "p", Source: "name: p"}}
	// Atomic (bulk): one bad execution fails the command, nothing is created.
	r := h.apply(ExecutionSubmitType, &ExecutionSubmitRequest{Time: t0, Atomic: true, Executions: []NewExecution{good, bad}})
	if err, ok := r.(error); !ok || !errors.Is(err, catalog.ErrInvalid) {
		t.Fatalf("atomic response %v, want an invalid error", r)
	}
	// Coalesced: the bad one fails alone.
	sr, ok := h.apply(ExecutionSubmitType, &ExecutionSubmitRequest{Time: t0, Executions: []NewExecution{bad, good}}).(*SubmitResponse)
	if !ok || !errors.Is(sr.Err(0), catalog.ErrInvalid) || sr.IDs[0] != 0 || sr.Err(1) != nil || sr.IDs[1] != 1 {
		t.Fatalf("coalesced response %+v", sr)
	}
	if h.submit(1, 0)[0] != 2 {
		t.Fatal("a rejected submit consumed an id")
	}
}

func TestFSM_WorkerRegisterKeepsEnabled(t *testing.T) {
	h := newHarness(t)
	h.apply(WorkerRegisterType, &WorkerRegisterRequest{Time: t0, Worker: catalog.Worker{ID: "w1", MaxTasks: 2}})
	_ = h.fsm.Store().Update(func(tx *catalog.Tx) error {
		w, _ := tx.Worker("w1")
		w.Enabled = false
		return tx.PutWorker(w)
	})
	h.apply(WorkerRegisterType, &WorkerRegisterRequest{Time: t0.Add(time.Hour), Worker: catalog.Worker{ID: "w1", MaxTasks: 5}})
	_ = h.fsm.Store().View(func(tx *catalog.Tx) error {
		w, err := tx.Worker("w1")
		if err != nil || w.Enabled || w.MaxTasks != 5 || !w.RegisteredAt.Equal(t0) {
			t.Errorf("re-registered worker %+v, %v", w, err)
		}
		return nil
	})
}

// TestFSM_ReplaySkipsApplied re-applies entries that the store already
// holds, as raft does after a restart, and checks nothing is applied twice.
func TestFSM_ReplaySkipsApplied(t *testing.T) {
	path := filepath.Join(t.TempDir(), "catalog.db")
	st, err := catalog.Open(path, catalog.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, fsm: New(st, nil)}
	var logs []*raft.Log
	for i := 0; i < 3; i++ {
		logs = append(logs, h.log(ExecutionSubmitType, &ExecutionSubmitRequest{Time: t0, Executions: []NewExecution{{ExecutionSpec: catalog.ExecutionSpec{PackageName: "p", Source: "name: p"}}}}))
	}
	h.fsm.ApplyBatch(logs)
	st.Close()

	st, err = catalog.Open(path, catalog.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	f := New(st, nil)
	// Replay from index 2 (as after a snapshot at 1) plus one new entry.
	next := h.log(ExecutionSubmitType, &ExecutionSubmitRequest{Time: t0, Executions: []NewExecution{{ExecutionSpec: catalog.ExecutionSpec{PackageName: "p", Source: "name: p"}}}})
	resps := f.ApplyBatch(append(logs[1:], next))
	if resps[0] != nil || resps[1] != nil {
		t.Fatalf("replayed entries answered %v", resps[:2])
	}
	if ids := resps[2].(*SubmitResponse).IDs; len(ids) != 1 || ids[0] != 4 {
		t.Fatalf("new entry got ids %v, want [4]", ids)
	}
	var n int
	_ = st.View(func(tx *catalog.Tx) error {
		list, _ := tx.ListExecutions(catalog.ListOptions{})
		n = len(list)
		return nil
	})
	if n != 4 {
		t.Fatalf("%d executions after replay, want 4", n)
	}
}

type sink struct {
	bytes.Buffer
	canceled bool
}

func (s *sink) ID() string    { return "test" }
func (s *sink) Cancel() error { s.canceled = true; return nil }
func (s *sink) Close() error  { return nil }

func TestFSM_SnapshotRestore(t *testing.T) {
	h := newHarness(t)
	h.submit(2, 1)
	h.apply(ExecutionLeaseType, &ExecutionLeaseRequest{Time: t0, Worker: "w1", Items: []LeaseItem{{ID: 2, Attempt: 1}}})
	h.apply(WorkerRegisterType, &WorkerRegisterRequest{Time: t0, Worker: catalog.Worker{ID: "w1", MaxTasks: 2}})

	data := h.snapshot()

	h2 := newHarness(t)
	h2.submit(5, 0) // state that the restore must replace
	changed := h2.fsm.Changed()
	h2.restore(data)
	select {
	case <-changed:
	default:
		t.Fatal("restore did not signal a change")
	}
	for _, id := range []uint64{1, 2} {
		a, b := h.execution(id), h2.execution(id)
		if a.Status != b.Status || a.Attempt != b.Attempt || a.EventCount != b.EventCount || a.Worker != b.Worker {
			t.Fatalf("execution %d differs after restore: %+v vs %+v", id, a, b)
		}
	}
	_ = h2.fsm.Store().View(func(tx *catalog.Tx) error {
		if list, _ := tx.ListExecutions(catalog.ListOptions{}); len(list) != 2 {
			t.Errorf("%d executions after restore, want 2", len(list))
		}
		if _, err := tx.Worker("w1"); err != nil {
			t.Errorf("worker lost in restore: %v", err)
		}
		return nil
	})
	// The id counter is part of the state: the next id continues after 2.
	// Raft continues after the snapshot's index.
	h2.index = h.index
	if id := h2.submit(1, 0)[0]; id != 3 {
		t.Fatalf("next id after restore %d, want 3", id)
	}
}

type ioNopCloser struct{ *bytes.Reader }

func (ioNopCloser) Close() error { return nil }

func TestFSM_UnknownCommand(t *testing.T) {
	h := newHarness(t)
	if r := h.fsm.Apply(&raft.Log{Index: 1, Type: raft.LogCommand, Data: []byte{byte(IgnoreUnknownTypeFlag | 99), '{', '}'}}); r != nil {
		t.Fatalf("ignorable unknown command answered %v", r)
	}
	// Without the flag a newer server wrote it: this one stops applying
	// (unhealthy, no panic) until it is upgraded or shut down.
	done := make(chan any, 1)
	go func() { done <- h.fsm.Apply(&raft.Log{Index: 2, Type: raft.LogCommand, Data: []byte{99, '{', '}'}}) }()
	waitHealth(t, h.fsm, false)
	if err := h.fsm.Health().Err; !errors.Is(err, errUnknownType) {
		t.Fatalf("health error %v, want the unknown type", err)
	}
	if _, err := h.fsm.Snapshot(); !errors.Is(err, catalog.ErrStorage) {
		t.Fatalf("snapshot of a stuck FSM: %v, want ErrStorage", err)
	}
	h.fsm.Close()
	select {
	case r := <-done:
		if err, _ := r.(error); !errors.Is(err, catalog.ErrStorage) {
			t.Fatalf("stuck apply answered %v after Close, want ErrStorage", r)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not end the retry loop")
	}
	if idx, _, _ := h.fsm.Store().Applied(); idx != 1 {
		t.Fatalf("applied index %d after giving up, want 1 (the entry must replay)", idx)
	}
	// Raft may hand over later entries while it shuts down: applying them
	// would move the applied index past the entry given up on, which would
	// then never replay. They are refused too.
	r := h.fsm.Apply(&raft.Log{Index: 3, Type: raft.LogCommand, Data: []byte{byte(IgnoreUnknownTypeFlag | 99), '{', '}'}})
	if err, _ := r.(error); !errors.Is(err, catalog.ErrStorage) {
		t.Fatalf("an entry after giving up answered %v, want ErrStorage", r)
	}
	if idx, _, _ := h.fsm.Store().Applied(); idx != 1 {
		t.Fatalf("applied index %d after a later entry, want 1 (the entry given up on must replay)", idx)
	}
}

// TestFSM_RestoreFromAnotherLog restores a snapshot whose applied index is
// far ahead of this log (a backup of an older cluster restored into a young
// one): the entries raft hands over afterwards must still be applied.
func TestFSM_RestoreFromAnotherLog(t *testing.T) {
	old := newHarness(t)
	old.index = 5000
	old.submit(2, 0)
	data := old.snapshot()

	young := newHarness(t)
	young.index = 20
	young.restore(data)
	ids := young.submit(1, 0)
	if len(ids) != 1 || ids[0] != 3 {
		t.Fatalf("submission after restoring a snapshot from a longer log got ids %v, want [3]", ids)
	}
}

// TestMessageType_Names checks that every command with an applier has a
// name in the one table logs and errors use.
func TestMessageType_Names(t *testing.T) {
	for mt := range appliers {
		if n := mt.String(); strings.HasPrefix(n, "MessageType(") {
			t.Errorf("command type %d has no name", uint8(mt))
		}
		if n := (mt | IgnoreUnknownTypeFlag).String(); n != mt.String() {
			t.Errorf("flagged %d is named %q, want %q", uint8(mt), n, mt.String())
		}
	}
	if n := MessageType(77).String(); n != "MessageType(77)" {
		t.Errorf("unknown type named %q", n)
	}
}
