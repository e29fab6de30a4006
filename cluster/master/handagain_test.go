package master

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/scaleout/scaleout/api"
	"github.com/scaleout/scaleout/catalog"
)

// pollAs polls as w1 with the given token and unanswered tokens.
func pollAs(t *testing.T, m *Master, token string, unanswered []string, running ...api.AttemptRef) *api.PollResponse {
	t.Helper()
	r, err := m.Poll(context.Background(), "w1", &api.PollRequest{Slots: 1, Token: token, Unanswered: unanswered, Running: running})
	if err != nil {
		t.Fatalf("poll %s: %v", token, err)
	}
	return r
}

func attempts(t *testing.T, m *Master, id uint64) (int, int) {
	t.Helper()
	e, err := m.Execution(id)
	if err != nil {
		t.Fatal(err)
	}
	return e.Attempt, len(e.Attempts)
}

// A poll whose answer the worker did not receive leased an attempt that
// never started: the worker's next polls list it, and the master hands the
// same attempt over again — no new attempt, no failure with no retries
// left — however often that answer is lost too.
func TestMaster_UnansweredPollHandsTheSameAttemptAgain(t *testing.T) {
	m := newMaster(t, time.Minute)
	id := submit(t, m, 0)
	if r := pollAs(t, m, "b-1", nil); len(r.Tasks) != 1 || r.Tasks[0].Attempt != 1 {
		t.Fatalf("lease: %+v", r)
	}
	// The answer of b-1 was lost, then the answer of b-2 too.
	for _, p := range []struct {
		token      string
		unanswered []string
	}{{"b-2", []string{"b-1"}}, {"b-3", []string{"b-1", "b-2"}}} {
		r := pollAs(t, m, p.token, p.unanswered)
		if len(r.Tasks) != 1 || r.Tasks[0].ID != id || r.Tasks[0].Attempt != 1 || r.Tasks[0].Package == "" {
			t.Fatalf("poll %s: want attempt 1 of %d handed again, got %+v", p.token, id, r)
		}
		if st := status(t, m, id); st != catalog.StatusRunning {
			t.Fatalf("status %s after poll %s", st, p.token)
		}
		if n, k := attempts(t, m, id); n != 1 || k != 1 {
			t.Fatalf("attempt %d (%d recorded) after poll %s, want 1", n, k, p.token)
		}
	}
	// b-3 was answered: the worker runs it now and nothing is handed again.
	r := pollAs(t, m, "b-4", []string{"b-1", "b-2"}, api.AttemptRef{ID: id, Attempt: 1})
	if len(r.Tasks) != 0 || len(r.Drop) != 0 {
		t.Fatalf("poll while running: %+v", r)
	}
	finish(t, m, id, 1, "succeeded", catalog.StatusSucceeded)
}

// A poll that does not list the leasing poll as unanswered (the worker
// restarted: another boot id; or it received the answer and lost the
// attempt) gets the attempt expired, as before.
func TestMaster_LostAttemptOfAnsweredPollIsExpired(t *testing.T) {
	m := newMaster(t, time.Minute)
	id := submit(t, m, 1)
	pollAs(t, m, "b-1", nil)
	r := pollAs(t, m, "c-1", []string{"b-9"})
	if len(r.Tasks) != 1 || r.Tasks[0].Attempt != 2 {
		t.Fatalf("want attempt 2 leased after the loss, got %+v (status %s)", r, status(t, m, id))
	}
}

// An execution stopped before its unanswered lease was handed again is not
// handed again: the attempt is expired and the stop ends it.
func TestMaster_StoppedUnansweredLeaseIsNotHandedAgain(t *testing.T) {
	m := newMaster(t, time.Minute)
	id := submit(t, m, 3)
	pollAs(t, m, "b-1", nil)
	if _, err := m.Stop(context.Background(), id, "t"); err != nil {
		t.Fatal(err)
	}
	r := pollAs(t, m, "b-2", []string{"b-1"})
	for _, task := range r.Tasks {
		if task.ID == id {
			t.Fatalf("stopped execution handed again: %+v", r)
		}
	}
	waitFor(t, "stopped execution ends", func() bool { return status(t, m, id).Terminal() })
}

// The leasing poll's token is replicated with the attempt: a new leader
// hands the attempt again too (the old one may have died while answering).
func TestMaster_NewLeaderHandsAgainFromTheLog(t *testing.T) {
	r := newRaft(t)
	m := startMaster(t, time.Minute, nil, r)
	if err := m.RegisterWorker(context.Background(), &catalog.Worker{ID: "w1", Node: "n1", MaxTasks: 4}); err != nil {
		t.Fatal(err)
	}
	id := submit(t, m, 0)
	pollAs(t, m, "b-1", nil)
	m.Close()

	m2 := startMaster(t, time.Minute, nil, r)
	resp := pollAs(t, m2, "b-2", []string{"b-1"})
	if len(resp.Tasks) != 1 || resp.Tasks[0].ID != id || resp.Tasks[0].Attempt != 1 {
		t.Fatalf("new master: want attempt 1 of %d handed again, got %+v", id, resp)
	}
}

// A result sent again after its answer was lost (the commit happened) is
// answered as accepted; a different result for that attempt is still
// refused as stale.
func TestMaster_ResultSentAgainIsAccepted(t *testing.T) {
	m := newMaster(t, time.Minute)
	id := submit(t, m, 0)
	task := leaseOne(t, m)
	rep := &api.ResultReport{Status: "succeeded"}
	if err := m.ReportResult(context.Background(), id, task.Attempt, rep, nil); err != nil {
		t.Fatal(err)
	}
	if err := m.ReportResult(context.Background(), id, task.Attempt, rep, nil); err != nil {
		t.Fatalf("the same result again: %v", err)
	}
	if err := m.ReportResult(context.Background(), id, task.Attempt, &api.ResultReport{Status: "failed"}, nil); !errors.Is(err, catalog.ErrStaleAttempt) {
		t.Fatalf("another result for the ended attempt: %v, want stale", err)
	}
}

// A poll that arrives after a newer poll of the same worker process (the
// worker gave up on it and polled again; it was held up on the way) is
// refused: its running list is out of date, and reconciling it would
// expire the attempts the worker started since.
func TestMaster_LatePollIsIgnored(t *testing.T) {
	m := newMaster(t, time.Minute)
	id := submit(t, m, 0)
	if r := pollAs(t, m, "b-2", nil); len(r.Tasks) != 1 {
		t.Fatalf("lease: %+v", r)
	}
	// b-1 was sent before b-2 and arrives now, without the attempt.
	_, err := m.Poll(context.Background(), "w1", &api.PollRequest{Slots: 1, Token: "b-1"})
	if !errors.Is(err, catalog.ErrStaleAttempt) {
		t.Fatalf("late poll: %v, want refused as stale", err)
	}
	if st := status(t, m, id); st != catalog.StatusRunning {
		t.Fatalf("status %s after the late poll, want running", st)
	}
	if n, k := attempts(t, m, id); n != 1 || k != 1 {
		t.Fatalf("attempt %d (%d recorded), want 1", n, k)
	}
	// A restarted worker (another boot id) starts its numbers again.
	if _, err := m.Poll(context.Background(), "w1", &api.PollRequest{Token: "c-1", Running: []api.AttemptRef{{ID: id, Attempt: 1}}}); err != nil {
		t.Fatalf("first poll of a new boot: %v", err)
	}
}
