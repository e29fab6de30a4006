package console

import (
	"net/http"

	"github.com/scaleout/scaleout/api"
)

// Logging in (docs/SECURITY.md, "The web console"). With the access
// control lists on, the console acts for the person using it: they paste
// an ACL token into the login page, the browser keeps it in
// sessionStorage (this tab only, gone when it closes) and static/app.js
// sends it as Authorization: Bearer on every request the console makes
// (it fetches pages and posts forms itself, and shows the answer). The
// console passes the token on to the API, which decides: a reader's pages
// read, its buttons answer the API's 403. A request without a token, or
// one whose token the API refuses (401), gets the login page. The token
// is never put into a cookie, so another site cannot make the browser use
// it; without ACLs nothing changes.

// api returns the API client of a request: the console's own, sending the
// request's token when it carries one.
func (c *Console) api(r *http.Request) *api.Client {
	if tok := api.RequestToken(r); tok != "" {
		return c.c.WithToken(tok)
	}
	return c.c
}

// needsLogin reports whether r must log in first: the ACLs are on and it
// carries no token (the console's own credential is an agent's, which
// reads nothing once they are on).
func (c *Console) needsLogin(r *http.Request) bool {
	return c.cfg.NeedsToken != nil && api.RequestToken(r) == "" && c.cfg.NeedsToken()
}

// loginMessage is what the login page says when a request carried no token.
const loginMessage = "This cluster requires an ACL token. Paste yours (scaleout acl token create, or the management token of acl bootstrap) to use the console."

// login renders the login page (401) with msg.
func (c *Console) login(w http.ResponseWriter, r *http.Request, msg string) {
	c.render(w, r, http.StatusUnauthorized, "login", view{Title: "Log in", Error: msg, Flash: r.URL.Query().Get("flash")})
}
