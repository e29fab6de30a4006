package server

import (
	"strings"
	"testing"
	"time"

	"github.com/scaleout/scaleout/api"
	"github.com/scaleout/scaleout/cluster/clustertest/nettest"
)

// A request forwarded to a leader that stops answering (it died: a dead
// host sends no reset) is cancelled with 503 as soon as another leader is
// known, instead of hanging until TCP gives up.
func TestServer_ForwardToDeadLeaderEndsWhenLeaderMoves(t *testing.T) {
	// The "dead leader" accepts connections and never answers.
	dead := "http://" + nettest.Silent(t)
	lb := newExecMock()
	next := newTestServer(t, Services{Router: &routerMock{}, Executions: lb}, 1<<20)
	fr := &routerMock{leaderAPI: dead}
	follower := newTestServer(t, Services{Router: fr, Executions: newExecMock()}, 1<<20)

	type answer struct {
		code int
		body string
	}
	done := make(chan answer, 1)
	go func() {
		code, body := do(t, follower, "POST", "/v1/executions/1/stop", "")
		done <- answer{code, body}
	}()
	select {
	case a := <-done:
		t.Fatalf("answered while the old leader still leads: %d %s", a.code, a.body)
	case <-time.After(3 * leaderCheck):
	}
	fr.mu.Lock()
	fr.leaderAPI = next.URL
	fr.mu.Unlock()
	select {
	case a := <-done:
		if a.code != 503 || !strings.Contains(a.body, "leadership moved") || !strings.Contains(a.body, next.URL) {
			t.Fatalf("after the leader moved: %d %s, want 503 naming the new leader", a.code, a.body)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the forwarded request still hangs after the leader moved")
	}
}

// The worker protocol's messages skip fields this leader does not know (a
// newer worker during a rolling upgrade); people's requests still get 400
// naming the field.
func TestServer_WorkerProtocolSkipsUnknownFields(t *testing.T) {
	ts := newTestServer(t, Services{Router: &routerMock{}, Executions: newExecMock(), Workers: &workerMock{}}, 1<<20)
	if code, body := do(t, ts, "POST", "/v1/workers/w1/poll", `{"slots": 0, "from_the_future": 1}`); code != 200 {
		t.Fatalf("poll with an unknown field: %d %s", code, body)
	}
	if code, body := do(t, ts, "POST", "/v1/executions", `{"package": "name: x", "from_the_future": 1}`); code != 400 || !strings.Contains(body, "from_the_future") {
		t.Fatalf("submit with an unknown field: %d %s", code, body)
	}
}

// Poll tokens are bounded: a longer token or too many unanswered ones is
// 400 naming the limits.
func TestServer_PollTokensAreBounded(t *testing.T) {
	ts := newTestServer(t, Services{Router: &routerMock{}, Executions: newExecMock(), Workers: &workerMock{}}, 1<<20)
	long := `{"slots": 0, "token": "` + strings.Repeat("x", api.MaxPollToken+1) + `"}`
	if code, body := do(t, ts, "POST", "/v1/workers/w1/poll", long); code != 400 || !strings.Contains(body, "poll token") {
		t.Fatalf("oversized token: %d %s", code, body)
	}
	many := `{"slots": 0, "unanswered": ["` + strings.Repeat(`a", "`, api.MaxUnanswered) + `a"]}`
	if code, body := do(t, ts, "POST", "/v1/workers/w1/poll", many); code != 400 || !strings.Contains(body, "unanswered") {
		t.Fatalf("too many unanswered tokens: %d %s", code, body)
	}
}
