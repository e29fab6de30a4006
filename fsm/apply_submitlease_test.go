package fsm

import (
	"errors"
	"testing"

	"github.com/scaleout/scaleout/catalog"
)

// A submission that leases creates its executions and leases the named
// ones in the same entry: attempt 1 on the worker, the poll token
// recorded, the others left pending; a lease that cannot apply (an index
// outside the submission, an execution that was not created, a full cap)
// fails alone and leaves its execution pending.
func TestFSM_SubmitLease(t *testing.T) {
	h := newHarness(t)
	spec := catalog.ExecutionSpec{PackageName: "p", Source: "name: p"}
	req := &ExecutionSubmitLeaseRequest{
		ExecutionSubmitRequest: ExecutionSubmitRequest{Time: t0, Caller: "test", Executions: []NewExecution{
			{ExecutionSpec: spec}, {ExecutionSpec: spec}, {ExecutionSpec: catalog.ExecutionSpec{PackageName: "bad"}}}},
		Leases: []SubmitLease{{Index: 0, Worker: "w1", Poll: "b1-3"}, {Index: 2, Worker: "w1"}, {Index: 7, Worker: "w1"}},
	}
	r, ok := h.apply(ExecutionSubmitLeaseType, req).(*SubmitResponse)
	if !ok || r.Leased == nil || len(r.Leased.Errors) != 3 {
		t.Fatalf("response %#v", r)
	}
	if r.Err(0) != nil || r.Err(1) != nil || r.Err(2) == nil {
		t.Fatalf("creation errors %v", r.Errors)
	}
	if r.Leased.Err(0) != nil || !errors.Is(r.Leased.Err(1), catalog.ErrInvalid) || !errors.Is(r.Leased.Err(2), catalog.ErrInvalid) {
		t.Fatalf("lease errors %v", r.Leased.Errors)
	}
	e := h.execution(r.IDs[0])
	if e.Status != catalog.StatusRunning || e.Attempt != 1 || e.Worker != "w1" || len(e.Attempts) != 1 || e.Attempts[0].Poll != "b1-3" ||
		e.StartedAt == nil || !e.StartedAt.Equal(t0) {
		t.Fatalf("leased execution %+v", e)
	}
	if e := h.execution(r.IDs[1]); e.Status != catalog.StatusPending || e.Attempt != 0 {
		t.Fatalf("unleased execution %s attempt %d, want pending 0", e.Status, e.Attempt)
	}

	// A full cap: the execution is created and stays pending.
	if err := h.apply(CapSetType, &CapSetRequest{Time: t0, Setting: catalog.CapSetting{Cap: catalog.Cap{Scope: catalog.CapCluster}, MaxConcurrent: 1}}); err != nil {
		t.Fatal(err)
	}
	req = &ExecutionSubmitLeaseRequest{ExecutionSubmitRequest: ExecutionSubmitRequest{Time: t0, Caller: "test", Executions: []NewExecution{{ExecutionSpec: spec}}},
		Leases: []SubmitLease{{Index: 0, Worker: "w2"}}}
	r = h.apply(ExecutionSubmitLeaseType, req).(*SubmitResponse)
	if r.Err(0) != nil || !errors.Is(r.Leased.Err(0), catalog.ErrNotPending) {
		t.Fatalf("over the cap: creation %v, lease %v", r.Err(0), r.Leased.Err(0))
	}
	if e := h.execution(r.IDs[0]); e.Status != catalog.StatusPending {
		t.Fatalf("over the cap: %s, want pending", e.Status)
	}

	// An atomic submission that fails creates and leases nothing.
	req = &ExecutionSubmitLeaseRequest{ExecutionSubmitRequest: ExecutionSubmitRequest{Time: t0, Caller: "test", Atomic: true,
		Executions: []NewExecution{{ExecutionSpec: spec}, {ExecutionSpec: catalog.ExecutionSpec{PackageName: "bad"}}}},
		Leases: []SubmitLease{{Index: 0, Worker: "w1"}}}
	if err, ok := h.apply(ExecutionSubmitLeaseType, req).(error); !ok || err == nil {
		t.Fatalf("atomic submission with an invalid execution: %v", err)
	}
}

// Wrapped in the operations log, the command records one create_execution
// per execution, as a plain submission does.
func TestFSM_SubmitLeaseIsLogged(t *testing.T) {
	h := newHarness(t)
	req := &ExecutionSubmitLeaseRequest{ExecutionSubmitRequest: ExecutionSubmitRequest{Time: t0, Caller: "test",
		Executions: []NewExecution{{ExecutionSpec: catalog.ExecutionSpec{PackageName: "p", Source: "name: p"}}}},
		Leases: []SubmitLease{{Index: 0, Worker: "w1"}}}
	r, ok := h.op("alice", ExecutionSubmitLeaseType, req, t0.AddDate(-1, 0, 0)).(*SubmitResponse)
	if !ok || r.Err(0) != nil || r.Leased.Err(0) != nil {
		t.Fatalf("response %#v", r)
	}
	ops := h.operations(catalog.OperationFilter{})
	if len(ops) != 1 || ops[0].Type != "create_execution" || ops[0].Result != "succeeded" || ops[0].Caller != "test" {
		t.Fatalf("operations %+v", ops)
	}
	if e := h.execution(r.IDs[0]); e.Status != catalog.StatusRunning {
		t.Fatalf("status %s, want running", e.Status)
	}
}
