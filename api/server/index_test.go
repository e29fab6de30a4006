package server

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scaleout/scaleout/api"
	"github.com/scaleout/scaleout/catalog"
)

// idxRouter is a routerMock whose replica has applied `applied`.
type idxRouter struct {
	*routerMock
	mu      sync.Mutex
	applied uint64
	changed chan struct{}
}

func newIdxRouter(r *routerMock, applied uint64) *idxRouter {
	return &idxRouter{routerMock: r, applied: applied, changed: make(chan struct{})}
}

func (r *idxRouter) AppliedIndex() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.applied
}

func (r *idxRouter) set(n uint64) {
	r.mu.Lock()
	r.applied = n
	close(r.changed)
	r.changed = make(chan struct{})
	r.mu.Unlock()
}

func (r *idxRouter) WaitApplied(ctx context.Context, n uint64) bool {
	for {
		r.mu.Lock()
		ok, ch := r.applied >= n, r.changed
		r.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return false
		}
	}
}

func getIndexed(t *testing.T, url string) (int, string, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return resp.StatusCode, resp.Header.Get(api.IndexHeader), b.String()
}

// Read-your-writes: a write answers with the leader's applied index; a
// read with ?index=N on a follower waits until the follower has applied N,
// and is served by the leader when it does not catch up in time; a
// malformed index is 400.
func TestServer_ReadYourWrites(t *testing.T) {
	leaderEx, followerEx := newExecMock(), newExecMock()
	lr := newIdxRouter(&routerMock{}, 10)
	leader := newTestServer(t, Services{Router: lr, Executions: leaderEx}, 1<<20)
	fr := newIdxRouter(&routerMock{leaderAPI: leader.URL}, 5)
	follower := newTestServer(t, Services{Router: fr, Executions: followerEx}, 1<<20)

	// A write through the follower is forwarded; the answer carries the
	// leader's index.
	req, _ := http.NewRequest(http.MethodPost, follower.URL+"/v1/executions", strings.NewReader(`{"package":"name: p"}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get(api.IndexHeader) != "10" {
		t.Fatalf("submit through the follower: %d, index %q", resp.StatusCode, resp.Header.Get(api.IndexHeader))
	}
	// The follower's replica does not have it yet.
	followerEx.mu.Lock()
	followerEx.execs[1] = nil
	delete(followerEx.execs, 1)
	followerEx.mu.Unlock()

	// Behind: the follower waits, and serves once it has applied 10.
	go func() {
		time.Sleep(50 * time.Millisecond) // the replica applies a little later
		followerEx.mu.Lock()
		followerEx.execs[1] = &catalog.Execution{ID: 1, Status: catalog.StatusRunning} // tells its answers from the leader's
		followerEx.mu.Unlock()
		fr.set(10)
	}()
	code, idx, body := getIndexed(t, follower.URL+"/v1/executions/1?index=10")
	if code != 200 || idx != "10" || !strings.Contains(body, `"running"`) {
		t.Fatalf("read of the write through the follower: %d index %q %s", code, idx, body)
	}
	// Already there: served at once, with the follower's index.
	if code, idx, _ := getIndexed(t, follower.URL+"/v1/executions/1?index=3"); code != 200 || idx != "10" {
		t.Fatalf("read of an older index: %d %q", code, idx)
	}
	// A replica that does not catch up: the leader answers (after its own
	// bounded wait, since it is not at 11 either).
	if code, idx, body := getIndexed(t, follower.URL+"/v1/executions/1?index=11"); code != 200 || idx != "10" || !strings.Contains(body, `"pending"`) {
		t.Fatalf("read ahead of the follower: %d %q %s", code, idx, body)
	}
	if code, _, body := getIndexed(t, follower.URL+"/v1/executions/1?index=x"); code != 400 || !strings.Contains(body, "index") {
		t.Fatalf("malformed index: %d %s", code, body)
	}
}
