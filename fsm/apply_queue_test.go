package fsm

import (
	"errors"
	"fmt"
	"math/rand"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/scaleout/scaleout/catalog"
)

func TestFSM_CreateSetStart(t *testing.T) {
	h := newHarness(t)
	spec := catalog.ExecutionSpec{PackageName: "p", Source: "name: p", Unstarted: true, Params: map[string]string{"a": "1"}}
	resp := h.apply(ExecutionSubmitType, &ExecutionSubmitRequest{Time: t0, Executions: []NewExecution{{ExecutionSpec: spec}}}).(*SubmitResponse)
	id := resp.IDs[0]
	e := h.execution(id)
	if e.Status != catalog.StatusCreated || e.QueuedAt != nil {
		t.Fatalf("created: %s", e.Status)
	}
	// Nothing leases a created execution.
	lr := h.apply(ExecutionLeaseType, &ExecutionLeaseRequest{Time: t0, Worker: "w", Items: []LeaseItem{{ID: id, Attempt: 1}}}).(*ItemsResponse)
	if !errors.Is(lr.Err(0), catalog.ErrNotPending) {
		t.Fatalf("lease of a created execution: %v", lr.Err(0))
	}
	next := e.ExecutionSpec
	next.Params = map[string]string{"a": "2"}
	next.Priority = 3
	if err := h.apply(ExecutionSetSpecType, &ExecutionSetSpecRequest{Time: t0, ID: id, ExpectEvents: e.EventCount, Spec: next, What: "a"}); err != nil {
		t.Fatalf("set: %v", err)
	}
	// A second change prepared from the old read is refused.
	if err := h.apply(ExecutionSetSpecType, &ExecutionSetSpecRequest{Time: t0, ID: id, ExpectEvents: e.EventCount, Spec: next}); !errors.Is(err.(error), catalog.ErrNotCreated) {
		t.Fatalf("stale set: %v", err)
	}
	sr := h.apply(ExecutionStartType, &ExecutionStartRequest{Time: t0, Items: []StartItem{{ID: id, Caller: "me"}, {ID: 999}}}).(*ItemsResponse)
	if sr.Err(0) != nil || !errors.Is(sr.Err(1), catalog.ErrNotFound) {
		t.Fatalf("start: %v", sr.Errors)
	}
	e = h.execution(id)
	if e.Status != catalog.StatusPending || e.Params["a"] != "2" || e.Priority != 3 || e.Unstarted {
		t.Fatalf("started: %+v", e)
	}
	if err := h.apply(ExecutionSetSpecType, &ExecutionSetSpecRequest{Time: t0, ID: id, ExpectEvents: e.EventCount, Spec: next}); !errors.Is(err.(error), catalog.ErrNotCreated) {
		t.Fatalf("set after start: %v", err)
	}
	ids, _ := catalog.Read(h.fsm.Store(), func(tx *catalog.Tx) ([]uint64, error) { return tx.PendingIDs(0), nil })
	if fmt.Sprint(ids) != fmt.Sprint([]uint64{id}) {
		t.Fatalf("pending = %v", ids)
	}
}

func TestFSM_LeaseHoldsCaps(t *testing.T) {
	h := newHarness(t)
	if err := h.apply(CapSetType, &CapSetRequest{Time: t0, Setting: catalog.CapSetting{Cap: catalog.Cap{Scope: catalog.CapCluster}, MaxConcurrent: 2}}); err != nil {
		t.Fatal(err)
	}
	ids := h.submit(4, 0)
	var items []LeaseItem
	for _, id := range ids {
		items = append(items, LeaseItem{ID: id, Attempt: 1})
	}
	lr := h.apply(ExecutionLeaseType, &ExecutionLeaseRequest{Time: t0, Worker: "w", Items: items}).(*ItemsResponse)
	if lr.Err(0) != nil || lr.Err(1) != nil || !errors.Is(lr.Err(2), catalog.ErrNotPending) || !errors.Is(lr.Err(3), catalog.ErrNotPending) {
		t.Fatalf("lease of 4 under a cap of 2: %v", lr.Errors)
	}
	h.apply(ExecutionFinishType, &ExecutionFinishRequest{Time: t0, Items: []FinishItem{{ID: ids[0], Attempt: 1, Status: catalog.StatusSucceeded}}})
	lr = h.apply(ExecutionLeaseType, &ExecutionLeaseRequest{Time: t0, Worker: "w", Items: items[2:]}).(*ItemsResponse)
	if lr.Err(0) != nil || lr.Err(1) == nil {
		t.Fatalf("after one finished: %v", lr.Errors)
	}
	if err := h.apply(CapSetType, &CapSetRequest{Time: t0, Setting: catalog.CapSetting{Cap: catalog.Cap{Scope: "bogus"}, MaxConcurrent: 2}}); !errors.Is(err.(error), catalog.ErrInvalid) {
		t.Fatalf("bad scope: %v", err)
	}
}

func TestFSM_FailedAttemptRetriedAfterDelay(t *testing.T) {
	h := newHarness(t)
	spec := catalog.ExecutionSpec{PackageName: "p", Source: "name: p", Retries: 1, RetryDelay: 5 * time.Second}
	id := h.apply(ExecutionSubmitType, &ExecutionSubmitRequest{Time: t0, Executions: []NewExecution{{ExecutionSpec: spec}}}).(*SubmitResponse).IDs[0]
	h.apply(ExecutionLeaseType, &ExecutionLeaseRequest{Time: t0, Worker: "w", Items: []LeaseItem{{ID: id, Attempt: 1}}})
	h.apply(ExecutionFinishType, &ExecutionFinishRequest{Time: t0, Items: []FinishItem{{ID: id, Attempt: 1, Status: catalog.StatusFailed, Message: "exit 1"}}})
	e := h.execution(id)
	if e.Status != catalog.StatusPending || e.NotBefore == nil || !e.NotBefore.Equal(t0.Add(5*time.Second)) {
		t.Fatalf("after a failed attempt: %s, not before %v", e.Status, e.NotBefore)
	}
	lr := h.apply(ExecutionLeaseType, &ExecutionLeaseRequest{Time: t0.Add(4 * time.Second), Worker: "w", Items: []LeaseItem{{ID: id, Attempt: 2}}}).(*ItemsResponse)
	if lr.Err(0) == nil {
		t.Fatal("leased during the retry delay")
	}
	lr = h.apply(ExecutionLeaseType, &ExecutionLeaseRequest{Time: t0.Add(5 * time.Second), Worker: "w", Items: []LeaseItem{{ID: id, Attempt: 2}}}).(*ItemsResponse)
	if lr.Err(0) != nil {
		t.Fatal(lr.Err(0))
	}
}

func TestFSM_PurgesStaleUnstarted(t *testing.T) {
	h := newHarness(t)
	spec := catalog.ExecutionSpec{PackageName: "p", Source: "name: p", Unstarted: true}
	id := h.apply(ExecutionSubmitType, &ExecutionSubmitRequest{Time: t0, Executions: []NewExecution{{ExecutionSpec: spec}}}).(*SubmitResponse).IDs[0]
	pr := h.apply(ExecutionPurgeType, &ExecutionPurgeRequest{Time: t0, IDs: []uint64{id}, UnstartedBefore: t0}).(*PurgeResponse)
	if pr.Executions != 0 {
		t.Fatal("purged an execution created at the cut-off")
	}
	pr = h.apply(ExecutionPurgeType, &ExecutionPurgeRequest{Time: t0, IDs: []uint64{id}, UnstartedBefore: t0.Add(time.Second)}).(*PurgeResponse)
	if pr.Executions != 1 {
		t.Fatal("stale unstarted execution not purged")
	}
}

// TestFSM_QueueAppliersNeverPanic feeds the queue's appliers malformed
// and random payloads: each must answer (an error, or a response), never
// panic, and a rejected command must change nothing.
func TestFSM_QueueAppliersNeverPanic(t *testing.T) {
	h := newHarness(t)
	h.submit(3, 1)
	payloads := []string{``, `null`, `{}`, `[]`, `{"items":null}`, `{"items":[null]}`, `{"items":[{"id":-1}]}`,
		`{"id":1,"spec":null}`, `{"id":1,"spec":{"package_name":""}}`, `{"id":18446744073709551615}`,
		`{"setting":{"scope":"package","max_concurrent":-5}}`, `{"setting":{"scope":"cluster","max_concurrent":9223372036854775807}}`,
		`{"items":[{"id":1,"caller":"` + string(make([]byte, 600)) + `"}]}`, `"x"`, `{"time":"not a time"}`}
	rng := rand.New(rand.NewSource(7))
	for i := 0; i < 200; i++ {
		b := make([]byte, rng.Intn(40))
		rng.Read(b)
		payloads = append(payloads, string(b))
	}
	for _, typ := range []MessageType{ExecutionStartType, ExecutionSetSpecType, CapSetType} {
		for _, p := range payloads {
			h.index++
			func() {
				defer func() {
					if r := recover(); r != nil {
						t.Fatalf("%s with %q panicked: %v", typ, p, r)
					}
				}()
				_ = h.fsm.Apply(rawLog(h.index, typ, p))
			}()
		}
	}
	// The executions are untouched by every rejected command.
	for id := uint64(1); id <= 3; id++ {
		if e := h.execution(id); e.Status != catalog.StatusPending {
			t.Fatalf("execution %d is %s after malformed commands", id, e.Status)
		}
	}
}

func rawLog(index uint64, typ MessageType, payload string) *raft.Log {
	return &raft.Log{Index: index, Term: 1, Type: raft.LogCommand, Data: append([]byte{byte(typ)}, payload...)}
}
