package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scaleout/scaleout/api"
	"github.com/scaleout/scaleout/catalog"
	"github.com/scaleout/scaleout/catalog/service"
)

// execMock is an ExecutionService over a map of executions; it records
// submissions.
type execMock struct {
	mu        sync.Mutex
	execs     map[uint64]*catalog.Execution
	events    map[uint64][]catalog.Event
	submitted []*api.SubmitRequest
	submitErr error
	changed   chan struct{}
}

func newExecMock() *execMock {
	return &execMock{execs: map[uint64]*catalog.Execution{}, events: map[uint64][]catalog.Event{}, changed: make(chan struct{})}
}

func (m *execMock) Changed() <-chan struct{} {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.changed
}
func (m *execMock) notify() {
	m.mu.Lock()
	close(m.changed)
	m.changed = make(chan struct{})
	m.mu.Unlock()
}
func (m *execMock) Submit(_ context.Context, req *api.SubmitRequest, caller string) (uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.submitErr != nil {
		return 0, m.submitErr
	}
	m.submitted = append(m.submitted, req)
	id := uint64(len(m.execs) + 1)
	m.execs[id] = &catalog.Execution{ID: id, Status: catalog.StatusPending, Caller: caller}
	return id, nil
}
func (m *execMock) SubmitBulk(ctx context.Context, reqs []api.SubmitRequest, caller string) ([]uint64, error) {
	var ids []uint64
	for i := range reqs {
		id, err := m.Submit(ctx, &reqs[i], caller)
		if err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, nil
}
func (m *execMock) Execution(id uint64) (*catalog.Execution, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e := m.execs[id]; e != nil {
		c := *e
		return &c, nil
	}
	return nil, fmt.Errorf("execution %d: %w", id, catalog.ErrNotFound)
}
func (m *execMock) Executions(catalog.ListOptions) ([]*catalog.Execution, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*catalog.Execution
	for _, e := range m.execs {
		out = append(out, e)
	}
	return out, nil
}
func (m *execMock) Events(id, after uint64, limit int) ([]catalog.Event, *catalog.Execution, error) {
	e, err := m.Execution(id)
	if err != nil {
		return nil, nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []catalog.Event
	for _, ev := range m.events[id] {
		if ev.Seq > after {
			out = append(out, ev)
		}
	}
	return out, e, nil
}
func (m *execMock) Stop(_ context.Context, id uint64, _ string) (catalog.Status, error) {
	e, err := m.Execution(id)
	if err != nil {
		return "", err
	}
	if e.Status.Terminal() {
		return "", catalog.ErrAlreadyEnded
	}
	return catalog.StatusCanceled, nil
}

func (m *execMock) StopMany(ctx context.Context, ids []uint64, caller string) ([]catalog.Status, []error, error) {
	if len(ids) > catalog.MaxBulkStop {
		return nil, nil, fmt.Errorf("%w: too many ids", catalog.ErrInvalid)
	}
	sts, errs := make([]catalog.Status, len(ids)), make([]error, len(ids))
	for i, id := range ids {
		sts[i], errs[i] = m.Stop(ctx, id, caller)
	}
	return sts, errs, nil
}
func (m *execMock) PendingReason(*catalog.Execution) string { return "waiting" }

// workerMock is a WorkerService with a fixed list of workers whose reports
// get reportErr.
type workerMock struct {
	list      []service.WorkerStatus
	reportErr error
}

func (w *workerMock) RegisterWorker(context.Context, *catalog.Worker) error { return nil }
func (w *workerMock) Workers() ([]service.WorkerStatus, error)              { return w.list, nil }
func (w *workerMock) SetWorkerEnabled(context.Context, string, bool) error  { return nil }
func (w *workerMock) RemoveWorker(context.Context, string) error            { return nil }
func (w *workerMock) Poll(context.Context, string, *api.PollRequest) (*api.PollResponse, error) {
	return &api.PollResponse{}, nil
}
func (w *workerMock) ReportEvents(context.Context, uint64, int, uint64, []catalog.Event) error {
	return w.reportErr
}
func (w *workerMock) ReportResult(context.Context, uint64, int, *api.ResultReport, []catalog.Event) error {
	return w.reportErr
}

// statusMock is a StatusService that knows one leader, or none (err).
type statusMock struct {
	leader service.LeaderStatus
	err    error
}

func (s *statusMock) Leader() (service.LeaderStatus, error)    { return s.leader, s.err }
func (s *statusMock) Peers() ([]api.Peer, error)               { return nil, s.err }
func (s *statusMock) Members() []api.Member                    { return []api.Member{{Name: s.leader.Node, Leader: true}} }
func (s *statusMock) RemovePeer(context.Context, string) error { return s.err }

// routerMock is a Router: this agent leads unless leaderAPI is set. To
// play an election, there is no leader for its first `none` questions, and
// its first barrier, if lostOnce, loses leadership.
type routerMock struct {
	mu        sync.Mutex
	leaderAPI string
	stateless bool
	barriers  int
	none      int
	asked     int
	lostOnce  bool
}

func (r *routerMock) LeaderAPI() (string, bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.asked++
	if r.asked <= r.none {
		return "", false, service.ErrNoLeader
	}
	return r.leaderAPI, r.leaderAPI == "", nil
}
func (r *routerMock) HasState() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return !r.stateless
}
func (r *routerMock) Barrier(context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.barriers++
	if r.lostOnce {
		r.lostOnce = false
		return service.ErrNotLeader
	}
	return nil
}

func newTestServer(t *testing.T, svc Services, maxBody int64) *httptest.Server {
	cfg := DefaultConfig()
	cfg.MaxBodyBytes = maxBody
	ts := httptest.NewServer(New(cfg, svc))
	t.Cleanup(ts.Close)
	return ts
}

func do(t *testing.T, ts *httptest.Server, method, path, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, ts.URL+path, strings.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(raw)
}

func TestServer_ErrorsChangeNothing(t *testing.T) {
	b := newExecMock()
	ts := newTestServer(t, Services{Executions: b, Workers: &workerMock{reportErr: catalog.ErrStaleAttempt}}, 1024)
	cases := []struct {
		name, method, path, body string
		code                     int
		msg                      string
	}{
		{"malformed json", "POST", "/v1/executions", `{"package": `, 400, "malformed JSON"},
		{"unknown field", "POST", "/v1/executions", `{"pkg": "x"}`, 400, "unknown field"},
		{"trailing data", "POST", "/v1/executions", `{"package": "x"} {}`, 400, "after the JSON value"},
		{"empty body", "POST", "/v1/executions", ``, 400, "empty"},
		{"wrong type", "POST", "/v1/executions", `{"package": 5}`, 400, "malformed JSON"},
		{"oversize", "POST", "/v1/executions", `{"package": "` + strings.Repeat("x", 2000) + `"}`, 413, "larger than the limit of 1024 bytes"},
		{"unknown id", "GET", "/v1/executions/42", ``, 404, "not found"},
		{"bad id", "GET", "/v1/executions/abc", ``, 400, "invalid execution id"},
		{"stop unknown", "POST", "/v1/executions/42/stop", ``, 404, "not found"},
		{"bulk stop of nothing", "POST", "/v1/executions/stop", `{"ids": []}`, 400, "no ids"},
		{"bulk stop, wrong type", "POST", "/v1/executions/stop", `{"ids": ["1"]}`, 400, "malformed JSON"},
		{"events unknown", "GET", "/v1/executions/42/events", ``, 404, "not found"},
		{"bad after", "GET", "/v1/executions/1/events?after=x", ``, 400, "invalid after"},
		{"bad status filter", "GET", "/v1/executions?status=done", ``, 400, "unknown status"},
		{"no endpoint", "GET", "/v1/nope", ``, 404, "no such endpoint"},
		{"wrong method", "DELETE", "/v1/executions", ``, 405, ""},
		{"stale result", "POST", "/v1/executions/1/attempts/1/result", `{"status":"succeeded"}`, 409, "stale"},
	}
	for _, c := range cases {
		code, body := do(t, ts, c.method, c.path, c.body)
		if code != c.code {
			t.Errorf("%s: HTTP %d %s, want %d", c.name, code, body, c.code)
			continue
		}
		if c.msg == "" {
			continue
		}
		var er api.ErrorResponse
		if err := json.Unmarshal([]byte(body), &er); err != nil || !strings.Contains(er.Error, c.msg) {
			t.Errorf("%s: body %q, want a JSON error containing %q", c.name, body, c.msg)
		}
	}
	if len(b.submitted) != 0 {
		t.Fatalf("bad requests reached the backend: %d submissions", len(b.submitted))
	}
}

func TestServer_SubmitAndRead(t *testing.T) {
	b := newExecMock()
	ts := newTestServer(t, Services{Executions: b, Status: &statusMock{leader: service.LeaderStatus{Node: "n1", API: "http://x", Index: 7}}}, 1<<20)
	c, err := api.NewClient(api.Config{Address: ts.URL, Caller: "alice@host"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	id, err := c.Executions().Submit(ctx, &api.SubmitRequest{Package: "name: x", Params: map[string]string{"a": "1"}})
	if err != nil || id != 1 {
		t.Fatalf("submit: %d %v", id, err)
	}
	e, err := c.Executions().Info(ctx, id)
	if err != nil || e.Status != "pending" || e.Caller != "alice@host" {
		t.Fatalf("info: %+v %v", e, err)
	}
	list, err := c.Executions().List(ctx, nil)
	if err != nil || len(list) != 1 {
		t.Fatalf("list: %v %v", list, err)
	}
	l, err := c.Status().Leader(ctx)
	if err != nil || l.Node != "n1" || l.API != "http://x" || l.Index != 7 {
		t.Fatalf("leader: %+v %v", l, err)
	}
	ids, err := c.Executions().SubmitBulk(ctx, []api.SubmitRequest{{Package: "name: y"}, {Package: "name: z"}})
	if err != nil || len(ids) != 2 || ids[0] != 2 || ids[1] != 3 {
		t.Fatalf("bulk submit: %v %v", ids, err)
	}
	if _, err := c.Executions().SubmitBulk(ctx, nil); !api.IsStatus(err, 400) {
		t.Fatalf("empty bulk submit: %v, want 400", err)
	}
	// A bulk stop answers each id on its own.
	res, err := c.Executions().StopBulk(ctx, []uint64{2, 99, 3})
	if err != nil || len(res) != 3 || res[0].Status != "canceled" || res[0].Error != "" ||
		!strings.Contains(res[1].Error, "not found") || res[2].ID != 3 || res[2].Status != "canceled" {
		t.Fatalf("bulk stop: %+v %v", res, err)
	}
	b.submitErr = fmt.Errorf("wrapped: %w", catalog.ErrNotFound)
	if _, err := c.Executions().Submit(ctx, &api.SubmitRequest{Package: "x"}); !api.IsStatus(err, 404) {
		t.Fatalf("backend not-found error mapped to %v", err)
	}
}

func TestServer_EventsLongPoll(t *testing.T) {
	b := newExecMock()
	b.execs[1] = &catalog.Execution{ID: 1, Status: catalog.StatusRunning}
	ts := newTestServer(t, Services{Executions: b}, 1<<20)
	c, _ := api.NewClient(api.Config{Address: ts.URL})
	got := make(chan *api.EventsResponse, 1)
	go func() {
		r, err := c.Executions().Events(context.Background(), 1, 0, 0, 10e9)
		if err != nil {
			t.Error(err)
		}
		got <- r
	}()
	b.mu.Lock()
	b.events[1] = []catalog.Event{{Seq: 1, Type: "stdout", Message: "hi"}}
	b.execs[1].EventCount = 1
	b.mu.Unlock()
	b.notify()
	r := <-got
	if len(r.Events) != 1 || r.Next != 1 || r.Ended {
		t.Fatalf("events answer %+v", r)
	}
	b.mu.Lock()
	b.execs[1].Status = catalog.StatusSucceeded
	b.mu.Unlock()
	r, err := c.Executions().Events(context.Background(), 1, 1, 0, 10e9)
	if err != nil || len(r.Events) != 0 || !r.Ended || r.Status != "succeeded" {
		t.Fatalf("after the end: %+v %v", r, err)
	}
}

func TestServer_MasksSensitiveParams(t *testing.T) {
	b := newExecMock()
	b.execs[1] = &catalog.Execution{ID: 1, Status: catalog.StatusPending, ExecutionSpec: catalog.ExecutionSpec{
		Params: map[string]string{"password": "hunter2", "user": "sa"}, Sensitive: []string{"password"}}}
	ts := newTestServer(t, Services{Executions: b}, 1<<20)
	for _, path := range []string{"/v1/executions/1", "/v1/executions"} {
		code, body := do(t, ts, "GET", path, "")
		if code != 200 || strings.Contains(body, "hunter2") || !strings.Contains(body, api.Masked) || !strings.Contains(body, `"sa"`) {
			t.Fatalf("%s: %d %s", path, code, body)
		}
	}
	if b.execs[1].Params["password"] != "hunter2" {
		t.Fatal("masking changed the stored value")
	}
}

// TestServer_ForwardsToLeader puts a follower in front of a leader: writes
// and consistent reads go to the leader, plain reads stay local, and a
// worker-only agent forwards reads too.
func TestServer_ForwardsToLeader(t *testing.T) {
	lb, lr := newExecMock(), &routerMock{}
	leader := newTestServer(t, Services{Router: lr, Executions: lb}, 1<<20)
	fb, fr := newExecMock(), &routerMock{leaderAPI: leader.URL}
	follower := newTestServer(t, Services{Router: fr, Executions: fb}, 1<<20)

	code, body := do(t, follower, "POST", "/v1/executions", `{"package": "name: x"}`)
	if code != 200 || len(lb.submitted) != 1 || len(fb.submitted) != 0 {
		t.Fatalf("write through follower: %d %s; leader got %d, follower %d", code, body, len(lb.submitted), len(fb.submitted))
	}
	// Plain read: the follower's own (empty) copy.
	if code, _ := do(t, follower, "GET", "/v1/executions/1", ""); code != 404 {
		t.Fatalf("local read on follower: %d, want 404 from its own copy", code)
	}
	// Consistent read: the leader's copy, after a barrier.
	if code, body := do(t, follower, "GET", "/v1/executions/1?consistent=true", ""); code != 200 || lr.barriers != 1 {
		t.Fatalf("consistent read: %d %s, barriers %d", code, body, lr.barriers)
	}
	fr.stateless = true
	if code, _ := do(t, follower, "GET", "/v1/executions/1", ""); code != 200 {
		t.Fatalf("read on a worker-only agent: %d", code)
	}
	// Oversize bodies are refused before forwarding.
	small := newTestServer(t, Services{Router: fr, Executions: fb}, 64)
	if code, _ := do(t, small, "POST", "/v1/executions", `{"package": "`+strings.Repeat("x", 200)+`"}`); code != 413 {
		t.Fatalf("oversize forwarded body: %d", code)
	}
	// An unreachable leader is a 502 naming it; a forwarding loop is cut.
	fr.mu.Lock()
	fr.leaderAPI = "http://127.0.0.1:1"
	fr.mu.Unlock()
	if code, body := do(t, follower, "POST", "/v1/executions/1/stop", ""); code != 502 || !strings.Contains(body, "127.0.0.1:1") {
		t.Fatalf("unreachable leader: %d %s", code, body)
	}
	req, _ := http.NewRequest("POST", follower.URL+"/v1/executions/1/stop", nil)
	req.Header.Set(ForwardedHeader, "2")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 {
		t.Fatalf("forwarding loop: %d", resp.StatusCode)
	}
}

// Every request answered by a route is timed under the route's pattern
// (scaleout_http_request_duration_seconds), errors included; a path no
// route matches is not (its label would be unbounded).
func TestServer_TimesEachRoute(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]int{}
	cfg := DefaultConfig()
	cfg.Served = func(route string, d time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		if d <= 0 {
			t.Errorf("route %s timed at %s", route, d)
		}
		seen[route]++
	}
	ts := httptest.NewServer(New(cfg, Services{Executions: newExecMock()}))
	t.Cleanup(ts.Close)
	do(t, ts, "GET", "/v1/executions", "")
	do(t, ts, "GET", "/v1/executions/42", "")
	do(t, ts, "GET", "/v1/executions/43", "")
	do(t, ts, "GET", "/v1/no/such/route", "")
	mu.Lock()
	defer mu.Unlock()
	want := map[string]int{"GET /v1/executions": 1, "GET /v1/executions/{id}": 2}
	if !maps.Equal(seen, want) {
		t.Fatalf("timed %v, want %v", seen, want)
	}
}
