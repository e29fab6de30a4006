package server

import (
	"context"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/scaleout/scaleout/api"
)

// readyWait bounds how long a readiness check waits for this agent to
// catch up before it answers 503.
const readyWait = 2 * time.Second

// registerObserve adds what load balancers, orchestrators and operators
// look at: liveness, readiness, Prometheus metrics, the profiler (only with
// EnableDebug) and the web console. All are answered by this agent itself
// (never forwarded): each describes the agent asked.
func (s *srv) registerObserve(h func(string, mode, bool, handlerFunc), mux *http.ServeMux) {
	h("GET /v1/health/live", local, true, func(*http.Request) (any, error) {
		return api.Health{Status: "live"}, nil
	})
	h("GET /v1/health/ready", local, true, s.ready)
	if s.svc.Metrics != nil {
		mux.Handle("GET /v1/metrics", s.svc.Metrics)
	} else {
		h("GET /v1/metrics", local, false, nil)
	}
	if s.cfg.EnableDebug {
		mux.HandleFunc("GET /debug/pprof/", pprof.Index)
		mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("POST /debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	}
	if s.svc.UI != nil {
		mux.Handle("/ui/", s.svc.UI)
		mux.Handle("GET /{$}", http.RedirectHandler("/ui/", http.StatusFound))
	}
}

// ready answers 200 when this agent knows a leader, its catalog store
// works, and (on a server) it has applied everything it knows committed;
// else 503 naming the first reason.
func (s *srv) ready(r *http.Request) (any, error) {
	if s.svc.Status != nil {
		if _, err := s.svc.Status.Leader(); err != nil {
			return nil, codedErr(http.StatusServiceUnavailable, "not ready: %v", err)
		}
		if hc, ok := s.svc.Status.(HealthChecker); ok {
			if err := hc.Health(); err != nil {
				return nil, codedErr(http.StatusServiceUnavailable, "not ready: %v", err)
			}
		}
	}
	if s.svc.Ready != nil {
		ctx, cancel := context.WithTimeout(r.Context(), readyWait)
		defer cancel()
		if err := s.svc.Ready.Ready(ctx); err != nil {
			return nil, codedErr(http.StatusServiceUnavailable, "not ready: %v", err)
		}
	}
	return api.Health{Status: "ready"}, nil
}

func (s *srv) forwardError(reason string) {
	if s.cfg.ForwardError != nil {
		s.cfg.ForwardError(reason)
	}
}
