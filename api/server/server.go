package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/scaleout/scaleout/api"
)

// Config configures the handlers.
type Config struct {
	// MaxBodyBytes limits request bodies; larger ones get 413.
	MaxBodyBytes int64
	// MaxEventsWait caps the wait of a blocking events query.
	MaxEventsWait time.Duration
	// LeaderWait is how long a request that needs the leader waits for one
	// while none is known (an election), before it is answered 503. Such a
	// request has not been proposed yet, so waiting cannot duplicate it.
	LeaderWait time.Duration
	Logger     hclog.Logger
	// EnableDebug serves Go's profiler at /debug/pprof/ (observe.go).
	EnableDebug bool
	// ForwardError, if set, is told each time a request cannot be forwarded
	// to the leader: "no_leader", "unreachable" or "loop" (metrics).
	ForwardError func(reason string)
	// Served, if set, is told how long each request took from its route's
	// handler to its return, by route pattern (metrics).
	Served func(route string, d time.Duration)
	// Transport carries forwarded requests to the leader (default: plain
	// HTTP); with TLS it presents this agent's certificate.
	Transport http.RoundTripper
	// Security is reported by GET /v1/status/health.
	Security Security
	// InternalToken is this agent's own secret for its own API clients
	// (worker, console): it authenticates them as the agent once ACLs
	// are on. Forwarding replaces it with AgentToken (it means nothing
	// to other agents).
	InternalToken string
	// AgentToken is the ACL token this agent presents to other agents
	// when it forwards its own calls (acl_agent_token; empty: the TLS
	// certificate identifies the agent).
	AgentToken string
}

// DefaultConfig returns the defaults: 16 MiB bodies, 5 minute waits, 5 s
// to wait for a leader.
func DefaultConfig() Config {
	return Config{MaxBodyBytes: 16 << 20, MaxEventsWait: 5 * time.Minute, LeaderWait: 5 * time.Second}
}

// New returns the API handler serving svc.
func New(cfg Config, svc Services) http.Handler {
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultConfig().MaxBodyBytes
	}
	if cfg.MaxEventsWait <= 0 {
		cfg.MaxEventsWait = DefaultConfig().MaxEventsWait
	}
	if cfg.LeaderWait < 0 {
		cfg.LeaderWait = 0
	}
	if cfg.Logger == nil {
		cfg.Logger = hclog.NewNullLogger()
	}
	if svc.Router == nil {
		svc.Router = selfRouter{}
	}
	s := &srv{cfg: cfg, svc: svc, logger: cfg.Logger.Named("http"), transport: cfg.Transport, guarded: map[string]bool{}}
	if s.transport == nil {
		s.transport = &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 64,
			// A leader that died leaves no one to refuse the connection.
			DialContext: (&net.Dialer{Timeout: 3 * time.Second, KeepAlive: 15 * time.Second}).DialContext}
	}
	mux := http.NewServeMux()
	// Where each route is served: local (this agent answers), read (local
	// copy of the catalog unless ?consistent=true or this agent has none),
	// leader (forwarded to the leader unless this agent leads).
	// A route of a service the agent does not have answers 501 instead of
	// calling a nil interface.
	h := func(pattern string, m mode, have bool, fn handlerFunc) {
		if !have {
			fn = func(*http.Request) (any, error) { return nil, errNoService(pattern) }
		}
		mux.Handle(pattern, s.timed(pattern, s.route(m, s.cfg.MaxBodyBytes, s.guard(pattern, s.wrap(fn)))))
	}
	st, ex, wk, qu := svc.Status != nil, svc.Executions != nil, svc.Workers != nil, svc.Queue != nil
	h("GET /v1/status/leader", local, st, s.leader)
	h("GET /v1/status/health", local, true, s.health)
	h("GET /v1/status/peers", read, st, s.peers)
	h("GET /v1/members", local, st, s.members)
	h("POST /v1/operator/raft/remove-peer", leader, st, s.removePeer)
	h("POST /v1/executions", leader, ex, s.submit)
	h("POST /v1/executions/bulk", leader, ex, s.submitBulk)
	h("GET /v1/executions", read, ex, s.listExecutions)
	h("GET /v1/executions/{id}", read, ex, s.execution)
	h("GET /v1/executions/{id}/events", read, ex, s.events)
	h("POST /v1/executions/{id}/stop", leader, ex, s.stop)
	h("POST /v1/executions/stop", leader, ex, s.stopBulk)
	h("POST /v1/executions/{id}/start", leader, qu, s.start)
	h("POST /v1/executions/{id}/values", leader, qu, s.setExecution)
	h("GET /v1/caps", read, qu, s.caps)
	h("PUT /v1/caps", leader, qu, s.setCap)
	h("POST /v1/executions/{id}/attempts/{attempt}/events", leader, wk, s.reportEvents)
	h("POST /v1/executions/{id}/attempts/{attempt}/result", leader, wk, s.reportResult)
	h("POST /v1/workers", leader, wk, s.registerWorker)
	h("GET /v1/workers", leader, wk, s.listWorkers)
	h("POST /v1/workers/{id}/poll", dispatch, wk, s.poll)
	h("POST /v1/workers/{id}/enable", leader, wk, s.enableWorker)
	h("POST /v1/workers/{id}/disable", leader, wk, s.disableWorker)
	h("DELETE /v1/workers/{id}", leader, wk, s.removeWorker)
	// Raw transfers set their own body limits where they are served.
	raw := func(pattern string, m mode, have bool, hd http.Handler) {
		if !have {
			hd = s.raw(0, func(io.Writer, *http.Request) error { return errNoService(pattern) })
		}
		mux.Handle(pattern, s.timed(pattern, s.route(m, 0, s.guard(pattern, hd))))
	}
	s.registerCatalog(h, raw)
	s.registerSchedules(h)
	s.registerKeyring(h)
	s.registerACL(h)
	s.registerObserve(h, mux)
	raw("GET /v1/executions/{id}/attempts/{attempt}/log", local, wk, s.raw(0, s.attemptLog))
	return s.authenticate(mux, jsonFallback(mux))
}

// timed tells cfg.Served how long next took to answer a request of route
// pattern.
func (s *srv) timed(pattern string, next http.Handler) http.Handler {
	if s.cfg.Served == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t0 := time.Now()
		defer func() { s.cfg.Served(pattern, time.Since(t0)) }()
		next.ServeHTTP(w, r)
	})
}

func errNoService(pattern string) error {
	return codedErr(http.StatusNotImplemented, "this agent does not serve %s", pattern)
}

// jsonFallback answers requests no pattern matches (404, or 405 for a known
// path with another method) with a JSON error like every other error.
func jsonFallback(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, pattern := mux.Handler(r)
		if pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		rec := &statusRecorder{header: http.Header{}}
		h.ServeHTTP(rec, r)
		if allow := rec.header.Get("Allow"); allow != "" {
			w.Header().Set("Allow", allow)
		}
		code := rec.code
		msg := fmt.Sprintf("no such endpoint: %s %s", r.Method, r.URL.Path)
		if code == http.StatusMethodNotAllowed {
			msg = fmt.Sprintf("method %s is not allowed on %s (allowed: %s)", r.Method, r.URL.Path, rec.header.Get("Allow"))
		} else {
			code = http.StatusNotFound
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(api.ErrorResponse{Error: msg})
	})
}

// statusRecorder captures the status and headers of the mux's own error
// handlers.
type statusRecorder struct {
	header http.Header
	code   int
}

func (r *statusRecorder) Header() http.Header         { return r.header }
func (r *statusRecorder) Write(b []byte) (int, error) { return len(b), nil }
func (r *statusRecorder) WriteHeader(code int)        { r.code = code }

type srv struct {
	cfg       Config
	svc       Services
	logger    hclog.Logger
	transport http.RoundTripper // for forwarding to the leader
	guarded   map[string]bool   // patterns whose rule guard checks (written only in New)
}

type handlerFunc func(r *http.Request) (any, error)

func (s *srv) wrap(fn handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
		r = r.WithContext(context.WithValue(r.Context(), responseKey{}, w))
		out, err := fn(r)
		w.Header().Set("Content-Type", "application/json")
		if err != nil {
			code := errorStatus(err)
			msg := err.Error()
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				msg = fmt.Sprintf("request body is larger than the limit of %d bytes", mbe.Limit)
			}
			if code >= 500 {
				s.logger.Error("request failed", "method", r.Method, "path", r.URL.Path, "error", err)
			}
			w.WriteHeader(code)
			_ = json.NewEncoder(w).Encode(api.ErrorResponse{Error: msg})
			return
		}
		if out == nil {
			out = struct{}{}
		}
		_ = json.NewEncoder(w).Encode(out)
	})
}

// decode reads a JSON body strictly: unknown fields and trailing data are
// errors (400), an oversize body is 413.
func decode(r *http.Request, out any) error {
	dec := json.NewDecoder(r.Body)
	// People's requests name an unknown field as an error; the worker
	// protocol's messages skip them, so that a newer worker keeps working
	// with this leader during a rolling upgrade.
	if _, ok := out.(interface{ AcceptsUnknownFields() }); !ok {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(out); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		if errors.Is(err, io.EOF) {
			return codedErr(http.StatusBadRequest, "request body is empty")
		}
		return codedErr(http.StatusBadRequest, "malformed JSON body: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		return codedErr(http.StatusBadRequest, "malformed JSON body: data after the JSON value")
	}
	return nil
}

// apiList returns a handler's answer from a list call's result: the list
// converted by conv, element by element ([] when empty), or the error.
func apiList[E, A any](conv func(E) A) func(list []E, err error) (any, error) {
	return func(list []E, err error) (any, error) {
		if err != nil {
			return nil, err
		}
		out := make([]A, 0, len(list))
		for _, e := range list {
			out = append(out, conv(e))
		}
		return out, nil
	}
}

// apiValue is apiList for a call that returns one value.
func apiValue[E, A any](conv func(E) A) func(v E, err error) (any, error) {
	return func(v E, err error) (any, error) {
		if err != nil {
			return nil, err
		}
		return conv(v), nil
	}
}

// withBody decodes the request's JSON body as a T and answers what fn does
// with it.
func withBody[T any](r *http.Request, fn func(req *T) (any, error)) (any, error) {
	var req T
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	return fn(&req)
}

// withID reads the execution id, {id} in the path, and answers what fn
// does with it.
func withID(r *http.Request, fn func(id uint64) (any, error)) (any, error) {
	id, err := pathID(r)
	if err != nil {
		return nil, err
	}
	return fn(id)
}

// forAttempt reads a worker's report on one attempt: {id} and {attempt} in
// the path, the report as the JSON body. It answers nothing but fn's error.
func forAttempt[T any](r *http.Request, fn func(id uint64, attempt int, rep *T) error) (any, error) {
	return withID(r, func(id uint64) (any, error) {
		attempt, err := pathAttempt(r)
		if err != nil {
			return nil, err
		}
		return withBody(r, func(rep *T) (any, error) {
			return nil, fn(id, attempt, rep)
		})
	})
}

func pathID(r *http.Request) (uint64, error) {
	raw := r.PathValue("id")
	id, err := strconv.ParseUint(raw, 10, 64)
	if err != nil || id == 0 {
		return 0, codedErr(http.StatusBadRequest, "invalid execution id %q: want a positive integer", raw)
	}
	return id, nil
}

func pathAttempt(r *http.Request) (int, error) {
	raw := r.PathValue("attempt")
	n, err := strconv.Atoi(raw)
	if err != nil || n <= 0 {
		return 0, codedErr(http.StatusBadRequest, "invalid attempt %q: want a positive integer", raw)
	}
	return n, nil
}

func queryUint(r *http.Request, name string) (uint64, error) {
	raw := r.URL.Query().Get(name)
	if raw == "" {
		return 0, nil
	}
	v, err := strconv.ParseUint(raw, 10, 64)
	if err != nil {
		return 0, codedErr(http.StatusBadRequest, "invalid %s %q: want a non-negative integer", name, raw)
	}
	return v, nil
}

func queryInt(r *http.Request, name string, max int) (int, error) {
	v, err := queryUint(r, name)
	if err != nil {
		return 0, err
	}
	if v > uint64(max) {
		return 0, codedErr(http.StatusBadRequest, "%s %d is over the maximum of %d", name, v, max)
	}
	return int(v), nil
}
