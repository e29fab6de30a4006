package console

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/scaleout/scaleout/api"
)

// fakeACLAPI answers the console's API calls as an agent with ACLs on
// would: token "admin" may do everything, "reader" may read, anything
// else is 401 ("internal", the console's own, stands for an agent with
// ACLs off). It records the tokens it was sent.
type fakeACLAPI struct {
	mu     sync.Mutex
	tokens []string
}

func (f *fakeACLAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	tok := r.Header.Get(api.TokenHeader)
	f.mu.Lock()
	f.tokens = append(f.tokens, tok)
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	deny := func(code int, msg string) {
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(api.ErrorResponse{Error: msg})
	}
	switch {
	case tok != "admin" && tok != "reader" && tok != "internal":
		deny(401, "ACL token not accepted: no such token (revoked, or mistyped)")
	case r.Method != http.MethodGet && tok == "reader":
		deny(403, `permission denied: POST `+r.URL.Path+` needs an admin token; token "auditor" has role reader`)
	case r.URL.Path == "/v1/workers":
		_, _ = io.WriteString(w, `[{"id":"w1","node":"w1","max_tasks":2,"enabled":true}]`)
	case r.URL.Path == "/v1/members":
		_, _ = io.WriteString(w, `[{"name":"w1","status":"alive"}]`)
	default:
		_, _ = io.WriteString(w, `{}`)
	}
}

// TestConsole_Login: with ACLs on, a console request without a token gets
// the login page (401); with one, the console passes it on to the API; a
// token the API refuses brings the login page back with the API's
// message; a reader's write shows the API's 403; with ACLs off nothing
// changes.
func TestConsole_Login(t *testing.T) {
	fake := &fakeACLAPI{}
	apiSrv := httptest.NewServer(fake)
	t.Cleanup(apiSrv.Close)
	client, err := api.NewClient(api.Config{Address: apiSrv.URL, Token: "internal", NoEnvToken: true})
	if err != nil {
		t.Fatal(err)
	}
	aclOn := true
	c, err := New(Config{Client: client, Node: "s1", NeedsToken: func() bool { return aclOn }})
	if err != nil {
		t.Fatal(err)
	}
	get := func(method, path, auth string) (int, string) {
		t.Helper()
		req := httptest.NewRequest(method, path, nil)
		if auth != "" {
			req.Header.Set("Authorization", "Bearer "+auth)
		}
		rec := httptest.NewRecorder()
		c.ServeHTTP(rec, req)
		return rec.Code, rec.Body.String()
	}
	sent := func() []string {
		fake.mu.Lock()
		defer fake.mu.Unlock()
		out := fake.tokens
		fake.tokens = nil
		return out
	}

	code, body := get("GET", "/ui/workers", "")
	if code != 401 || !strings.Contains(body, `id="login"`) || !strings.Contains(body, "requires an ACL token") {
		t.Errorf("without a token: %d\n%s", code, body)
	}
	if s := sent(); len(s) != 0 {
		t.Errorf("without a token the console called the API with %v (its own credential must not stand in)", s)
	}
	code, body = get("GET", "/ui/workers", "reader")
	if code != 200 || !strings.Contains(body, `data-worker="w1"`) || !strings.Contains(body, `id="logout"`) {
		t.Errorf("reader: %d\n%s", code, body)
	}
	for _, s := range sent() {
		if s != "reader" {
			t.Errorf("the API was sent token %q, want the reader's", s)
		}
	}
	code, body = get("GET", "/ui/workers", "revoked")
	if code != 401 || !strings.Contains(body, `id="login"`) || !strings.Contains(body, "ACL token not accepted") {
		t.Errorf("a refused token: %d\n%s", code, body)
	}
	code, body = get("POST", "/ui/workers/w1/disable", "reader")
	if code != 403 || !strings.Contains(body, "permission denied") || !strings.Contains(body, "role reader") {
		t.Errorf("a reader's write: %d\n%s", code, body)
	}
	code, _ = get("POST", "/ui/workers/w1/disable", "")
	if code != 401 {
		t.Errorf("a write without a token: %d, want the login page (401)", code)
	}
	if code, _ = get("POST", "/ui/workers/w1/disable", "admin"); code != http.StatusSeeOther {
		t.Errorf("an admin's write: %d, want 303", code)
	}
	sent()
	aclOn = false
	if code, body = get("GET", "/ui/workers", ""); code != 200 || strings.Contains(body, `id="login-go"`) {
		t.Errorf("ACLs off: %d\n%s", code, body)
	}
	if s := sent(); len(s) == 0 || s[0] != "internal" {
		t.Errorf("ACLs off: the console sent %v, want its own token", s)
	}
	// The assets need no token (the login page uses them).
	if code, _ = get("GET", "/ui/static/app.js", ""); code != 200 {
		t.Errorf("app.js without a token: %d", code)
	}
}
