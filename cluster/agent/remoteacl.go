package agent

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/scaleout/scaleout/api"
	"github.com/scaleout/scaleout/api/server"
	"github.com/scaleout/scaleout/catalog"
	"github.com/scaleout/scaleout/cluster/tlsutil"
)

// remoteACL lets a worker-only agent, which holds no replica of the
// catalog, check tokens on the routes it answers itself (an attempt's log,
// members, status, metrics): it asks the leader, and remembers each answer
// for remoteACLTTL, so a revoke reaches such an agent within that time.
// Everything else it forwards, and the server that serves it checks.
type remoteACL struct {
	a  *Agent
	hc *http.Client

	mu     sync.Mutex
	on     bool      // ACLs bootstrapped, as last heard
	onAt   time.Time // when it was last asked
	asking bool      // a request asks the leader now; the others take on
	tokens map[string]remoteToken
}

type remoteToken struct {
	tok *catalog.ACLToken // nil: refused
	at  time.Time
}

const (
	remoteACLTTL       = time.Second
	remoteACLMaxTokens = 1024
	remoteACLTimeout   = 3 * time.Second
)

var errRemoteOnly = errors.New("a worker-only agent forwards this to a server")

func newRemoteACL(a *Agent) *remoteACL {
	hc := &http.Client{Timeout: remoteACLTimeout}
	if t := a.httpTransport(tlsutil.RoleServer); t != nil {
		hc.Transport = t
	}
	return &remoteACL{a: a, hc: hc, tokens: map[string]remoteToken{}}
}

// client talks to the leader with tok (none: the agent's own credential).
func (r *remoteACL) client(tok string) (*api.Client, error) {
	addr, self, err := r.a.master.LeaderAPI()
	if err != nil {
		return nil, err
	}
	if self {
		return nil, errors.New("no replica here")
	}
	if tok == "" {
		tok = r.a.cfg.ACLAgentToken
	}
	return api.NewClient(api.Config{Address: addr, HTTPClient: r.hc, Token: tok, NoEnvToken: true, Caller: "acl@" + r.a.cfg.Node})
}

// ACLEnabled says on when this agent requires tokens itself (TLS, no
// --insecure), else asks the leader whether ACLs are on (its own view of
// itself: 404 "no ACL token in use" while they are off). Without an answer
// it keeps the last one; before the first it says off, as agents behaved
// before ACLs existed.
func (r *remoteACL) ACLEnabled() bool {
	if r.a.aclRequired() {
		return true
	}
	r.mu.Lock()
	if time.Since(r.onAt) < remoteACLTTL || r.asking {
		on := r.on
		r.mu.Unlock()
		return on
	}
	r.asking = true
	r.mu.Unlock()
	on, known := r.ask()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.asking, r.onAt = false, time.Now()
	if known {
		r.on = on
	}
	return r.on
}

func (r *remoteACL) ask() (on, known bool) {
	c, err := r.client("")
	if err != nil {
		return false, false
	}
	ctx, cancel := context.WithTimeout(context.Background(), remoteACLTimeout)
	defer cancel()
	_, err = c.ACL().Self(ctx)
	switch {
	case api.IsStatus(err, http.StatusNotFound):
		return false, true
	case api.IsStatus(err, http.StatusUnauthorized), api.IsStatus(err, http.StatusForbidden), err == nil:
		return true, true
	}
	return false, false
}

// ResolveToken asks the leader who secret is.
func (r *remoteACL) ResolveToken(secret string) (*catalog.ACLToken, error) {
	r.mu.Lock()
	if e, ok := r.tokens[secret]; ok && time.Since(e.at) < remoteACLTTL {
		r.mu.Unlock()
		if e.tok == nil {
			return nil, catalog.ErrNotFound
		}
		return e.tok, nil
	}
	r.mu.Unlock()
	c, err := r.client(secret)
	if err != nil {
		return nil, fmt.Errorf("token: %w (cannot reach a server: %v)", catalog.ErrNotFound, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), remoteACLTimeout)
	defer cancel()
	t, err := c.ACL().Self(ctx)
	var tok *catalog.ACLToken
	switch {
	case err == nil:
		tok = &catalog.ACLToken{AccessorID: t.AccessorID, Name: t.Name, Role: t.Role, Folders: t.Folders, CreatedAt: t.CreatedAt}
	case !api.IsStatus(err, http.StatusUnauthorized):
		return nil, fmt.Errorf("token: %w (the server answered: %v)", catalog.ErrNotFound, err)
	}
	r.mu.Lock()
	if len(r.tokens) >= remoteACLMaxTokens {
		clear(r.tokens)
	}
	r.tokens[secret] = remoteToken{tok: tok, at: time.Now()}
	r.mu.Unlock()
	if tok == nil {
		return nil, catalog.ErrNotFound
	}
	return tok, nil
}

// ExecutionFolder reads an execution's folder from the leader with the
// caller's token (a token that may not read it gets the leader's 403).
func (r *remoteACL) ExecutionFolder(ctx context.Context, token string, id uint64) (string, error) {
	c, err := r.client(token)
	if err != nil {
		return "", err
	}
	e, err := c.Executions().Info(ctx, id)
	if err != nil {
		var ae *api.Error
		switch {
		case errors.As(err, &ae) && (ae.StatusCode == http.StatusForbidden || ae.StatusCode == http.StatusUnauthorized):
			return "", fmt.Errorf("%w: %s", server.ErrPermissionDenied, strings.TrimPrefix(ae.Message, "permission denied: "))
		case errors.As(err, &ae) && ae.StatusCode == http.StatusNotFound:
			return "", fmt.Errorf("%w: execution %d: %s", catalog.ErrNotFound, id, ae.Message)
		}
		return "", err
	}
	return e.Folder, nil
}

// The rest is served by servers: a worker-only agent forwards those routes.

func (r *remoteACL) ACLBootstrap(context.Context) (string, *catalog.ACLToken, error) {
	return "", nil, errRemoteOnly
}
func (r *remoteACL) CreateToken(context.Context, string, string, map[string][]string, string) (string, *catalog.ACLToken, error) {
	return "", nil, errRemoteOnly
}
func (r *remoteACL) RevokeToken(context.Context, string) error        { return errRemoteOnly }
func (r *remoteACL) Tokens() ([]*catalog.ACLToken, error)             { return nil, errRemoteOnly }
func (r *remoteACL) Token(string) (*catalog.ACLToken, error)          { return nil, errRemoteOnly }
func (r *remoteACL) ApproveWorker(context.Context, string) error      { return errRemoteOnly }
func (r *remoteACL) SetSetting(context.Context, string, string) error { return errRemoteOnly }
func (r *remoteACL) Settings() (map[string]string, error)             { return nil, errRemoteOnly }
func (r *remoteACL) Operations(catalog.OperationFilter) ([]*catalog.Operation, uint64, error) {
	return nil, 0, errRemoteOnly
}

var (
	_ server.ACLService    = (*remoteACL)(nil)
	_ server.RemoteExecACL = (*remoteACL)(nil)
)
