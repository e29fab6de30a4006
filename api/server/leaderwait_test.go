package server

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/scaleout/scaleout/catalog"
)

// TestServer_WaitsForALeader: a request that needs the leader during an
// election waits for one (it was not proposed, so nothing can be doubled)
// instead of failing at once; after LeaderWait it gets 503 naming why.
func TestServer_WaitsForALeader(t *testing.T) {
	ex := newExecMock()
	r := &routerMock{none: 4}
	ts := newTestServer(t, Services{Router: r, Executions: ex}, 1<<20)
	if code, body := do(t, ts, "POST", "/v1/executions", `{"package":"name: p"}`); code != 200 {
		t.Fatalf("submit during an election: %d %s", code, body)
	}
	if r.asked != 5 {
		t.Fatalf("asked for the leader %d times, want 5", r.asked)
	}

	// A consistent read whose barrier loses leadership asks again.
	r2 := &routerMock{lostOnce: true}
	ts2 := newTestServer(t, Services{Router: r2, Executions: ex}, 1<<20)
	if code, body := do(t, ts2, "GET", "/v1/executions?consistent=true", ""); code != 200 {
		t.Fatalf("consistent read across a lost barrier: %d %s", code, body)
	}

	// No leader for longer than LeaderWait: 503.
	cfg := DefaultConfig()
	cfg.LeaderWait = 100 * time.Millisecond
	ts3 := httptest.NewServer(New(cfg, Services{Router: &routerMock{none: 1 << 30}, Executions: ex}))
	t.Cleanup(ts3.Close)
	code, body := do(t, ts3, "POST", "/v1/executions", `{"package":"name: p"}`)
	if code != 503 || !strings.Contains(body, "no leader") {
		t.Fatalf("no leader at all: %d %s", code, body)
	}
}

// TestServer_PollDoesNotWaitForALeader: a worker's poll is answered 503 at
// once during an election; the worker retries on its own, and a poll that
// outlived the worker's patience must never lease attempts.
func TestServer_PollDoesNotWaitForALeader(t *testing.T) {
	r := &routerMock{none: 1 << 30}
	ts := newTestServer(t, Services{Router: r, Workers: &workerMock{}}, 1<<20)
	start := time.Now()
	code, body := do(t, ts, "POST", "/v1/workers/w1/poll", `{"slots":1}`)
	if code != 503 || !strings.Contains(body, "no leader") {
		t.Fatalf("poll without a leader: %d %s", code, body)
	}
	if r.asked != 1 {
		t.Fatalf("asked for the leader %d times (after %s), want once", r.asked, time.Since(start))
	}
}

// sickStatus is a status service whose own catalog store fails.
type sickStatus struct{ statusMock }

func (*sickStatus) Health() error {
	return fmt.Errorf("%w on server s1: raft log: write raft.db: no space left on device", catalog.ErrStorage)
}

// TestServer_NoLeaderOnAFailingDiskIs507: a write that finds no leader on a
// server whose own store fails (a lone server whose raft.db is full loses
// its leadership at every election) is answered 507 naming the disk at
// once, not 503 "no leader" after the leader wait.
func TestServer_NoLeaderOnAFailingDiskIs507(t *testing.T) {
	cfg := DefaultConfig()
	cfg.LeaderWait = 2 * time.Second
	r := &routerMock{none: 1 << 30}
	ts := httptest.NewServer(New(cfg, Services{Router: r, Status: &sickStatus{}, Executions: newExecMock()}))
	t.Cleanup(ts.Close)
	code, body := do(t, ts, "POST", "/v1/executions", `{"package":"name: p"}`)
	if code != 507 || !strings.Contains(body, "no space left on device") {
		t.Fatalf("write without a leader on a failing disk: %d %s", code, body)
	}
	if r.asked != 1 {
		t.Fatalf("asked for the leader %d times, want once (no waiting for a leader the disk keeps from being elected)", r.asked)
	}
}
