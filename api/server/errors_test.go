package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/scaleout/scaleout/api"
	"github.com/scaleout/scaleout/catalog"
	"github.com/scaleout/scaleout/catalog/pkgspec"
	"github.com/scaleout/scaleout/catalog/project"
	"github.com/scaleout/scaleout/catalog/service"
)

// TestErrorStatus_EverySentinel maps every sentinel the services return to
// the status the API has always answered it with: bare, wrapped with %w the
// way the services wrap them, and classified (message kept). It also fails
// when errorStatuses gains an entry this test does not name.
func TestErrorStatus_EverySentinel(t *testing.T) {
	want := []struct {
		err    error
		status int
	}{
		{ErrPermissionDenied, 403},
		{service.ErrOlderServers, 409},
		{catalog.ErrNotFound, 404},
		{service.ErrUnknownPeer, 404},
		{catalog.ErrExists, 409},
		{catalog.ErrNotEmpty, 409},
		{catalog.ErrAlreadyEnded, 409},
		{catalog.ErrStaleAttempt, 409},
		{catalog.ErrNotPending, 409},
		{catalog.ErrNotCreated, 409},
		{catalog.ErrInvalid, 400},
		{pkgspec.ErrParamType, 400},
		{pkgspec.ErrParamRequired, 400},
		{pkgspec.ErrUnknownParam, 400},
		{project.ErrTooLarge, 413},
		{catalog.ErrTooLarge, 413},
		{catalog.ErrStorage, 507},
		{catalog.ErrKeyReused, 422},
		{service.ErrNotLeader, 503},
		{service.ErrNoLeader, 503},
		{service.ErrShutdown, 503},
		{context.Canceled, 503},
		{context.DeadlineExceeded, 503},
	}
	named := map[error]int{}
	for _, w := range want {
		named[w.err] = w.status
		for _, err := range []error{
			w.err,
			fmt.Errorf("%w: folder %q", w.err, "f"),
			fmt.Errorf("execution 3 of the request: %w", fmt.Errorf("%w: x", w.err)),
			service.Classify(w.err, errors.New("a message of its own")),
		} {
			if got := errorStatus(err); got != w.status {
				t.Errorf("errorStatus(%q) = %d, want %d", err, got, w.status)
			}
		}
	}
	for _, e := range errorStatuses {
		if st, ok := named[e.err]; !ok || st != e.status {
			t.Errorf("errorStatuses maps %q to %d; the test expects %d (0: not named)", e.err, e.status, st)
		}
	}
	others := []struct {
		name   string
		err    error
		status int
	}{
		{"max bytes", fmt.Errorf("read body: %w", &http.MaxBytesError{Limit: 10}), 413},
		{"coded", codedErr(http.StatusBadRequest, "slots must not be negative"), 400},
		{"unknown", errors.New("disk on fire"), 500},
		{"classified keeps its kind over its cause", service.Classify(catalog.ErrInvalid, fmt.Errorf("wraps %w", catalog.ErrDecrypt)), 400},
	}
	for _, o := range others {
		if got := errorStatus(o.err); got != o.status {
			t.Errorf("%s: errorStatus(%q) = %d, want %d", o.name, o.err, got, o.status)
		}
	}
}

// TestServer_UnavailableIs503 checks the status and the message of a cluster
// error through a handler.
func TestServer_UnavailableIs503(t *testing.T) {
	ts := newTestServer(t, Services{Status: &statusMock{err: fmt.Errorf("%w: raft is electing", service.ErrNoLeader)}}, 1<<20)
	code, body := do(t, ts, "GET", "/v1/status/leader", "")
	if code != 503 || !strings.Contains(body, "no leader elected: raft is electing") {
		t.Fatalf("leader while electing: %d %s", code, body)
	}
	code, body = do(t, ts, "POST", "/v1/operator/raft/remove-peer", `{"id":"n9"}`)
	if code != 503 {
		t.Fatalf("remove-peer while electing: %d %s", code, body)
	}
	ts = newTestServer(t, Services{Status: &statusMock{err: fmt.Errorf("%w: no server %q", service.ErrUnknownPeer, "n9")}}, 1<<20)
	if code, body := do(t, ts, "POST", "/v1/operator/raft/remove-peer", `{"id":"n9"}`); code != 404 || !strings.Contains(body, `unknown peer: no server \"n9\"`) {
		t.Fatalf("remove unknown peer: %d %s", code, body)
	}
}

// TestServer_MissingServiceIs501: an agent without a service answers its
// routes with a JSON 501 instead of calling a nil interface.
func TestServer_MissingServiceIs501(t *testing.T) {
	ts := newTestServer(t, Services{}, 1<<20)
	for _, r := range []struct{ method, path string }{
		{"GET", "/v1/status/leader"},
		{"GET", "/v1/executions/1"},
		{"GET", "/v1/workers"},
		{"GET", "/v1/folders"},
		{"GET", "/v1/archives/" + strings.Repeat("a", 64)},
		{"GET", "/v1/operator/snapshot"},
	} {
		code, body := do(t, ts, r.method, r.path, "")
		var er api.ErrorResponse
		if code != 501 || json.Unmarshal([]byte(body), &er) != nil || !strings.Contains(er.Error, "does not serve") {
			t.Errorf("%s %s: %d %s, want a JSON 501", r.method, r.path, code, body)
		}
	}
}

// TestServer_WorkersWireForm: the handler turns the service's WorkerStatus
// into api.Worker (no last_seen when the leader has not heard from it).
func TestServer_WorkersWireForm(t *testing.T) {
	seen := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	wm := &workerMock{list: []service.WorkerStatus{
		{Worker: catalog.Worker{ID: "w1", Node: "n1", MaxTasks: 4, Enabled: true, Labels: map[string]string{"os": "linux"}}, LastSeen: seen, Running: 2},
		{Worker: catalog.Worker{ID: "w2", Node: "n2", MaxTasks: 1}},
	}}
	ts := newTestServer(t, Services{Workers: wm}, 1<<20)
	c, _ := api.NewClient(api.Config{Address: ts.URL})
	list, err := c.Workers().List(context.Background())
	if err != nil || len(list) != 2 {
		t.Fatalf("workers: %v %v", list, err)
	}
	w1, w2 := list[0], list[1]
	if w1.ID != "w1" || w1.Node != "n1" || w1.MaxTasks != 4 || !w1.Enabled || w1.Labels["os"] != "linux" || w1.Running != 2 ||
		w1.LastSeen == nil || !w1.LastSeen.Equal(seen) {
		t.Fatalf("w1: %+v", w1)
	}
	if w2.ID != "w2" || w2.Enabled || w2.LastSeen != nil || w2.Running != 0 {
		t.Fatalf("w2: %+v", w2)
	}
}
