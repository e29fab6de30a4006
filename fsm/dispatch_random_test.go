package fsm

import (
	"fmt"
	"math/rand"
	"testing"

	"github.com/scaleout/scaleout/catalog"
)

// TestFSM_RandomDispatch applies random sequences of submit, lease, events,
// finish, expire (lost, interrupted, handed back) and stop commands, with
// current, stale and future attempt numbers, through the FSM, and checks
// after every command that: every execution has exactly one status and a
// terminal one never changes; at most one attempt is open, and only while
// the execution is running or stopping; the pending and active indexes
// agree with the statuses; rejected reports change nothing.
func TestFSM_RandomDispatch(t *testing.T) {
	for seed := int64(1); seed <= 8; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { randomDispatch(t, seed, 250) })
	}
}

func randomDispatch(t *testing.T, seed int64, steps int) {
	rng := rand.New(rand.NewSource(seed))
	h := newHarness(t)
	terminal := map[uint64]catalog.Status{}
	var ids []uint64
	pick := func() (uint64, int) {
		id := ids[rng.Intn(len(ids))]
		e := h.execution(id)
		return id, e.Attempt + rng.Intn(3) - 1
	}
	for step := 0; step < steps; step++ {
		if len(ids) == 0 || rng.Intn(6) == 0 {
			ids = append(ids, h.submit(1+rng.Intn(3), rng.Intn(3))...)
			continue
		}
		id, attempt := pick()
		before := h.execution(id)
		var itemErr error
		switch rng.Intn(7) {
		case 0:
			r := h.apply(ExecutionLeaseType, &ExecutionLeaseRequest{Time: t0, Worker: fmt.Sprintf("w%d", rng.Intn(3)), Items: []LeaseItem{{ID: id, Attempt: attempt}}})
			itemErr = r.(*ItemsResponse).Err(0)
		case 1:
			r := h.apply(ExecutionEventsType, &ExecutionEventsRequest{Time: t0, Items: []EventsItem{{ID: id, Attempt: attempt, Events: []catalog.Event{{Type: "stdout", Message: "x"}}}}})
			itemErr = r.(*ItemsResponse).Err(0)
		case 2:
			st := []catalog.Status{catalog.StatusSucceeded, catalog.StatusFailed, catalog.StatusCanceled}[rng.Intn(3)]
			r := h.apply(ExecutionFinishType, &ExecutionFinishRequest{Time: t0, Items: []FinishItem{{ID: id, Attempt: attempt, Status: st}}})
			itemErr = r.(*ItemsResponse).Err(0)
		case 3, 4:
			it := ExpireItem{ID: id, Attempt: attempt, Reason: "x", Interrupted: rng.Intn(3) == 0}
			it.HandBack = !it.Interrupted && rng.Intn(3) == 0
			r := h.apply(ExecutionExpireType, &ExecutionExpireRequest{Time: t0, Items: []ExpireItem{it}})
			itemErr = r.(*ItemsResponse).Err(0)
		default:
			if err, _ := h.apply(ExecutionStopType, &ExecutionStopRequest{Time: t0, ID: id}).(error); err != nil {
				itemErr = err
			}
		}
		after := h.execution(id)
		if itemErr != nil && (after.Status != before.Status || after.Attempt != before.Attempt || after.EventCount != before.EventCount) {
			t.Fatalf("step %d: a rejected command (%v) changed execution %d: %+v -> %+v", step, itemErr, id, before, after)
		}
		checkInvariants(t, h, step, terminal)
	}
}

func checkInvariants(t *testing.T, h *harness, step int, terminal map[uint64]catalog.Status) {
	t.Helper()
	_ = h.fsm.Store().View(func(tx *catalog.Tx) error {
		list, err := tx.ListExecutions(catalog.ListOptions{Limit: 100000})
		if err != nil {
			t.Fatal(err)
		}
		pending := map[uint64]bool{}
		for _, id := range tx.PendingIDs(0) {
			pending[id] = true
		}
		active := map[uint64]bool{}
		acts, _ := tx.ActiveExecutions()
		for _, e := range acts {
			active[e.ID] = true
		}
		for _, e := range list {
			if !e.Status.Valid() {
				t.Fatalf("step %d: execution %d has status %q", step, e.ID, e.Status)
			}
			if st, ok := terminal[e.ID]; ok && st != e.Status {
				t.Fatalf("step %d: execution %d went from terminal %s to %s", step, e.ID, st, e.Status)
			}
			if e.Status.Terminal() {
				terminal[e.ID] = e.Status
			}
			open := 0
			for _, a := range e.Attempts {
				if a.EndedAt == nil {
					open++
				}
			}
			if open > 1 || (open == 1) != e.Status.Active() {
				t.Fatalf("step %d: execution %d is %s with %d open attempts", step, e.ID, e.Status, open)
			}
			if pending[e.ID] != (e.Status == catalog.StatusPending) || active[e.ID] != e.Status.Active() {
				t.Fatalf("step %d: indexes disagree with status %s of %d (pending %v active %v)", step, e.Status, e.ID, pending[e.ID], active[e.ID])
			}
			if e.Attempt-e.HandBacks > e.Retries+1 {
				t.Fatalf("step %d: execution %d used %d attempts with %d retries", step, e.ID, e.Attempt-e.HandBacks, e.Retries)
			}
		}
		return nil
	})
}
