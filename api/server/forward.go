package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"time"

	"github.com/scaleout/scaleout/api"
	"github.com/scaleout/scaleout/catalog/service"
)

// Router tells the handlers where a request must be served. Implementations
// must be safe for concurrent use.
type Router interface {
	// LeaderAPI returns the base URL of the API to forward leader-only
	// requests to, or self=true when this agent is the leader.
	LeaderAPI() (addr string, self bool, err error)
	// HasState reports whether this agent holds a copy of the catalog
	// (servers do; worker-only agents forward every read).
	HasState() bool
	// Barrier waits until the leader has applied everything committed, for
	// consistent reads.
	Barrier(ctx context.Context) error
}

// IndexReader is implemented by a Router whose agent holds a replica of
// the catalog. Reads with ?index=N wait until the replica has applied N
// (read-your-writes through any agent), and every answer served here
// carries the applied index in api.IndexHeader.
type IndexReader interface {
	AppliedIndex() uint64
	WaitApplied(ctx context.Context, index uint64) bool
}

// indexWait bounds how long a read waits for this replica to apply the
// index it asks for before it is served by the leader instead.
const indexWait = 2 * time.Second

// indexWriter sets api.IndexHeader when the answer's header is written,
// which is after the handler's write was applied.
type indexWriter struct {
	http.ResponseWriter
	ir    IndexReader
	wrote bool
}

func (w *indexWriter) WriteHeader(code int) {
	if !w.wrote {
		w.wrote = true
		w.Header().Set(api.IndexHeader, strconv.FormatUint(w.ir.AppliedIndex(), 10))
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *indexWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

func (w *indexWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		if !w.wrote {
			w.WriteHeader(http.StatusOK)
		}
		f.Flush()
	}
}

func (w *indexWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// serveHere serves r on this agent, with the index header when it holds
// a replica.
func (s *srv) serveHere(next http.Handler, w http.ResponseWriter, r *http.Request) {
	if ir, ok := s.svc.Router.(IndexReader); ok && s.svc.Router.HasState() {
		w = &indexWriter{ResponseWriter: w, ir: ir}
	}
	next.ServeHTTP(w, r)
}

// caughtUp reports whether this replica has applied the index a read asks
// for (?index=N), waiting up to indexWait; a malformed index is an error.
func (s *srv) caughtUp(r *http.Request) (bool, *codedError) {
	v := r.URL.Query().Get("index")
	if v == "" {
		return true, nil
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return false, &codedError{code: http.StatusBadRequest, msg: fmt.Sprintf("index %q: want a Raft index (a whole number)", v)}
	}
	ir, ok := s.svc.Router.(IndexReader)
	if !ok || n == 0 {
		return true, nil
	}
	ctx, cancel := context.WithTimeout(r.Context(), indexWait)
	defer cancel()
	return ir.WaitApplied(ctx, n), nil
}

type mode int

const (
	local  mode = iota // answered by this agent
	read               // local catalog copy, or the leader's when consistent or stateless
	leader             // the leader only
	// dispatch is the leader only, without waiting for an election: a
	// worker's poll leases work in its answer, and a poll that outlived
	// its worker's patience would lease attempts nobody receives. The
	// worker retries polls itself.
	dispatch
)

// ForwardedHeader counts how often a request was forwarded, to stop loops
// while leadership moves.
const ForwardedHeader = "X-Scaleout-Forwarded"

const maxForwards = 2

// leaderPoll is how often a request waiting for a leader looks again.
const leaderPoll = 25 * time.Millisecond

// route serves next here or forwards the request, per m. limit caps the
// body of a forwarded request (0: the serving handler applies its own).
func (s *srv) route(m mode, limit int64, next http.Handler) http.Handler {
	if m == local {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		consistent := r.URL.Query().Get("consistent") == "true"
		if m == read && s.svc.Router.HasState() && !consistent {
			ok, err := s.caughtUp(r)
			if err != nil {
				writeError(w, err)
				return
			}
			if ok {
				s.serveHere(next, w, r)
				return
			}
			// This replica lags behind what the client has seen: the
			// leader has applied it.
		}
		// While there is no leader (an election), wait for one instead of
		// failing at once; nothing has been proposed yet. A consistent read
		// whose barrier loses leadership is asked of the next leader.
		wait := s.cfg.LeaderWait
		if m == dispatch {
			wait = 0
		}
		deadline := time.Now().Add(wait)
		var addr string
		for {
			a, self, err := s.svc.Router.LeaderAPI()
			if err == nil && self && consistent {
				if err = s.svc.Router.Barrier(r.Context()); err != nil && !errors.Is(err, service.ErrNotLeader) {
					writeError(w, &codedError{code: http.StatusServiceUnavailable, msg: "consistent read: " + err.Error()})
					return
				}
			}
			if err == nil {
				if self {
					if m == read {
						if _, cerr := s.caughtUp(r); cerr != nil {
							writeError(w, cerr)
							return
						}
					}
					s.serveHere(next, w, r)
					return
				}
				addr = a
				break
			}
			// A server whose own store fails (a full disk under raft.db
			// makes a lone server lose its leadership at every election):
			// the failing disk is the answer, 507, not "no leader".
			if hc, ok := s.svc.Status.(HealthChecker); ok && m != read {
				if herr := hc.Health(); herr != nil {
					s.forwardError("no_leader")
					writeError(w, &codedError{code: http.StatusInsufficientStorage, msg: "no leader while " + herr.Error()})
					return
				}
			}
			if !time.Now().Before(deadline) {
				s.forwardError("no_leader")
				writeError(w, &codedError{code: http.StatusServiceUnavailable, msg: "no leader: " + err.Error()})
				return
			}
			select {
			case <-r.Context().Done():
				return // the client went away
			case <-time.After(leaderPoll):
			}
		}
		s.forward(w, r, addr, limit)
	})
}

func (s *srv) forward(w http.ResponseWriter, r *http.Request, addr string, limit int64) {
	hops, _ := strconv.Atoi(r.Header.Get(ForwardedHeader))
	if hops >= maxForwards {
		s.forwardError("loop")
		writeError(w, &codedError{code: http.StatusServiceUnavailable, msg: fmt.Sprintf("request forwarded %d times without reaching the leader (leadership is changing); retry", hops)})
		return
	}
	target, err := url.Parse(addr)
	if err != nil || target.Host == "" {
		s.forwardError("unreachable")
		writeError(w, &codedError{code: http.StatusServiceUnavailable, msg: fmt.Sprintf("leader has an unusable API address %q", addr)})
		return
	}
	if limit > 0 {
		r.Body = http.MaxBytesReader(w, r.Body, limit)
	}
	// A request forwarded to a leader that dies hangs until TCP gives up
	// (a dead host sends no reset). When another leader is known, cancel
	// it: the client gets 503 at once and retries (a worker's poll must
	// come back within its lease, or it fences its attempts).
	ctx, cancel := context.WithCancelCause(r.Context())
	defer cancel(nil)
	go s.cancelOnLeaderChange(ctx, addr, cancel)
	r = r.WithContext(ctx)
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = target.Host
			pr.Out.Header.Set(ForwardedHeader, strconv.Itoa(hops+1))
			pr.Out.Header.Del(IdentityHeader)
			if s.cfg.InternalToken != "" && api.RequestToken(r) == s.cfg.InternalToken {
				// This agent's internal token means nothing elsewhere.
				pr.Out.Header.Del(api.TokenHeader)
				pr.Out.Header.Del("Authorization")
				if s.cfg.AgentToken != "" {
					pr.Out.Header.Set(api.TokenHeader, s.cfg.AgentToken)
				}
			}
			if id, ok := IdentityFrom(r.Context()); ok {
				pr.Out.Header.Set(IdentityHeader, id.Role+"/"+id.Name)
			}
		},
		Transport: s.transport,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				writeError(w, &codedError{code: http.StatusRequestEntityTooLarge, msg: fmt.Sprintf("request body is larger than the limit of %d bytes", mbe.Limit)})
				return
			}
			if cause := context.Cause(r.Context()); errors.Is(cause, errLeaderMoved) {
				s.forwardError("leader_moved")
				writeError(w, &codedError{code: http.StatusServiceUnavailable, msg: fmt.Sprintf("forwarding to %s: %v; retry", addr, cause)})
				return
			}
			if errors.Is(err, context.Canceled) {
				return // the client went away
			}
			s.forwardError("unreachable")
			writeError(w, &codedError{code: http.StatusBadGateway, msg: fmt.Sprintf("forwarding to the leader at %s: %v", addr, err)})
		},
	}
	proxy.ServeHTTP(w, r)
}

// errLeaderMoved cancels a forwarded request whose leader is no longer the
// leader.
var errLeaderMoved = errors.New("leadership moved while the request was forwarded")

// leaderCheck is how often a forwarded request checks that its target is
// still the leader.
const leaderCheck = 100 * time.Millisecond

// cancelOnLeaderChange cancels ctx when a leader other than addr is known,
// until ctx ends.
func (s *srv) cancelOnLeaderChange(ctx context.Context, addr string, cancel context.CancelCauseFunc) {
	t := time.NewTicker(leaderCheck)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		a, self, err := s.svc.Router.LeaderAPI()
		if err != nil || (!self && a == addr) {
			continue
		}
		if self {
			a = "this agent"
		}
		cancel(fmt.Errorf("%w (now %s)", errLeaderMoved, a))
		return
	}
}

func writeError(w http.ResponseWriter, err *codedError) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(err.code)
	_ = json.NewEncoder(w).Encode(api.ErrorResponse{Error: err.msg})
}
