package fsm

import (
	"strings"
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
