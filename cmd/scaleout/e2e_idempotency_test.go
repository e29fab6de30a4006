package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scaleout/scaleout/api"
)

// droppingProxy forwards every request to target, but answers the first
// submission with 502 after the agent has created it: the answer lost in
// a failover.
type droppingProxy struct {
	target  string
	mu      sync.Mutex
	submits []string // the Idempotency-Key of each submission seen
}

func (p *droppingProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	req, _ := http.NewRequestWithContext(r.Context(), r.Method, p.target+r.URL.RequestURI(), bytes.NewReader(body))
	req.Header = r.Header.Clone()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if r.Method == http.MethodPost && r.URL.Path == "/v1/executions" {
		p.mu.Lock()
		p.submits = append(p.submits, r.Header.Get(api.IdempotencyHeader)+string(firstKey(body)))
		first := len(p.submits) == 1
		p.mu.Unlock()
		if first {
			http.Error(w, `{"error":"the test proxy dropped the answer"}`, http.StatusBadGateway)
			return
		}
	}
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	w.Write(out)
}

// firstKey returns the idempotency_key of a JSON body, crudely.
func firstKey(body []byte) []byte {
	_, after, ok := bytes.Cut(body, []byte(`"idempotency_key":"`))
	if !ok {
		return nil
	}
	k, _, _ := bytes.Cut(after, []byte(`"`))
	return k
}

// TestE2E_RetriedSubmissionCreatesOneExecution: the answer to `scaleout
// run` is lost after the execution was created (the proxy answers 502);
// the CLI retries with its idempotency key and gets the same execution,
// so exactly one exists. A key given twice returns the same id; the same
// key for another request is refused.
func TestE2E_RetriedSubmissionCreatesOneExecution(t *testing.T) {
	a := startAgent(t, t.TempDir())
	c := a.client(t)
	p := &droppingProxy{target: a.api}
	ps := httptest.NewServer(p)
	t.Cleanup(ps.Close)

	r := cli(t, ps.URL, "run", "testdata/hello.yaml", "--wait")
	if r.code != 0 {
		t.Fatalf("run through the dropping proxy: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	id := parseOutID(t, r)
	p.mu.Lock()
	submits := append([]string(nil), p.submits...)
	p.mu.Unlock()
	if len(submits) != 2 || submits[0] != submits[1] || !strings.HasPrefix(submits[0], "run-") {
		t.Fatalf("submissions seen by the proxy (keys): %q; want 2 with the same generated key", submits)
	}
	list, err := c.Executions().List(context.Background(), &api.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].ID != id {
		t.Fatalf("executions after a retried submission: %d (want 1, id %d)", len(list), id)
	}

	// An explicit key: the second run is the first execution.
	one := parseOutID(t, cli(t, a.api, "run", "testdata/hello.yaml", "--idempotency-key", "nightly-2026-12-04"))
	two := parseOutID(t, cli(t, a.api, "run", "testdata/hello.yaml", "--idempotency-key", "nightly-2026-12-04"))
	if one != two || one == id {
		t.Fatalf("same key: ids %d and %d", one, two)
	}
	waitStatus(t, c, one, 30*time.Second, "succeeded")
	// The same key for different values is refused, naming the key.
	r = cli(t, a.api, "run", "testdata/hello.yaml", "--param", "who=other", "--idempotency-key", "nightly-2026-12-04")
	if r.code != 2 || !strings.Contains(r.stderr, "idempotency key reused") || !strings.Contains(r.stderr, "nightly-2026-12-04") {
		t.Fatalf("key reused for another request: exit %d, stderr %q", r.code, r.stderr)
	}
	// The header works as the body field does, for the bulk route too.
	body := `{"executions":[{"package":"name: n\ntasks:\n  - {name: t, exec: {command: [\"true\"]}}\n"},{"package":"name: m\ntasks:\n  - {name: t, exec: {command: [\"true\"]}}\n"}]}`
	var got []string
	for i := 0; i < 2; i++ {
		req, _ := http.NewRequest(http.MethodPost, a.api+"/v1/executions/bulk", strings.NewReader(body))
		req.Header.Set(api.IdempotencyHeader, "bulk-1")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("bulk %d: %d %s", i, resp.StatusCode, b)
		}
		got = append(got, string(b))
	}
	if got[0] != got[1] {
		t.Fatalf("bulk retried with the same key: %s then %s", got[0], got[1])
	}
}

// TestE2E_RunWaitThroughAFollower: `run --wait` against a follower reads
// the execution it has just created there (the submit's answer carries the
// leader's index, the reads ask the follower for it), instead of a 404
// from a replica a few milliseconds behind.
func TestE2E_RunWaitThroughAFollower(t *testing.T) {
	c := startE2ECluster(t)
	var leader string
	waitFor(t, "a leader", 20*time.Second, func() (bool, string) {
		l, seen := c.leader("s1")
		leader = l
		return l != "", seen
	})
	follower := "s1"
	if leader == "s1" {
		follower = "s2"
	}
	for i := 0; i < 6; i++ {
		r := cli(t, c.agents[follower].api, "run", "testdata/hello.yaml", "--wait")
		if r.code != 0 {
			t.Fatalf("run %d --wait through follower %s: exit %d\n%s\n%s", i, follower, r.code, r.stdout, r.stderr)
		}
	}
}
