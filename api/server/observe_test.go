package server

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

type readyFunc func(context.Context) error

func (f readyFunc) Ready(ctx context.Context) error { return f(ctx) }

func TestObserve_ProfilerOnlyWithEnableDebug(t *testing.T) {
	for _, debug := range []bool{false, true} {
		cfg := DefaultConfig()
		cfg.EnableDebug = debug
		h := New(cfg, Services{})
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/debug/pprof/", nil))
		want := http.StatusNotFound
		if debug {
			want = http.StatusOK
		}
		if rec.Code != want {
			t.Errorf("enable debug %v: /debug/pprof/ = %d, want %d", debug, rec.Code, want)
		}
	}
}

func TestObserve_HealthReadyAndMetrics(t *testing.T) {
	notReady := errors.New("applied index 3 is behind the commit index 9")
	var ready error
	metrics := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("m 1\n")) })
	ui := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("console")) })
	h := New(DefaultConfig(), Services{Ready: readyFunc(func(context.Context) error { return ready }), Metrics: metrics, UI: ui})
	do := func(path string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return rec
	}
	if rec := do("/v1/health/live"); rec.Code != 200 || !strings.Contains(rec.Body.String(), "live") {
		t.Errorf("live = %d %s", rec.Code, rec.Body)
	}
	if rec := do("/v1/health/ready"); rec.Code != 200 {
		t.Errorf("ready = %d %s", rec.Code, rec.Body)
	}
	ready = notReady
	if rec := do("/v1/health/ready"); rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "behind the commit index") {
		t.Errorf("ready while behind = %d %s", rec.Code, rec.Body)
	}
	if rec := do("/v1/metrics"); rec.Code != 200 || rec.Body.String() != "m 1\n" {
		t.Errorf("metrics = %d %s", rec.Code, rec.Body)
	}
	if rec := do("/"); rec.Code != http.StatusFound || rec.Header().Get("Location") != "/ui/" {
		t.Errorf("/ = %d to %q, want a redirect to /ui/", rec.Code, rec.Header().Get("Location"))
	}
	if rec := do("/ui/x"); rec.Body.String() != "console" {
		t.Errorf("/ui/x = %d %s", rec.Code, rec.Body)
	}
	// Without a metrics handler: 501, as any route of a missing service.
	rec := httptest.NewRecorder()
	New(DefaultConfig(), Services{}).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/metrics", nil))
	if rec.Code != http.StatusNotImplemented {
		t.Errorf("metrics without a handler = %d", rec.Code)
	}
}
