package fsm

import (
	"fmt"
	"math/rand"
	"testing"
	"time"

	"github.com/scaleout/scaleout/catalog"
)

// TestFSM_RandomDispatch applies random sequences of submit, lease, events,
// finish, expire (lost, interrupted, handed back) and stop commands, with
// current, stale and future attempt numbers, through the FSM, and checks
// after every command that: every execution has exactly one status and a
// terminal one never changes; at most one attempt is open, and only while
// the execution is running or stopping; the pending, active, created and
// per-cap indexes agree with the statuses; the pending index is in
// priority order; a lease never runs more than a cap allows; rejected
// reports change nothing. The queue's commands (start, set, caps) and
// retry delays (the stamped time moves on) are mixed in.
func TestFSM_RandomDispatch(t *testing.T) {
	for seed := int64(1); seed <= 8; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { randomDispatch(t, seed, 250) })
	}
}

func randomDispatch(t *testing.T, seed int64, steps int) {
	rng := rand.New(rand.NewSource(seed))
	h := newHarness(t)
	now := t0
	terminal := map[uint64]catalog.Status{}
	var ids []uint64
	pick := func() (uint64, int) {
		id := ids[rng.Intn(len(ids))]
		e := h.execution(id)
		return id, e.Attempt + rng.Intn(3) - 1
	}
	for step := 0; step < steps; step++ {
		if len(ids) == 0 || rng.Intn(6) == 0 {
			req := &ExecutionSubmitRequest{Time: now}
			for i := 0; i < 1+rng.Intn(3); i++ {
				req.Executions = append(req.Executions, NewExecution{ExecutionSpec: catalog.ExecutionSpec{
					PackageName: []string{"p", "q"}[rng.Intn(2)], Source: "name: p", Retries: rng.Intn(3),
					Priority: rng.Intn(3) - 1, RetryDelay: time.Duration(rng.Intn(3)) * time.Second,
					MaxConcurrent: rng.Intn(3), Unstarted: rng.Intn(4) == 0}})
			}
			ids = append(ids, h.apply(ExecutionSubmitType, req).(*SubmitResponse).IDs...)
			continue
		}
		id, attempt := pick()
		before := h.execution(id)
		var itemErr error
		switch rng.Intn(11) {
		case 7:
			now = now.Add(time.Duration(rng.Intn(1500)) * time.Millisecond)
			continue
		case 8:
			r := h.apply(ExecutionStartType, &ExecutionStartRequest{Time: now, Items: []StartItem{{ID: id}}})
			itemErr = r.(*ItemsResponse).Err(0)
		case 9:
			next := before.ExecutionSpec
			next.Priority = rng.Intn(5) - 2
			if err, _ := h.apply(ExecutionSetSpecType, &ExecutionSetSpecRequest{Time: now, ID: id, ExpectEvents: before.EventCount, Spec: next}).(error); err != nil {
				itemErr = err
			}
		case 10:
			h.apply(CapSetType, &CapSetRequest{Time: now, Setting: catalog.CapSetting{Cap: catalog.Cap{Scope: catalog.CapCluster}, MaxConcurrent: rng.Intn(4)}})
			continue
		case 0:
			r := h.apply(ExecutionLeaseType, &ExecutionLeaseRequest{Time: now, Worker: fmt.Sprintf("w%d", rng.Intn(3)), Items: []LeaseItem{{ID: id, Attempt: attempt}}})
			itemErr = r.(*ItemsResponse).Err(0)
			if itemErr == nil {
				checkCaps(t, h, step, id)
			}
		case 1:
			r := h.apply(ExecutionEventsType, &ExecutionEventsRequest{Time: now, Items: []EventsItem{{ID: id, Attempt: attempt, Events: []catalog.Event{{Type: "stdout", Message: "x"}}}}})
			itemErr = r.(*ItemsResponse).Err(0)
		case 2:
			st := []catalog.Status{catalog.StatusSucceeded, catalog.StatusFailed, catalog.StatusCanceled}[rng.Intn(3)]
			r := h.apply(ExecutionFinishType, &ExecutionFinishRequest{Time: now, Items: []FinishItem{{ID: id, Attempt: attempt, Status: st}}})
			itemErr = r.(*ItemsResponse).Err(0)
		case 3, 4:
			it := ExpireItem{ID: id, Attempt: attempt, Reason: "x", Interrupted: rng.Intn(3) == 0}
			it.HandBack = !it.Interrupted && rng.Intn(3) == 0
			r := h.apply(ExecutionExpireType, &ExecutionExpireRequest{Time: now, Items: []ExpireItem{it}})
			itemErr = r.(*ItemsResponse).Err(0)
		default:
			if err, _ := h.apply(ExecutionStopType, &ExecutionStopRequest{Time: now, ID: id}).(error); err != nil {
				itemErr = err
			}
		}
		after := h.execution(id)
		if itemErr != nil && (after.Status != before.Status || after.Attempt != before.Attempt || after.EventCount != before.EventCount || after.Priority != before.Priority) {
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
		var prev *catalog.Execution
		for _, id := range tx.PendingIDs(0) {
			pending[id] = true
			e, err := tx.Execution(id)
			if err != nil {
				t.Fatal(err)
			}
			if prev != nil && (e.Priority > prev.Priority || (e.Priority == prev.Priority && e.ID < prev.ID)) {
				t.Fatalf("step %d: pending index has %d (priority %d) after %d (priority %d)", step, e.ID, e.Priority, prev.ID, prev.Priority)
			}
			prev = e
		}
		created, _ := tx.UnstartedExecutions(t0.Add(1000*time.Hour), 100000)
		createdSet := map[uint64]bool{}
		for _, id := range created {
			createdSet[id] = true
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
			if createdSet[e.ID] != (e.Status == catalog.StatusCreated) {
				t.Fatalf("step %d: created index disagrees with status %s of %d", step, e.Status, e.ID)
			}
			if e.Status == catalog.StatusCreated && (e.Attempt > 0 || !e.Unstarted) {
				t.Fatalf("step %d: created execution %d has attempt %d, unstarted %v", step, e.ID, e.Attempt, e.Unstarted)
			}
			if pending[e.ID] != (e.Status == catalog.StatusPending) || active[e.ID] != e.Status.Active() {
				t.Fatalf("step %d: indexes disagree with status %s of %d (pending %v active %v)", step, e.Status, e.ID, pending[e.ID], active[e.ID])
			}
			if e.Status.Active() && tx.RunningUnderKey(capIndexKeyOf(e), 0) == 0 {
				t.Fatalf("step %d: active execution %d is missing from its cap index", step, e.ID)
			}
			if e.Attempt-e.HandBacks > e.Retries+1 {
				t.Fatalf("step %d: execution %d used %d attempts with %d retries", step, e.ID, e.Attempt-e.HandBacks, e.Retries)
			}
		}
		if n := tx.RunningUnder(catalog.Cap{Scope: catalog.CapCluster}, 0); n != len(active) {
			t.Fatalf("step %d: cluster cap index counts %d running, %d are active", step, n, len(active))
		}
		return nil
	})
}

// capIndexKeyOf is the group cap key of e (counted by RunningUnderKey).
func capIndexKeyOf(e *catalog.Execution) string {
	cs := e.Caps()
	return cs[len(cs)-1].Key()
}

// checkCaps: after a lease of id, no cap it counts against runs more than
// its limit.
func checkCaps(t *testing.T, h *harness, step int, id uint64) {
	t.Helper()
	_ = h.fsm.Store().View(func(tx *catalog.Tx) error {
		e, err := tx.Execution(id)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range tx.CapLimits(&e.ExecutionSpec) {
			if n := tx.RunningUnder(l.Cap, 0); n > l.Max {
				t.Fatalf("step %d: the lease of %d runs %d under %s, cap %d", step, id, n, l.Cap, l.Max)
			}
		}
		return nil
	})
}
