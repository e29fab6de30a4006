package fsm

import (
	"strings"

	"github.com/scaleout/scaleout/catalog"
	"testing"
	"time"
)

// A lease records the token of the poll that leased each attempt (so any
// later leader can hand an attempt whose answer was lost over again); an
// oversized token is not recorded, and the lease still applies.
func TestFSM_LeaseRecordsThePollToken(t *testing.T) {
	h := newHarness(t)
	ids := h.submit(2, 0)
	t0 := time.Now()
	r := h.apply(ExecutionLeaseType, &ExecutionLeaseRequest{Time: t0, Worker: "w", Poll: "b1-7",
		Items: []LeaseItem{{ID: ids[0], Attempt: 1}}}).(*ItemsResponse)
	if r.Err(0) != nil {
		t.Fatal(r.Err(0))
	}
	if e := h.execution(ids[0]); len(e.Attempts) != 1 || e.Attempts[0].Poll != "b1-7" {
		t.Fatalf("attempts %+v, want poll b1-7 recorded", e.Attempts)
	}
	r = h.apply(ExecutionLeaseType, &ExecutionLeaseRequest{Time: t0, Worker: "w", Poll: strings.Repeat("x", maxPollToken+1),
		Items: []LeaseItem{{ID: ids[1], Attempt: 1}}}).(*ItemsResponse)
	if r.Err(0) != nil {
		t.Fatal(r.Err(0))
	}
	if e := h.execution(ids[1]); len(e.Attempts) != 1 || e.Attempts[0].Poll != "" {
		t.Fatalf("attempts %+v, want no poll token recorded", e.Attempts)
	}
}

// A numbered batch of events sent again (its answer was lost when the
// leader died after the commit) is applied once, also when it comes back
// with the result; a batch that overlaps the applied ones adds only the
// new events; a new attempt numbers from 1 again.
func TestFSM_NumberedEventsAreAppliedOnce(t *testing.T) {
	h := newHarness(t)
	id := h.submit(1, 1)[0]
	t0 := time.Now()
	h.apply(ExecutionLeaseType, &ExecutionLeaseRequest{Time: t0, Worker: "w", Items: []LeaseItem{{ID: id, Attempt: 1}}})
	ev := func(msgs ...string) []catalog.Event {
		var out []catalog.Event
		for _, m := range msgs {
			out = append(out, catalog.Event{Type: "stdout", Message: m})
		}
		return out
	}
	send := func(first uint64, msgs ...string) {
		t.Helper()
		r := h.apply(ExecutionEventsType, &ExecutionEventsRequest{Time: t0, Items: []EventsItem{{ID: id, Attempt: 1, First: first, Events: ev(msgs...)}}}).(*ItemsResponse)
		if r.Err(0) != nil {
			t.Fatal(r.Err(0))
		}
	}
	send(1, "a", "b")
	send(1, "a", "b")      // sent again
	send(2, "b", "c", "d") // overlaps
	send(0, "legacy")      // not numbered: applied whole
	h.apply(ExecutionFinishType, &ExecutionFinishRequest{Time: t0, Items: []FinishItem{{ID: id, Attempt: 1, Status: catalog.StatusSucceeded, First: 4, Events: ev("d", "e")}}})
	var got []string
	_ = h.fsm.Store().View(func(tx *catalog.Tx) error {
		evs, _ := tx.Events(id, 0, 0)
		for _, e := range evs {
			if e.Type == "stdout" {
				got = append(got, e.Message)
			}
		}
		return nil
	})
	if strings.Join(got, " ") != "a b c d legacy e" {
		t.Fatalf("events %v, want a b c d legacy e", got)
	}
}
