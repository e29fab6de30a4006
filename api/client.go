package api

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Error is an error answer of the API.
type Error struct {
	StatusCode int
	Message    string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s (HTTP %d)", e.Message, e.StatusCode)
}

// IsStatus reports whether err is an API error with the given HTTP status.
func IsStatus(err error, code int) bool {
	var ae *Error
	return errors.As(err, &ae) && ae.StatusCode == code
}

// Config configures a Client.
type Config struct {
	// Address is the agent's base URL; default DefaultAddress, or
	// SCALEOUT_ADDR when set.
	Address string
	// HTTPClient is used for requests; default has no overall timeout (long
	// polls) and per-request contexts bound each call.
	HTTPClient *http.Client
	// Caller names the user or program in every request (CallerHeader); the
	// agent records it as the caller of the executions it creates.
	Caller string
	// Token is the ACL token sent with every request (TokenHeader);
	// default SCALEOUT_TOKEN. The agent records the token's name as the
	// caller once ACLs are bootstrapped.
	Token string
	// NoEnvToken keeps an empty Token empty instead of reading
	// SCALEOUT_TOKEN (an agent's calls to other agents).
	NoEnvToken bool
	// Worker names the worker a worker's requests come from (WorkerHeader):
	// the leader accepts its reports about an attempt only from the worker
	// that holds the attempt. Empty: none (people's clients).
	Worker string
	// TLS configures https:// addresses when HTTPClient is not set;
	// default TLSConfigFromEnv().
	TLS *TLSConfig
}

// TLSConfig names the PEM files a client uses with an agent that speaks
// TLS: the cluster CA that signed the agents' certificates, and the
// client's own certificate and key (`scaleout tls cert create --client`).
type TLSConfig struct {
	CACert     string
	ClientCert string
	ClientKey  string
	// ServerName, if set, is the name the agent's certificate is checked
	// against instead of the address's host.
	ServerName string
}

// TLSConfigFromEnv reads SCALEOUT_CACERT, SCALEOUT_CLIENT_CERT,
// SCALEOUT_CLIENT_KEY and SCALEOUT_TLS_SERVER_NAME.
func TLSConfigFromEnv() *TLSConfig {
	return &TLSConfig{CACert: os.Getenv("SCALEOUT_CACERT"), ClientCert: os.Getenv("SCALEOUT_CLIENT_CERT"),
		ClientKey: os.Getenv("SCALEOUT_CLIENT_KEY"), ServerName: os.Getenv("SCALEOUT_TLS_SERVER_NAME")}
}

// config returns the crypto/tls configuration of t (nil when t sets
// nothing: the system's roots, no client certificate).
func (t *TLSConfig) config() (*tls.Config, error) {
	if t == nil || (t.CACert == "" && t.ClientCert == "" && t.ClientKey == "" && t.ServerName == "") {
		return nil, nil
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName}
	if t.CACert != "" {
		pem, err := os.ReadFile(t.CACert)
		if err != nil {
			return nil, fmt.Errorf("CA certificate: %w", err)
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("CA certificate %s: no PEM certificate in it", t.CACert)
		}
	}
	if (t.ClientCert == "") != (t.ClientKey == "") {
		return nil, errors.New("a client certificate needs its key and a key its certificate (--client-cert and --client-key)")
	}
	if t.ClientCert != "" {
		pair, err := tls.LoadX509KeyPair(t.ClientCert, t.ClientKey)
		if err != nil {
			return nil, fmt.Errorf("client certificate: %w", err)
		}
		tc.Certificates = []tls.Certificate{pair}
	}
	return tc, nil
}

// CallerHeader carries the name of the user or program making a request.
const CallerHeader = "X-Scaleout-Caller"

// WorkerHeader names the worker that sends a worker's request (Config.Worker).
// A report about an attempt held by another worker is refused (403); with
// a worker certificate the certificate's name decides, not this header.
const WorkerHeader = "X-Scaleout-Worker"

// IndexHeader carries, on every answer served by an agent that holds a
// replica, the Raft index that agent had applied when it answered: after a
// write, an index that includes the write. A read with ?index=N is served
// once the answering agent has applied N (read-your-writes through any
// agent); the Client does this by itself.
const IndexHeader = "X-Scaleout-Index"

// AddressFromEnv returns SCALEOUT_ADDR or DefaultAddress.
func AddressFromEnv() string {
	if a := os.Getenv("SCALEOUT_ADDR"); a != "" {
		return a
	}
	return DefaultAddress
}

// Client talks to one agent's HTTP API.
type Client struct {
	base       *url.URL
	hc         *http.Client
	caller     string
	token      string
	worker     string
	consistent bool
	// index is the highest IndexHeader seen (shared with Consistent's
	// copy): reads ask for at least it.
	index *atomic.Uint64
}

// Consistent returns a client whose reads are served by the leader after a
// Raft barrier (?consistent=true) instead of the answering agent's own copy
// of the catalog, which may lag a little behind.
func (c *Client) Consistent() *Client {
	cc := *c
	cc.consistent = true
	return &cc
}

// NewClient returns a client for cfg.Address.
func NewClient(cfg Config) (*Client, error) {
	addr := cfg.Address
	if addr == "" {
		addr = AddressFromEnv()
	}
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	u, err := url.Parse(addr)
	if err != nil {
		return nil, fmt.Errorf("invalid address %q: %w", addr, err)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("invalid address %q: no host", addr)
	}
	hc := cfg.HTTPClient
	if hc == nil {
		t := cfg.TLS
		if t == nil {
			t = TLSConfigFromEnv()
		}
		tc, err := t.config()
		if err != nil {
			return nil, err
		}
		hc = &http.Client{Transport: &http.Transport{
			Proxy:               nil,
			MaxIdleConnsPerHost: 64,
			IdleConnTimeout:     90 * time.Second,
			TLSClientConfig:     tc,
		}}
	}
	token := cfg.Token
	if token == "" && !cfg.NoEnvToken {
		token = TokenFromEnv()
	}
	return &Client{base: u, hc: hc, caller: cfg.Caller, token: token, worker: cfg.Worker, index: new(atomic.Uint64)}, nil
}

// WithToken returns a client that sends token instead of the client's own
// (the web console acts for the user whose token it was given); it shares
// the connections and the highest index seen (a Raft index says nothing
// of who asks).
func (c *Client) WithToken(token string) *Client {
	cc := *c
	cc.token = token
	return &cc
}

// Address returns the base URL the client uses.
func (c *Client) Address() string { return c.base.String() }

// send makes one request and turns an error answer (status >= 300) into an
// *Error. The caller closes the body of a successful answer.
func (c *Client) send(ctx context.Context, method, path string, q url.Values, body io.Reader, contentType string) (*http.Response, error) {
	u := *c.base
	// path is escaped already (names in it went through url.PathEscape):
	// it becomes RawPath, so that String does not escape it a second time
	// (a folder "a b" would reach the server as "a%20b").
	u.RawPath = strings.TrimRight(u.EscapedPath(), "/") + path
	p, err := url.PathUnescape(u.RawPath)
	if err != nil {
		return nil, fmt.Errorf("request path %q: %w", path, err)
	}
	u.Path = p
	if c.consistent && method == http.MethodGet {
		q = maps.Clone(q)
		if q == nil {
			q = url.Values{}
		}
		q.Set("consistent", "true")
	}
	if idx := c.index.Load(); idx > 0 && method == http.MethodGet && q.Get("index") == "" {
		// Read what this client wrote (or read) before, whichever agent
		// answers.
		q = maps.Clone(q)
		if q == nil {
			q = url.Values{}
		}
		q.Set("index", strconv.FormatUint(idx, 10))
	}
	if q != nil {
		u.RawQuery = q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", contentType)
	}
	if c.caller != "" {
		req.Header.Set(CallerHeader, c.caller)
	}
	if c.token != "" {
		req.Header.Set(TokenHeader, c.token)
	}
	if c.worker != "" {
		req.Header.Set(WorkerHeader, c.worker)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	if v := resp.Header.Get(IndexHeader); v != "" {
		if n, err := strconv.ParseUint(v, 10, 64); err == nil {
			for old := c.index.Load(); n > old && !c.index.CompareAndSwap(old, n); old = c.index.Load() {
			}
		}
	}
	if resp.StatusCode < 300 {
		return resp, nil
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var er ErrorResponse
	if json.Unmarshal(raw, &er) != nil || er.Error == "" {
		er.Error = strings.TrimSpace(string(raw))
		if er.Error == "" {
			er.Error = resp.Status
		}
	}
	return nil, &Error{StatusCode: resp.StatusCode, Message: er.Error}
}

// do sends in as JSON (if not nil) and decodes the answer into out (if not nil).
// getList GETs path and decodes the answer, a list of T.
func getList[T any](ctx context.Context, c *Client, path string) ([]T, error) {
	var out []T
	return out, c.do(ctx, http.MethodGet, path, nil, nil, &out)
}

// getOne GETs path and decodes the answer, one T.
func getOne[T any](ctx context.Context, c *Client, path string) (*T, error) {
	var out T
	return &out, c.do(ctx, http.MethodGet, path, nil, nil, &out)
}

func (c *Client) do(ctx context.Context, method, path string, q url.Values, in, out any) error {
	var body io.Reader
	if in != nil {
		buf, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(buf)
	}
	resp, err := c.send(ctx, method, path, q, body, "application/json")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("decode answer of %s %s: %w", method, path, err)
	}
	return nil
}

// Status returns the status endpoints.
func (c *Client) Status() *Status { return &Status{c} }

// Status is the handle for /v1/status.
type Status struct{ c *Client }

// Leader returns the current leader.
func (s *Status) Leader(ctx context.Context) (*Leader, error) {
	return getOne[Leader](ctx, s.c, "/v1/status/leader")
}

// Executions returns the execution endpoints.
func (c *Client) Executions() *Executions { return &Executions{c} }

// Executions is the handle for /v1/executions.
type Executions struct{ c *Client }

// Submit creates an execution of an inline package.
func (e *Executions) Submit(ctx context.Context, req *SubmitRequest) (uint64, error) {
	var out SubmitResponse
	if err := e.c.do(ctx, http.MethodPost, "/v1/executions", nil, req, &out); err != nil {
		return 0, err
	}
	return out.ID, nil
}

// SubmitBulk creates many executions with one request and one Raft command;
// the ids come back in request order. Nothing is created if any is invalid.
func (e *Executions) SubmitBulk(ctx context.Context, reqs []SubmitRequest) ([]uint64, error) {
	var out BulkSubmitResponse
	if err := e.c.do(ctx, http.MethodPost, "/v1/executions/bulk", nil, &BulkSubmitRequest{Executions: reqs}, &out); err != nil {
		return nil, err
	}
	return out.IDs, nil
}

// ListOptions filters List.
type ListOptions struct {
	Status   string
	Limit    int
	BeforeID uint64
	// Filters (empty: any): folder, project, package name, worker, caller,
	// created at or after Since and before Until.
	Folder, Project, Package, Worker, Caller string
	Since, Until                             time.Time
}

// NextBeforeHeader is the header of GET /v1/executions that says where the
// listing continues (the BeforeID of the next page) when it stopped before
// the oldest execution: after Limit matches, or after a filtered listing
// looked at as many executions as it may at once.
const NextBeforeHeader = "X-Scaleout-Next-Before"

// ExecutionPage is a page of ListPage.
type ExecutionPage struct {
	Executions []Execution
	// NextBefore continues the listing (ListOptions.BeforeID); 0 when
	// nothing older is left.
	NextBefore uint64
}

// ListPage returns a page of executions, newest first, and where the next
// page starts. A filtered page may hold fewer than Limit executions and
// still have a NextBefore: the server looks at a bounded number per call.
func (e *Executions) ListPage(ctx context.Context, o *ListOptions) (*ExecutionPage, error) {
	resp, err := e.c.send(ctx, http.MethodGet, "/v1/executions", o.query(), nil, "")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var out ExecutionPage
	if err := json.NewDecoder(resp.Body).Decode(&out.Executions); err != nil {
		return nil, fmt.Errorf("decode executions: %w", err)
	}
	if h := resp.Header.Get(NextBeforeHeader); h != "" {
		if out.NextBefore, err = strconv.ParseUint(h, 10, 64); err != nil {
			return nil, fmt.Errorf("bad %s header %q", NextBeforeHeader, h)
		}
	}
	return &out, nil
}

func (o *ListOptions) query() url.Values {
	q := url.Values{}
	if o == nil {
		return q
	}
	for k, v := range map[string]string{"status": o.Status, "folder": o.Folder, "project": o.Project,
		"package": o.Package, "worker": o.Worker, "caller": o.Caller} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if o.Limit > 0 {
		q.Set("limit", strconv.Itoa(o.Limit))
	}
	if o.BeforeID > 0 {
		q.Set("before", strconv.FormatUint(o.BeforeID, 10))
	}
	if !o.Since.IsZero() {
		q.Set("since", o.Since.UTC().Format(time.RFC3339))
	}
	if !o.Until.IsZero() {
		q.Set("until", o.Until.UTC().Format(time.RFC3339))
	}
	return q
}

// List returns executions, newest first.
func (e *Executions) List(ctx context.Context, o *ListOptions) ([]Execution, error) {
	var out []Execution
	return out, e.c.do(ctx, http.MethodGet, "/v1/executions", o.query(), nil, &out)
}

// Info returns one execution.
func (e *Executions) Info(ctx context.Context, id uint64) (*Execution, error) {
	return getOne[Execution](ctx, e.c, fmt.Sprintf("/v1/executions/%d", id))
}

// Events returns events with seq > after. With wait > 0 the server holds the
// request until there is at least one such event, the execution has ended,
// or wait has passed.
func (e *Executions) Events(ctx context.Context, id, after uint64, limit int, wait time.Duration) (*EventsResponse, error) {
	q := url.Values{"after": {strconv.FormatUint(after, 10)}}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	if wait > 0 {
		q.Set("wait", wait.String())
	}
	var out EventsResponse
	return &out, e.c.do(ctx, http.MethodGet, fmt.Sprintf("/v1/executions/%d/events", id), q, nil, &out)
}

// Stop asks an execution to end.
func (e *Executions) Stop(ctx context.Context, id uint64) (string, error) {
	var out StopResponse
	err := e.c.do(ctx, http.MethodPost, fmt.Sprintf("/v1/executions/%d/stop", id), nil, struct{}{}, &out)
	return out.Status, err
}

// StopBulk asks many executions to end with one Raft command; each id gets
// its own result (an execution that already ended or does not exist is
// an error of its own, not of the request).
func (e *Executions) StopBulk(ctx context.Context, ids []uint64) ([]StopResult, error) {
	var out BulkStopResponse
	err := e.c.do(ctx, http.MethodPost, "/v1/executions/stop", nil, &BulkStopRequest{IDs: ids}, &out)
	return out.Results, err
}

// ReportEventsFrom is ReportEvents of a numbered batch: first is the
// number of evs[0] among the attempt's events (see EventsReport.First).
func (e *Executions) ReportEventsFrom(ctx context.Context, id uint64, attempt int, first uint64, evs []Event) error {
	return e.c.do(ctx, http.MethodPost, fmt.Sprintf("/v1/executions/%d/attempts/%d/events", id, attempt), nil, &EventsReport{Events: evs, First: first}, nil)
}

// ReportEvents sends a worker's batch of events for an attempt.
func (e *Executions) ReportEvents(ctx context.Context, id uint64, attempt int, evs []Event) error {
	return e.c.do(ctx, http.MethodPost, fmt.Sprintf("/v1/executions/%d/attempts/%d/events", id, attempt), nil, &EventsReport{Events: evs}, nil)
}

// ReportResult ends an attempt.
func (e *Executions) ReportResult(ctx context.Context, id uint64, attempt int, r *ResultReport) error {
	return e.c.do(ctx, http.MethodPost, fmt.Sprintf("/v1/executions/%d/attempts/%d/result", id, attempt), nil, r, nil)
}

// AttemptLog writes the log of attempt n of execution id to w: every event
// of the attempt, also those beyond the event cap, as text lines. Only the
// agent whose worker ran the attempt has it (404 elsewhere), and only while
// it keeps it.
func (e *Executions) AttemptLog(ctx context.Context, id uint64, attempt int, w io.Writer) error {
	return e.c.doRaw(ctx, http.MethodGet, fmt.Sprintf("/v1/executions/%d/attempts/%d/log", id, attempt), nil, nil, w)
}

// Workers returns the worker endpoints.
func (c *Client) Workers() *Workers { return &Workers{c} }

// Workers is the handle for /v1/workers.
type Workers struct{ c *Client }

// Register registers (or re-registers) a worker.
func (w *Workers) Register(ctx context.Context, wk *Worker) error {
	return w.c.do(ctx, http.MethodPost, "/v1/workers", nil, wk, nil)
}

// List returns the registered workers.
func (w *Workers) List(ctx context.Context) ([]Worker, error) {
	return getList[Worker](ctx, w.c, "/v1/workers")
}

// Poll is a worker's long-poll for tasks and stops.
func (w *Workers) Poll(ctx context.Context, id string, req *PollRequest) (*PollResponse, error) {
	var out PollResponse
	return &out, w.c.do(ctx, http.MethodPost, "/v1/workers/"+url.PathEscape(id)+"/poll", nil, req, &out)
}

// Peers returns the Raft configuration as the answering server sees it.
func (s *Status) Peers(ctx context.Context) ([]Peer, error) {
	return getList[Peer](ctx, s.c, "/v1/status/peers")
}

// Health returns the answering agent's health and transport security
// (GET /v1/status/health).
func (s *Status) Health(ctx context.Context) (*Health, error) {
	return getOne[Health](ctx, s.c, "/v1/status/health")
}

// Members lists every agent the answering agent's gossip has seen.
func (c *Client) Members(ctx context.Context) ([]Member, error) {
	return getList[Member](ctx, c, "/v1/members")
}

// RemovePeer removes a server from the Raft configuration (operator action).
func (c *Client) RemovePeer(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodPost, "/v1/operator/raft/remove-peer", nil, &RemovePeerRequest{ID: id}, nil)
}

// SetEnabled enables or disables a worker.
func (w *Workers) SetEnabled(ctx context.Context, id string, enabled bool) error {
	action := "disable"
	if enabled {
		action = "enable"
	}
	return w.c.do(ctx, http.MethodPost, "/v1/workers/"+url.PathEscape(id)+"/"+action, nil, struct{}{}, nil)
}

// Approve lets a worker that waits for approval get work.
func (w *Workers) Approve(ctx context.Context, id string) error {
	return w.c.do(ctx, http.MethodPost, "/v1/workers/"+url.PathEscape(id)+"/approve", nil, struct{}{}, nil)
}

// Remove forgets a worker.
func (w *Workers) Remove(ctx context.Context, id string) error {
	return w.c.do(ctx, http.MethodDelete, "/v1/workers/"+url.PathEscape(id), nil, nil, nil)
}
