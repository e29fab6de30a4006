package server

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/scaleout/scaleout/api"
	"github.com/scaleout/scaleout/catalog"
	"github.com/scaleout/scaleout/catalog/service"
)

// Access control (docs/SECURITY.md). While the ACLs are off (an agent in
// dev mode or with --insecure, before acl bootstrap) every request passes,
// as before there were tokens. Once they are on (acl bootstrap has run, or
// the cluster requires tokens from the start: ACLService.ACLEnabled) a
// request needs
// a token (api.TokenHeader or Authorization: Bearer), except the health
// checks and the agents' own traffic: a request that TLS verified with a
// server or worker certificate of the cluster CA (forwarding, worker polls,
// keyring fan-out), or that carries this agent's internal token (its own
// worker and console). The route table (aclrules.go) says what each route
// needs; the tokens are read from this agent's replica of the catalog, so a
// revoke is in force on an agent as soon as it has applied it.

// ACLService resolves and manages tokens, approves workers, changes cluster
// settings and reads the operations log. It is optional: without it (a
// worker-only agent, which holds no catalog and forwards every catalog route
// to a server that checks) no request is checked here.
type ACLService interface {
	// ACLEnabled reports whether requests need a token: acl bootstrap has
	// run, or the cluster requires tokens from the start (acl_required).
	ACLEnabled() bool
	// ResolveToken finds a token by its secret (catalog.ErrNotFound if none).
	ResolveToken(secret string) (*catalog.ACLToken, error)
	ACLBootstrap(ctx context.Context) (string, *catalog.ACLToken, error)
	CreateToken(ctx context.Context, name, role string, folders map[string][]string, createdBy string) (string, *catalog.ACLToken, error)
	RevokeToken(ctx context.Context, id string) error
	Tokens() ([]*catalog.ACLToken, error)
	Token(id string) (*catalog.ACLToken, error)
	ApproveWorker(ctx context.Context, id string) error
	SetSetting(ctx context.Context, name, value string) error
	Settings() (map[string]string, error)
	Operations(f catalog.OperationFilter) ([]*catalog.Operation, uint64, error)
}

// RemoteExecACL is implemented by the ACLService of an agent without a
// replica (a worker-only agent): it reads an execution's folder from a
// server, with the caller's token.
type RemoteExecACL interface {
	ExecutionFolder(ctx context.Context, token string, id uint64) (string, error)
}

// ErrPermissionDenied is answered 403 (a RemoteExecACL's refusal).
var ErrPermissionDenied = errors.New("permission denied")

// principal is who a request acts as once ACLs are on.
type principal struct {
	token *catalog.ACLToken // nil for an agent
	agent string            // the agent's name, for an agent
	// internal: authenticated by this agent's internal token, which no
	// other agent knows (forward strips it).
	internal bool
}

func (p *principal) name() string {
	if p.token != nil {
		return p.token.Name
	}
	return "agent:" + p.agent
}

type principalKey struct{}

// principalFrom returns the request's principal; nil while ACLs are off
// (everything is allowed).
func principalFrom(ctx context.Context) *principal {
	p, _ := ctx.Value(principalKey{}).(*principal)
	return p
}

func writeJSONError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(api.ErrorResponse{Error: msg})
}

// authenticate establishes the request's principal and caller. Routes
// served through h and raw check their rule where they are served (guard);
// the few handlers mounted on the mux directly (metrics, profiler,
// console) are checked here.
func (s *srv) authenticate(mux *http.ServeMux, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, pattern := mux.Handler(r)
		rl := ruleFor(pattern)
		acl := s.svc.ACL
		if rl.kind == rulePublic || acl == nil || !acl.ACLEnabled() {
			next.ServeHTTP(w, r.WithContext(service.WithCaller(r.Context(), headerCaller(r))))
			return
		}
		p, err := s.resolve(r)
		if errors.Is(err, errUnknownToken) && s.askLeader(w, r) {
			return
		}
		if err != nil {
			writeJSONError(w, http.StatusUnauthorized, err.Error())
			return
		}
		if pattern != "" && !s.guarded[pattern] { // "": no such route, answered 404
			if err := rl.check(p, r); err != nil {
				writeJSONError(w, http.StatusForbidden, err.Error())
				return
			}
		}
		ctx := context.WithValue(r.Context(), principalKey{}, p)
		next.ServeHTTP(w, r.WithContext(service.WithCaller(ctx, p.name())))
	})
}

// guard checks the rule of pattern where the request is served: after
// forwarding, with the path's values known.
func (s *srv) guard(pattern string, next http.Handler) http.Handler {
	s.guarded[pattern] = true
	rl := ruleFor(pattern)
	bindWorker := pattern == "POST /v1/workers/{id}/poll"
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if bindWorker {
			if err := workerCertMatches(r, r.PathValue("id")); err != nil {
				writeJSONError(w, http.StatusForbidden, err.Error())
				return
			}
		}
		p := principalFrom(r.Context())
		if p == nil {
			next.ServeHTTP(w, r)
			return
		}
		err := rl.check(p, r)
		if err == nil && rl.kind == ruleExec && r.PathValue("id") != "" {
			var id uint64
			if id, err = pathID(r); err == nil {
				err = s.execAllowed(r, id, rl.perm)
			}
		}
		if err != nil {
			code := errorStatus(err)
			writeJSONError(w, code, err.Error())
			return
		}
		next.ServeHTTP(w, r)
	})
}

// resolve finds who a request acts as: its token, else the agent whose
// certificate (or internal token) it carries.
func (s *srv) resolve(r *http.Request) (*principal, error) {
	tok := api.RequestToken(r)
	if tok != "" && s.cfg.InternalToken != "" && subtle.ConstantTimeCompare([]byte(tok), []byte(s.cfg.InternalToken)) == 1 {
		return &principal{agent: "self", internal: true}, nil
	}
	if tok != "" {
		t, err := s.svc.ACL.ResolveToken(tok)
		if err != nil {
			return nil, errUnknownToken
		}
		return &principal{token: t}, nil
	}
	if id, ok := IdentityFrom(r.Context()); ok && (id.Role == "server" || id.Role == "worker") {
		return &principal{agent: id.Name}, nil
	}
	if b, ok := s.svc.ACL.(interface{ ACLBootstrapped() bool }); ok && !b.ACLBootstrapped() {
		return nil, codedErr(http.StatusUnauthorized, "this cluster requires an ACL token (its servers run with TLS and without --insecure) "+
			"and none exists yet: run 'scaleout acl bootstrap' to make the management token, then pass it with --token or SCALEOUT_TOKEN "+
			"(HTTP: Authorization: Bearer <token> or "+api.TokenHeader+")")
	}
	return nil, codedErr(http.StatusUnauthorized, "this cluster requires an ACL token: pass --token or SCALEOUT_TOKEN "+
		"(HTTP: Authorization: Bearer <token> or "+api.TokenHeader+")")
}

// workerCertMatches refuses a worker certificate that speaks for another
// worker: a worker-only agent's certificate names its node, which is its
// worker id, so it polls (and is leased attempts with their sensitive
// values) and registers only as itself. Server certificates speak for
// any worker (the servers' own workers, forwarding).
func workerCertMatches(r *http.Request, workerID string) error {
	if id, ok := IdentityFrom(r.Context()); ok && id.Role == "worker" && id.Name != workerID {
		return codedErr(http.StatusForbidden, "permission denied: the worker certificate of %q cannot act as worker %q", id.Name, workerID)
	}
	return nil
}

// errUnknownToken: the token is not in this agent's replica.
var errUnknownToken = &codedError{code: http.StatusUnauthorized, msg: "ACL token not accepted: no such token (revoked, or mistyped)"}

// askLeader forwards a request whose token this follower does not know to
// the leader, which may have created it a moment ago (a replica lags by
// milliseconds): a token works through any server as soon as the answer
// that made it arrived. It reports whether it forwarded.
func (s *srv) askLeader(w http.ResponseWriter, r *http.Request) bool {
	if !s.svc.Router.HasState() || r.Header.Get(ForwardedHeader) != "" {
		return false
	}
	addr, self, err := s.svc.Router.LeaderAPI()
	if err != nil || self {
		return false
	}
	s.forward(w, r, addr, 0)
	return true
}

// headerCaller is the caller before ACLs are on: what the client says, or
// its address.
func headerCaller(r *http.Request) string {
	if c := strings.TrimSpace(r.Header.Get(api.CallerHeader)); c != "" {
		if len(c) > 256 {
			c = c[:256]
		}
		return c
	}
	return r.RemoteAddr
}

// caller is the name recorded as who made a request: the token's name once
// ACLs are on, never a header then.
func caller(r *http.Request) string {
	if p := principalFrom(r.Context()); p != nil {
		return p.name()
	}
	return headerCaller(r)
}

// mayRead reports whether the request may read folder (true while ACLs
// are off). folder "" is an inline execution's: readable by tokens not
// limited to folders.
func mayRead(r *http.Request, folder string) bool {
	return allowed(principalFrom(r.Context()), folder, catalog.PermRead) == nil
}

// allowed checks perm in folder for p (nil: ACLs off).
func allowed(p *principal, folder, perm string) error {
	if p == nil {
		return nil
	}
	if p.token == nil {
		return codedErr(http.StatusForbidden, "permission denied: an agent's credential does not grant %s on folder %q (use an ACL token)", perm, folder)
	}
	if folder == "" {
		if p.token.AllFolders() && p.token.Allows("", perm) {
			return nil
		}
		return codedErr(http.StatusForbidden, "permission denied: token %q (role %s) lacks %s on executions of inline packages (only tokens not limited to folders have it)", p.token.Name, p.token.Role, perm)
	}
	if p.token.Allows(folder, perm) {
		return nil
	}
	return codedErr(http.StatusForbidden, "permission denied: token %q (role %s) lacks %s on folder %q", p.token.Name, p.token.Role, perm, folder)
}

// execAllowed checks perm on the folder of execution id, read from this
// agent's copy (the check runs where the request is served).
func (s *srv) execAllowed(r *http.Request, id uint64, perm string) error {
	p := principalFrom(r.Context())
	if p == nil || (p.token != nil && p.token.Role == catalog.RoleAdmin) {
		return nil
	}
	if !s.svc.Router.HasState() {
		remote, ok := s.svc.ACL.(RemoteExecACL)
		if !ok || p.token == nil {
			return codedErr(http.StatusForbidden, "permission denied: this agent cannot check execution %d's folder", id)
		}
		folder, err := remote.ExecutionFolder(r.Context(), api.RequestToken(r), id)
		if err != nil {
			return err
		}
		return allowed(p, folder, perm)
	}
	if s.svc.Executions == nil {
		return codedErr(http.StatusForbidden, "permission denied: this agent cannot check execution %d's folder", id)
	}
	e, err := s.svc.Executions.Execution(id)
	if err != nil {
		return err
	}
	return allowed(p, e.Folder, perm)
}
