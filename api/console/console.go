package console

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/scaleout/scaleout/api"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Config configures the console.
type Config struct {
	// Client reaches this agent's own API (it forwards to the leader as
	// any client's request would).
	Client *api.Client
	// Node and Version name the agent serving the console.
	Node, Version string
	// PageSize is the executions per page (default 50).
	PageSize int
	// Now is the clock (tests); default time.Now.
	Now func() time.Time
	// NeedsToken reports whether the API requires ACL tokens now (acl
	// bootstrap has run, or the cluster requires them from the start):
	// then a request without a token gets the login page (login.go). Nil:
	// never.
	NeedsToken func() bool
}

// Console serves the pages under /ui/.
type Console struct {
	cfg  Config
	c    *api.Client
	tmpl map[string]*template.Template
	mux  *http.ServeMux
}

// pages are the page templates; each is parsed with layout.html.
var pages = []string{"cluster", "workers", "executions", "execution", "live", "performance", "catalog", "project", "error", "login"}

// New returns the console handler; mount it at /ui/.
func New(cfg Config) (*Console, error) {
	if cfg.Client == nil {
		return nil, errors.New("console: no API client")
	}
	if cfg.PageSize <= 0 {
		cfg.PageSize = 50
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	c := &Console{cfg: cfg, c: cfg.Client, tmpl: map[string]*template.Template{}, mux: http.NewServeMux()}
	for _, p := range pages {
		t, err := template.New("layout.html").Funcs(c.funcs()).ParseFS(templateFS, "templates/layout.html", "templates/"+p+".html")
		if err != nil {
			return nil, fmt.Errorf("console: template %s: %w", p, err)
		}
		c.tmpl[p] = t
	}
	static, _ := fs.Sub(staticFS, "static")
	m := c.mux
	m.Handle("GET /ui/static/", http.StripPrefix("/ui/static/", cacheFor(http.FileServerFS(static))))
	m.HandleFunc("GET /ui/{$}", c.page(c.cluster))
	m.HandleFunc("GET /ui/workers", c.page(c.workers))
	m.HandleFunc("POST /ui/workers/{id}/{action}", c.action(c.workerAction))
	m.HandleFunc("GET /ui/executions", c.page(c.executions))
	m.HandleFunc("GET /ui/executions/{id}", c.page(c.execution))
	m.HandleFunc("GET /ui/executions/{id}/live", c.page(c.live))
	m.HandleFunc("POST /ui/executions/{id}/stop", c.action(c.stop))
	m.HandleFunc("POST /ui/executions/{id}/rerun", c.action(c.rerun))
	m.HandleFunc("GET /ui/performance", c.page(c.performance))
	m.HandleFunc("GET /ui/catalog", c.page(c.catalog))
	m.HandleFunc("GET /ui/catalog/{folder}/{project}", c.page(c.project))
	m.HandleFunc("POST /ui/catalog/{folder}/{project}/run", c.action(c.run))
	m.HandleFunc("POST /ui/catalog/{folder}/{project}/restore", c.action(c.restore))
	m.HandleFunc("GET /ui/login", func(w http.ResponseWriter, r *http.Request) { c.login(w, r, "") })
	m.HandleFunc("POST /ui/login", func(w http.ResponseWriter, r *http.Request) {
		// static/app.js keeps the token and never posts this form.
		c.login(w, r, "Logging in needs JavaScript: the console sends the token in a request header, never in a cookie or a form.")
	})
	m.HandleFunc("/ui/", func(w http.ResponseWriter, r *http.Request) {
		c.render(w, r, http.StatusNotFound, "error", view{Title: "Not found", Data: "No console page at " + r.URL.Path})
	})
	return c, nil
}

func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("X-Frame-Options", "DENY")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:")
	c.mux.ServeHTTP(w, r)
}

func cacheFor(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=300")
		h.ServeHTTP(w, r)
	})
}

// view is what every page template gets.
type view struct {
	Title, Nav string
	Node       string
	Version    string
	Now        time.Time
	Flash      string
	Error      string
	Data       any
}

type pageFunc func(r *http.Request) (tmpl string, v view, err error)

// page renders what fn returns; an API error becomes an error page with
// the API's status.
func (c *Console) page(fn pageFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if c.needsLogin(r) {
			c.login(w, r, loginMessage)
			return
		}
		name, v, err := fn(r)
		if err != nil {
			c.fail(w, r, err)
			return
		}
		v.Flash = r.URL.Query().Get("flash")
		c.render(w, r, http.StatusOK, name, v)
	}
}

func (c *Console) fail(w http.ResponseWriter, r *http.Request, err error) {
	code := http.StatusBadGateway
	var ae *api.Error
	if errors.As(err, &ae) {
		code = ae.StatusCode
	}
	var be badRequest
	if errors.As(err, &be) {
		code = http.StatusBadRequest
	}
	if code == http.StatusUnauthorized {
		c.login(w, r, "The API did not accept the token: "+err.Error()+". Log in again.")
		return
	}
	c.render(w, r, code, "error", view{Title: http.StatusText(code), Error: err.Error()})
}

// badRequest is a problem with what the user typed.
type badRequest struct{ msg string }

func (e badRequest) Error() string { return e.msg }

func badf(format string, a ...any) error { return badRequest{fmt.Sprintf(format, a...)} }

func (c *Console) render(w http.ResponseWriter, r *http.Request, code int, name string, v view) {
	v.Node, v.Version, v.Now = c.cfg.Node, c.cfg.Version, c.cfg.Now()
	var buf bytes.Buffer
	entry := "layout.html"
	if name == "live" {
		entry = "live"
	}
	if err := c.tmpl[name].ExecuteTemplate(&buf, entry, v); err != nil {
		http.Error(w, "console: rendering "+name+": "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write(buf.Bytes())
}

// action handles a form POST: same-origin only, then fn, then a redirect
// (303) to where fn says with a flash message, or the error page.
func (c *Console) action(fn func(r *http.Request) (to, flash string, err error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := sameOrigin(r); err != nil {
			c.render(w, r, http.StatusForbidden, "error", view{Title: "Forbidden", Error: err.Error()})
			return
		}
		if c.needsLogin(r) {
			c.login(w, r, loginMessage)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
		if err := r.ParseForm(); err != nil {
			c.fail(w, r, badf("reading the form: %v", err))
			return
		}
		to, flash, err := fn(r)
		if err != nil {
			c.fail(w, r, err)
			return
		}
		if flash != "" {
			sep := "?"
			if strings.Contains(to, "?") {
				sep = "&"
			}
			to += sep + "flash=" + url.QueryEscape(flash)
		}
		http.Redirect(w, r, to, http.StatusSeeOther)
	}
}

// sameOrigin refuses form posts from other sites (the console's actions
// change the cluster; a page elsewhere must not submit them for a user).
func sameOrigin(r *http.Request) error {
	if r.Header.Get("Sec-Fetch-Site") == "cross-site" {
		return errors.New("cross-site form posts are refused")
	}
	if o := r.Header.Get("Origin"); o != "" && o != "null" {
		u, err := url.Parse(o)
		if err != nil || u.Host != r.Host {
			return fmt.Errorf("form posted from %s, not from this console (%s)", o, r.Host)
		}
	}
	return nil
}

func (c *Console) ctx(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), 30*time.Second)
}
