package fsm

import (
	"errors"
	"testing"
	"time"

	"github.com/scaleout/scaleout/catalog"
)

// A submission with an idempotency key creates its execution once: the
// same key again (another coalesced item, a later command) answers with
// the first id; a different request under the key is refused; after the
// TTL the key is free again, and the purge removes expired keys only.
func TestFSM_IdempotentSubmit(t *testing.T) {
	h := newHarness(t)
	spec := catalog.ExecutionSpec{PackageName: "p", Source: "name: p", IdempotencyKey: "k1", RequestHash: "h1"}
	other := spec
	other.IdempotencyKey = "k2"
	submit := func(at int64, specs ...catalog.ExecutionSpec) *SubmitResponse {
		req := &ExecutionSubmitRequest{Time: t0.Add(time.Duration(at) * time.Hour), Caller: "c"}
		for _, s := range specs {
			req.Executions = append(req.Executions, NewExecution{ExecutionSpec: s})
		}
		return h.apply(ExecutionSubmitType, req).(*SubmitResponse)
	}
	r := submit(0, spec, spec, other)
	if r.Err(0) != nil || r.Err(1) != nil || r.Err(2) != nil || r.IDs[0] != r.IDs[1] || r.IDs[2] == r.IDs[0] {
		t.Fatalf("first command: ids %v errors %v", r.IDs, r.Errors)
	}
	first := r.IDs[0]
	if r := submit(23, spec); r.Err(0) != nil || r.IDs[0] != first {
		t.Fatalf("retry within the TTL: ids %v errors %v", r.IDs, r.Errors)
	}
	changed := spec
	changed.RequestHash = "h2"
	if r := submit(23, changed); !errors.Is(r.Err(0), catalog.ErrKeyReused) || r.IDs[0] != 0 {
		t.Fatalf("key reused for another request: ids %v errors %v", r.IDs, r.Errors)
	}
	// An atomic bulk whose keys exist answers with the same ids.
	bulk := &ExecutionSubmitRequest{Time: t0, Atomic: true, Executions: []NewExecution{{ExecutionSpec: spec}, {ExecutionSpec: other}}}
	if br := h.apply(ExecutionSubmitType, bulk).(*SubmitResponse); br.IDs[0] != first || br.IDs[1] != r.IDs[2] {
		t.Fatalf("bulk retry: %v %v", br.IDs, br.Errors)
	}
	// A bulk that reuses a key for another request creates none of its
	// executions.
	third := spec
	third.IdempotencyKey = "k3"
	bad := &ExecutionSubmitRequest{Time: t0, Atomic: true, Executions: []NewExecution{{ExecutionSpec: third}, {ExecutionSpec: changed}}}
	if err, ok := h.apply(ExecutionSubmitType, bad).(error); !ok || !errors.Is(err, catalog.ErrKeyReused) {
		t.Fatalf("bulk reusing a key: %v", err)
	}
	list, err := catalog.Read(h.fsm.Store(), func(tx *catalog.Tx) ([]*catalog.Execution, error) { return tx.ListExecutions(catalog.ListOptions{}) })
	if err != nil {
		t.Fatal(err)
	}
	if n := len(list); n != 2 {
		t.Fatalf("%d executions, want 2", n)
	}
	// After the TTL: the key creates a new execution.
	if r := submit(25, spec); r.Err(0) != nil || r.IDs[0] == first {
		t.Fatalf("after the TTL: ids %v errors %v", r.IDs, r.Errors)
	}
	// The purge removes keys expired as of its time, not fresh ones.
	resp := h.apply(ExecutionPurgeType, &ExecutionPurgeRequest{Time: t0.Add(26 * time.Hour), IdempotencyKeys: []string{"k1", "k2", "nosuch"}}).(*PurgeResponse)
	if resp.IdempotencyKeys != 1 {
		t.Fatalf("purged %d keys, want 1 (k2; k1 was renewed at hour 25)", resp.IdempotencyKeys)
	}
}
