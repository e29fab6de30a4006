package server

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/scaleout/scaleout/api"
	"github.com/scaleout/scaleout/catalog"
)

// fakeACL resolves tokens from a map; its management methods are unused.
type fakeACL struct {
	ACLService
	on     bool
	tokens map[string]*catalog.ACLToken
}

func (f *fakeACL) ACLEnabled() bool { return f.on }
func (f *fakeACL) ResolveToken(s string) (*catalog.ACLToken, error) {
	if t, ok := f.tokens[s]; ok {
		return t, nil
	}
	return nil, catalog.ErrNotFound
}

func TestACL_RoutePermissions(t *testing.T) {
	acl := &fakeACL{on: true, tokens: map[string]*catalog.ACLToken{
		"adm":  {Name: "root", Role: catalog.RoleAdmin},
		"rd":   {Name: "auditor", Role: catalog.RoleReader},
		"exA":  {Name: "ops", Role: catalog.RoleExecutor, Folders: map[string][]string{"A": {"READ", "EXECUTE"}}},
		"depA": {Name: "dep", Role: catalog.RoleExecutor, Folders: map[string][]string{"A": {"MODIFY"}}},
		"wk":   {Name: "agents", Role: catalog.RoleWorker},
	}}
	cfg := DefaultConfig()
	cfg.InternalToken = "internal-secret"
	h := New(cfg, Services{ACL: acl})
	do := func(method, path, tok string) (int, string) {
		req := httptest.NewRequest(method, path, strings.NewReader("{}"))
		if tok != "" {
			req.Header.Set(api.TokenHeader, tok)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		var er api.ErrorResponse
		_ = json.Unmarshal(rec.Body.Bytes(), &er)
		return rec.Code, er.Error
	}
	// 501: the route let the request through to a service this test leaves out.
	checkRoutes(t, do, "with", []routeCase{
		{"GET", "/v1/health/live", "", 200, ""},
		{"GET", "/v1/folders", "", 401, "requires an ACL token"},
		{"GET", "/v1/folders", "bogus", 401, "no such token"},
		{"GET", "/v1/folders", "rd", 501, ""},
		{"GET", "/v1/folders/A/projects", "rd", 501, ""},
		{"POST", "/v1/folders", "rd", 403, "needs an admin token"},
		{"POST", "/v1/folders", "adm", 501, ""},
		{"POST", "/v1/folders/A/projects/p/versions", "rd", 403, `lacks MODIFY on folder "A"`},
		{"POST", "/v1/folders/A/projects/p/packages/x/executions", "exA", 501, ""},
		{"POST", "/v1/folders/B/projects/p/packages/x/executions", "exA", 403, `lacks EXECUTE on folder "B"`},
		{"GET", "/v1/folders/B/projects", "exA", 403, `lacks READ on folder "B"`},
		{"DELETE", "/v1/folders/A/projects/p", "exA", 403, `lacks MODIFY on folder "A"`},
		{"POST", "/v1/folders/A/projects/p/versions", "depA", 501, ""},
		{"POST", "/v1/archives", "depA", 501, ""},
		{"POST", "/v1/archives", "exA", 403, "holds MODIFY on no folder"},
		{"POST", "/v1/executions", "exA", 403, "needs an admin token"},
		{"POST", "/v1/workers/w/poll", "wk", 501, ""},
		{"POST", "/v1/workers/w/poll", "internal-secret", 501, ""},
		{"POST", "/v1/workers/w/poll", "rd", 403, "for agents"},
		{"GET", "/v1/folders", "wk", 501, ""}, // a list: the handler filters (a worker token reads nothing)
		{"GET", "/v1/folders/A", "wk", 403, `(role worker) lacks READ on folder "A"`},
		{"GET", "/v1/metrics", "rd", 403, "for agents"},
		{"GET", "/v1/operations", "rd", 403, "needs an admin token"},
		{"POST", "/v1/acl/tokens", "exA", 403, "needs an admin token"},
		{"POST", "/v1/workers/w/approve", "rd", 403, "needs an admin token"},
		{"PUT", "/v1/operator/snapshot", "rd", 403, "needs an admin token"},
		{"GET", "/v1/acl/token/self", "internal-secret", 403, "needs an ACL token"},
		{"GET", "/v1/nothing-here", "rd", 404, "no such endpoint"},
		{"GET", "/v1/nothing-here", "", 401, "requires an ACL token"},
	})
	// Before bootstrap every request passes, as before ACLs existed.
	acl.on = false
	if code, msg := do("POST", "/v1/folders", ""); code != 501 {
		t.Fatalf("ACLs off: %d %s", code, msg)
	}
}

// routeCase is one request of a route-permission table: who is the token
// or the certificate role it is sent with, msg a part of the answer.
type routeCase struct {
	method, path, who string
	code              int
	msg               string
}

// checkRoutes sends each case through do and reports the ones whose status
// or answer differ; how says what who is ("with" a token, "as" a role).
func checkRoutes(t *testing.T, do func(method, path, who string) (int, string), how string, cases []routeCase) {
	t.Helper()
	for _, c := range cases {
		code, msg := do(c.method, c.path, c.who)
		if code != c.code || !strings.Contains(msg, c.msg) {
			t.Errorf("%s %s %s %q: %d %q, want %d %q", c.method, c.path, how, c.who, code, msg, c.code, c.msg)
		}
	}
}

func TestACL_CallerIsTheTokenName(t *testing.T) {
	acl := &fakeACL{on: true, tokens: map[string]*catalog.ACLToken{"adm": {Name: "root", Role: catalog.RoleAdmin}}}
	var got string
	h := New(DefaultConfig(), Services{ACL: acl, Executions: &callerProbe{got: &got}})
	req := httptest.NewRequest("POST", "/v1/executions/7/stop", nil)
	req.Header.Set("Authorization", "Bearer adm")
	req.Header.Set(api.CallerHeader, "mallory")
	h.ServeHTTP(httptest.NewRecorder(), req)
	if got != "root" {
		t.Fatalf("caller %q, want the token's name", got)
	}
}

type callerProbe struct {
	ExecutionService
	got *string
}

func (p *callerProbe) Stop(_ context.Context, _ uint64, caller string) (catalog.Status, error) {
	*p.got = caller
	return catalog.StatusCanceled, nil
}

func (p *callerProbe) Execution(id uint64) (*catalog.Execution, error) {
	return &catalog.Execution{ID: id}, nil
}

type followerRouter struct{ leader string }

func (f followerRouter) LeaderAPI() (string, bool, error) { return f.leader, false, nil }
func (followerRouter) HasState() bool                     { return true }
func (followerRouter) Barrier(context.Context) error      { return nil }

// TestACL_UnknownTokenAsksTheLeader: a token the follower's replica does
// not hold yet (made a moment ago) is decided by the leader.
func TestACL_UnknownTokenAsksTheLeader(t *testing.T) {
	fresh := &catalog.ACLToken{Name: "fresh", Role: catalog.RoleAdmin}
	leader := httptest.NewServer(New(DefaultConfig(), Services{ACL: &fakeACL{on: true, tokens: map[string]*catalog.ACLToken{"new": fresh}}}))
	defer leader.Close()
	follower := New(DefaultConfig(), Services{Router: followerRouter{leader.URL}, ACL: &fakeACL{on: true, tokens: map[string]*catalog.ACLToken{}}})
	for tok, want := range map[string]int{"new": 501, "bogus": 401} {
		req := httptest.NewRequest("GET", "/v1/folders", nil)
		req.Header.Set(api.TokenHeader, tok)
		rec := httptest.NewRecorder()
		follower.ServeHTTP(rec, req)
		if rec.Code != want {
			t.Errorf("token %q through the follower: %d %s, want %d", tok, rec.Code, rec.Body, want)
		}
	}
}

// TestACL_WorkerCertificateSpeaksOnlyForItsWorker: a worker certificate
// polls and registers only as the worker its name says (ACLs on or off).
func TestACL_WorkerCertificateSpeaksOnlyForItsWorker(t *testing.T) {
	h := New(DefaultConfig(), Services{})
	for _, c := range []struct {
		role, name, path, body string
		want                   int
	}{
		{"worker", "w1", "/v1/workers/w2/poll", "{}", 403},
		{"worker", "w1", "/v1/workers/w1/poll", "{}", 501},
		{"server", "s1", "/v1/workers/w2/poll", "{}", 501},
	} {
		req := httptest.NewRequest("POST", c.path, strings.NewReader(c.body))
		req = req.WithContext(WithIdentity(req.Context(), Identity{Role: c.role, Name: c.name}))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != c.want {
			t.Errorf("%s/%s %s: %d %s, want %d", c.role, c.name, c.path, rec.Code, rec.Body, c.want)
		}
	}
	reg := &srv{svc: Services{}}
	req := httptest.NewRequest("POST", "/v1/workers", strings.NewReader(`{"id": "w2", "node": "w2", "max_tasks": 1}`))
	req = req.WithContext(WithIdentity(req.Context(), Identity{Role: "worker", Name: "w1"}))
	if _, err := reg.registerWorker(req); errorStatus(err) != 403 {
		t.Fatalf("register as another worker: %v", err)
	}
}

// preBootstrapACL is ACLs required before acl bootstrap (acl_required).
type preBootstrapACL struct {
	fakeACL
	boot bool
}

func (p *preBootstrapACL) ACLBootstrapped() bool { return p.boot }
func (p *preBootstrapACL) ACLBootstrap(context.Context) (string, *catalog.ACLToken, error) {
	return "s3cr3t", &catalog.ACLToken{Name: "management", Role: catalog.RoleAdmin, Bootstrap: true}, nil
}

// TestACL_RequiredBeforeBootstrap: with tokens required and none made yet,
// the 401 says to run acl bootstrap; bootstrap itself, the health checks
// and the console (which calls the API with its user's token) pass; the
// agents' certificates reach their routes.
func TestACL_RequiredBeforeBootstrap(t *testing.T) {
	acl := &preBootstrapACL{fakeACL: fakeACL{on: true}}
	ui := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "console") })
	h := New(DefaultConfig(), Services{ACL: acl, UI: ui})
	do := func(method, path, role string) (int, string) {
		req := httptest.NewRequest(method, path, strings.NewReader("{}"))
		if role != "" {
			req = req.WithContext(WithIdentity(req.Context(), Identity{Role: role, Name: "n1"}))
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code, rec.Body.String()
	}
	checkRoutes(t, do, "as", []routeCase{
		{"GET", "/v1/folders", "client", 401, "run 'scaleout acl bootstrap'"},
		{"POST", "/v1/folders", "client", 401, "none exists yet"},
		{"GET", "/v1/status/health", "", 401, "acl bootstrap"},
		{"POST", "/v1/acl/bootstrap", "client", 200, "s3cr3t"},
		{"GET", "/v1/health/ready", "", 200, ""},
		{"GET", "/ui/executions", "", 200, "console"},
		{"GET", "/v1/members", "server", 501, ""}, // 501: through to a service this test leaves out
		{"POST", "/v1/workers/n1/poll", "worker", 501, ""},
		{"GET", "/v1/folders/A", "worker", 403, "agent"},
	})
	acl.boot = true
	if code, body := do("GET", "/v1/folders", "client"); code != 401 || strings.Contains(body, "none exists yet") {
		t.Errorf("after bootstrap: %d %s; want the plain 401", code, body)
	}
}
