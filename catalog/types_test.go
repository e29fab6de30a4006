package catalog

import (
	"errors"
	"math/rand"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

func pending(retries int) *Execution {
	return &Execution{ID: 1, Status: StatusPending, ExecutionSpec: ExecutionSpec{Retries: retries}, CreatedAt: t0}
}

func TestExecution_LeaseFinish(t *testing.T) {
	e := pending(0)
	if _, err := e.Lease("w1", 2, t0); !errors.Is(err, ErrStaleAttempt) {
		t.Fatalf("lease of attempt 2 first: err = %v, want ErrStaleAttempt", err)
	}
	tr, err := e.Lease("w1", 1, t0)
	if err != nil {
		t.Fatal(err)
	}
	if e.Status != StatusRunning || e.Attempt != 1 || e.Worker != "w1" || len(tr.Events) != 1 {
		t.Fatalf("after lease: %+v, events %v", e, tr.Events)
	}
	if _, err := e.Lease("w2", 2, t0); !errors.Is(err, ErrNotPending) {
		t.Fatalf("second lease: err = %v, want ErrNotPending", err)
	}
	if _, err := e.Finish(2, StatusSucceeded, "", t0); !errors.Is(err, ErrStaleAttempt) {
		t.Fatalf("finish of another attempt: err = %v", err)
	}
	if _, err := e.Finish(1, "bogus", "", t0); err == nil {
		t.Fatal("finish with an invalid result accepted")
	}
	if e.Status != StatusRunning {
		t.Fatalf("rejected finish changed status to %s", e.Status)
	}
	if _, err := e.Finish(1, StatusFailed, "exit 3", t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if e.Status != StatusFailed || e.EndedAt == nil || e.Attempts[0].Result != "failed" {
		t.Fatalf("after finish: %+v", e)
	}
	if _, err := e.Finish(1, StatusSucceeded, "", t0); !errors.Is(err, ErrStaleAttempt) {
		t.Fatalf("second finish: err = %v", err)
	}
}

func TestExecution_ExpireRetries(t *testing.T) {
	e := pending(1)
	mustLease(t, e, 1)
	if _, err := e.Expire(1, "gone", t0); err != nil {
		t.Fatal(err)
	}
	if e.Status != StatusPending || e.Attempt != 1 {
		t.Fatalf("after first expiry: status %s attempt %d, want pending 1", e.Status, e.Attempt)
	}
	mustLease(t, e, 2)
	if _, err := e.Expire(1, "late", t0); !errors.Is(err, ErrStaleAttempt) {
		t.Fatalf("expire of superseded attempt: %v", err)
	}
	if _, err := e.Expire(2, "gone", t0); err != nil {
		t.Fatal(err)
	}
	if e.Status != StatusEndedUnexpectedly {
		t.Fatalf("after last expiry: %s", e.Status)
	}
}

func TestExecution_InterruptWithoutRetriesCancels(t *testing.T) {
	e := pending(0)
	mustLease(t, e, 1)
	if _, err := e.Interrupt(1, "worker shut down", t0); err != nil {
		t.Fatal(err)
	}
	if e.Status != StatusCanceled {
		t.Fatalf("status %s, want canceled", e.Status)
	}
	e = pending(1)
	mustLease(t, e, 1)
	if _, err := e.Interrupt(1, "worker shut down", t0); err != nil || e.Status != StatusPending {
		t.Fatalf("interrupt with a retry left: %v, status %s", err, e.Status)
	}
}

func TestExecution_Stop(t *testing.T) {
	e := pending(3)
	if _, err := e.Stop("me", t0); err != nil || e.Status != StatusCanceled {
		t.Fatalf("stop pending: %v %s", err, e.Status)
	}
	if _, err := e.Stop("me", t0); !errors.Is(err, ErrAlreadyEnded) {
		t.Fatalf("stop ended: %v", err)
	}
	e = pending(3)
	mustLease(t, e, 1)
	if _, err := e.Stop("me", t0); err != nil || e.Status != StatusStopping {
		t.Fatalf("stop running: %v %s", err, e.Status)
	}
	if _, err := e.Stop("me", t0); err != nil || e.Status != StatusStopping {
		t.Fatalf("second stop: %v %s", err, e.Status)
	}
	// A stopping execution whose worker is lost is canceled, not retried.
	if _, err := e.Expire(1, "gone", t0); err != nil || e.Status != StatusCanceled {
		t.Fatalf("expire stopping: %v %s", err, e.Status)
	}
}

func mustLease(t *testing.T, e *Execution, attempt int) {
	t.Helper()
	if _, err := e.Lease("w", attempt, t0); err != nil {
		t.Fatalf("lease attempt %d: %v", attempt, err)
	}
}

// TestExecution_RandomOperations drives executions through random sequences
// of lease, finish, expire, interrupt, hand-back and stop, including stale attempts, and
// checks the invariants: a terminal status never changes, attempts never
// exceed retries+1, only the current attempt is accepted, and at most one
// attempt is open (not ended) at any time.
func TestExecution_RandomOperations(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for run := 0; run < 4000; run++ {
		e := pending(rng.Intn(3))
		e.RetryDelay = time.Duration(rng.Intn(3)) * time.Second
		e.RetryBackoff = rng.Intn(2) == 0
		if rng.Intn(3) == 0 {
			e.Status, e.Unstarted = StatusCreated, true
		}
		now := t0
		var terminal Status
		for step := 0; step < 40; step++ {
			attempt := e.Attempt + rng.Intn(3) - 1 // current, previous or next
			before := *e
			var err error
			switch rng.Intn(9) {
			case 5:
				_, err = e.HandBack(attempt, "drain", now)
			case 0:
				_, err = e.Lease("w", attempt, now)
				if err == nil && before.NotBefore != nil && now.Before(*before.NotBefore) {
					t.Fatalf("run %d: leased at %s before its retry delay ends at %s", run, now, before.NotBefore)
				}
			case 1:
				res := []Status{StatusSucceeded, StatusFailed, StatusCanceled}[rng.Intn(3)]
				_, err = e.Finish(attempt, res, "", now)
				if err == nil && e.Status == StatusPending && (res != StatusFailed || before.Status != StatusRunning) {
					t.Fatalf("run %d: finish %s of a %s execution retried it", run, res, before.Status)
				}
			case 2:
				_, err = e.Expire(attempt, "x", now)
			case 3:
				_, err = e.Interrupt(attempt, "x", now)
			case 4:
				_, err = e.Stop("x", now)
			case 6:
				_, err = e.Start("x", now)
				if err == nil && before.Status != StatusCreated {
					t.Fatalf("run %d: started a %s execution", run, before.Status)
				}
			case 7:
				next := e.ExecutionSpec
				next.Priority = rng.Intn(5)
				_, err = e.SetSpec(next, "priority", now)
				if err == nil && before.Status != StatusCreated {
					t.Fatalf("run %d: changed the spec of a %s execution", run, before.Status)
				}
			case 8:
				now = now.Add(time.Duration(rng.Intn(3000)) * time.Millisecond)
			}
			_ = err
			if terminal != "" && e.Status != terminal {
				t.Fatalf("run %d: terminal status %s changed to %s", run, terminal, e.Status)
			}
			if e.Status.Terminal() {
				terminal = e.Status
			}
			if e.Status == StatusCreated && (before.Status != StatusCreated || e.Attempt > 0) {
				t.Fatalf("run %d: %s -> created (attempt %d)", run, before.Status, e.Attempt)
			}
			if e.Attempt-e.HandBacks > e.Retries+1 || e.HandBacks > MaxHandBacks {
				t.Fatalf("run %d: attempt %d (%d handed back) exceeds retries %d + 1", run, e.Attempt, e.HandBacks, e.Retries)
			}
			if before.Status == StatusStopping && e.Status == StatusPending {
				t.Fatalf("run %d: a stopping execution was retried", run)
			}
			open := 0
			for _, a := range e.Attempts {
				if a.EndedAt == nil {
					open++
				}
			}
			if open > 1 || (open == 1) != e.Status.Active() {
				t.Fatalf("run %d: %d open attempts with status %s", run, open, e.Status)
			}
		}
	}
}

func TestExecution_RetryFailed(t *testing.T) {
	e := pending(2)
	e.RetryDelay, e.RetryBackoff = time.Second, true
	now := t0
	for n := 1; n <= 3; n++ {
		if n > 1 {
			if _, err := e.Lease("w", n, now); !errors.Is(err, ErrNotPending) {
				t.Fatalf("attempt %d leased during its delay: %v", n, err)
			}
			now = *e.NotBefore
		}
		mustLeaseAt(t, e, n, now)
		if _, err := e.Finish(n, StatusFailed, "boom", now); err != nil {
			t.Fatal(err)
		}
		if n < 3 {
			want := time.Duration(1<<(n-1)) * time.Second
			if e.Status != StatusPending || e.NotBefore == nil || e.NotBefore.Sub(now) != want {
				t.Fatalf("after failed attempt %d: status %s, not before %v (want +%s)", n, e.Status, e.NotBefore, want)
			}
		}
	}
	if e.Status != StatusFailed || len(e.Attempts) != 3 {
		t.Fatalf("after 3 failed attempts: %s, %d attempts", e.Status, len(e.Attempts))
	}

	// A stop during a run is never retried, whatever the worker reports.
	e = pending(5)
	mustLease(t, e, 1)
	if _, err := e.Stop("me", t0); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Finish(1, StatusFailed, "killed", t0); err != nil || e.Status != StatusFailed {
		t.Fatalf("failed while stopping: %v, %s", err, e.Status)
	}

	// Lost and failed attempts share the count.
	e = pending(1)
	mustLease(t, e, 1)
	if _, err := e.Expire(1, "lost", t0); err != nil || e.Status != StatusPending {
		t.Fatalf("lost: %v %s", err, e.Status)
	}
	mustLease(t, e, 2)
	if _, err := e.Finish(2, StatusFailed, "x", t0); err != nil || e.Status != StatusFailed {
		t.Fatalf("failed after a lost attempt used the retry: %v %s", err, e.Status)
	}
}

func TestExecution_CreatedStartSet(t *testing.T) {
	e := &Execution{ID: 1, Status: StatusCreated, ExecutionSpec: ExecutionSpec{PackageName: "p", Source: "x", Unstarted: true}}
	if _, err := e.Lease("w", 1, t0); !errors.Is(err, ErrNotPending) {
		t.Fatalf("lease of a created execution: %v", err)
	}
	next := e.ExecutionSpec
	next.Params = map[string]string{"a": "1"}
	if _, err := e.SetSpec(next, "a", t0); err != nil || e.Params["a"] != "1" {
		t.Fatalf("set: %v %v", err, e.Params)
	}
	next.Source = "other"
	if _, err := e.SetSpec(next, "source", t0); !errors.Is(err, ErrInvalid) {
		t.Fatalf("changing the package: %v", err)
	}
	if _, err := e.Start("me", t0); err != nil || e.Status != StatusPending || e.Unstarted {
		t.Fatalf("start: %v %s", err, e.Status)
	}
	if _, err := e.Start("me", t0); !errors.Is(err, ErrNotCreated) {
		t.Fatalf("second start: %v", err)
	}
	if _, err := e.SetSpec(e.ExecutionSpec, "x", t0); !errors.Is(err, ErrNotCreated) {
		t.Fatalf("set after start: %v", err)
	}
	c := &Execution{ID: 2, Status: StatusCreated}
	if _, err := c.Stop("me", t0); err != nil || c.Status != StatusCanceled {
		t.Fatalf("stop of a created execution: %v %s", err, c.Status)
	}
}

func mustLeaseAt(t *testing.T, e *Execution, n int, now time.Time) {
	t.Helper()
	if _, err := e.Lease("w", n, now); err != nil {
		t.Fatalf("lease %d: %v", n, err)
	}
}

func TestExecution_HandBackKeepsRetries(t *testing.T) {
	e := pending(0)
	for i := 1; i <= MaxHandBacks; i++ {
		mustLease(t, e, i)
		if _, err := e.HandBack(i, "drain", t0); err != nil || e.Status != StatusPending {
			t.Fatalf("hand-back %d: %v, status %s", i, err, e.Status)
		}
	}
	mustLease(t, e, MaxHandBacks+1)
	if _, err := e.HandBack(MaxHandBacks+1, "drain", t0); err != nil || e.Status != StatusEndedUnexpectedly {
		t.Fatalf("hand-back past the limit: %v, status %s", err, e.Status)
	}
}

func TestExecution_Matches(t *testing.T) {
	w := &Worker{ID: "w1", Labels: map[string]string{"os": "linux", "zone": "a"}}
	cases := []struct {
		e    ExecutionSpec
		want bool
	}{
		{ExecutionSpec{}, true},
		{ExecutionSpec{TargetWorkers: []string{"w2", "w1"}}, true},
		{ExecutionSpec{TargetWorkers: []string{"w2"}}, false},
		{ExecutionSpec{TargetLabels: map[string]string{"os": "linux"}}, true},
		{ExecutionSpec{TargetLabels: map[string]string{"os": "windows"}}, false},
		{ExecutionSpec{TargetWorkers: []string{"w1"}, TargetLabels: map[string]string{"gpu": "yes"}}, false},
	}
	for i, c := range cases {
		if got := c.e.Matches(w); got != c.want {
			t.Errorf("case %d: Matches = %v, want %v", i, got, c.want)
		}
	}
}
