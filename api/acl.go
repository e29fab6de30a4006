package api

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// TokenHeader carries an ACL token; "Authorization: Bearer <token>" is the
// same. The Client sends Config.Token (or SCALEOUT_TOKEN) in it.
const TokenHeader = "X-Scaleout-Token"

// RequestToken returns the ACL token a request carries: the TokenHeader
// header, else an "Authorization: Bearer" one; "" if neither. The agent's
// API and the web console read it the same way.
func RequestToken(r *http.Request) string {
	if t := strings.TrimSpace(r.Header.Get(TokenHeader)); t != "" {
		return t
	}
	if a := r.Header.Get("Authorization"); len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
		return strings.TrimSpace(a[7:])
	}
	return ""
}

// TokenFromEnv returns SCALEOUT_TOKEN.
func TokenFromEnv() string { return os.Getenv("SCALEOUT_TOKEN") }

// ACLToken is a token as the API shows it. SecretID is set only in the
// answer that made the token (acl bootstrap, token create): it is not
// stored anywhere and cannot be shown again.
type ACLToken struct {
	AccessorID string `json:"accessor_id"`
	SecretID   string `json:"secret_id,omitempty"`
	Name       string `json:"name"`
	// Role is admin, executor, reader or worker.
	Role string `json:"role"`
	// Folders, if set, limits the token to these folders with these
	// permissions (READ, MODIFY, EXECUTE) each.
	Folders   map[string][]string `json:"folders,omitempty"`
	CreatedAt time.Time           `json:"created_at"`
	CreatedBy string              `json:"created_by,omitempty"`
	Bootstrap bool                `json:"bootstrap,omitempty"`
}

// ACLTokenRequest is the body of POST /v1/acl/tokens.
type ACLTokenRequest struct {
	Name    string              `json:"name"`
	Role    string              `json:"role"`
	Folders map[string][]string `json:"folders,omitempty"`
}

// Operation is one entry of the operations log (GET /v1/operations).
type Operation struct {
	ID     uint64    `json:"id"`
	Type   string    `json:"type"`
	Object string    `json:"object,omitempty"`
	Caller string    `json:"caller,omitempty"`
	Time   time.Time `json:"time"`
	Result string    `json:"result"`
}

// OperationsPage is one page of the operations log, oldest first; Next is
// the after= of the next page (0: this is the last).
type OperationsPage struct {
	Operations []Operation `json:"operations"`
	Next       uint64      `json:"next,omitempty"`
}

// OperationsQuery filters the operations log (empty: any).
type OperationsQuery struct {
	Type   string
	Object string
	Caller string
	Since  time.Time
	After  uint64
	Limit  int
}

// SettingRequest is the body of PUT /v1/operator/settings.
type SettingRequest struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// ACL is the handle of the access control list routes.
type ACL struct{ c *Client }

// ACL returns the handle of the access control list routes.
func (c *Client) ACL() *ACL { return &ACL{c} }

// Bootstrap makes the management token; it works once.
func (a *ACL) Bootstrap(ctx context.Context) (*ACLToken, error) {
	var out ACLToken
	return &out, a.c.do(ctx, http.MethodPost, "/v1/acl/bootstrap", nil, nil, &out)
}

// CreateToken makes a token; the answer carries its secret, once.
func (a *ACL) CreateToken(ctx context.Context, req *ACLTokenRequest) (*ACLToken, error) {
	var out ACLToken
	return &out, a.c.do(ctx, http.MethodPost, "/v1/acl/tokens", nil, req, &out)
}

// Tokens lists the tokens (without secrets).
func (a *ACL) Tokens(ctx context.Context) ([]ACLToken, error) {
	return getList[ACLToken](ctx, a.c, "/v1/acl/tokens")
}

// Token shows a token by accessor id or name.
func (a *ACL) Token(ctx context.Context, id string) (*ACLToken, error) {
	return getOne[ACLToken](ctx, a.c, "/v1/acl/tokens/"+url.PathEscape(id))
}

// Self shows the token the client uses.
func (a *ACL) Self(ctx context.Context) (*ACLToken, error) {
	return getOne[ACLToken](ctx, a.c, "/v1/acl/token/self")
}

// Revoke deletes a token by accessor id or name.
func (a *ACL) Revoke(ctx context.Context, id string) error {
	return a.c.do(ctx, http.MethodDelete, "/v1/acl/tokens/"+url.PathEscape(id), nil, nil, nil)
}

// Operations reads one page of the operations log.
func (c *Client) Operations(ctx context.Context, q OperationsQuery) (*OperationsPage, error) {
	v := url.Values{}
	for k, s := range map[string]string{"type": q.Type, "object": q.Object, "caller": q.Caller} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if !q.Since.IsZero() {
		v.Set("since", q.Since.UTC().Format(time.RFC3339Nano))
	}
	if q.After > 0 {
		v.Set("after", strconv.FormatUint(q.After, 10))
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	var out OperationsPage
	return &out, c.do(ctx, http.MethodGet, "/v1/operations", v, nil, &out)
}

// Settings reads the cluster settings.
func (o *Operator) Settings(ctx context.Context) (map[string]string, error) {
	out := map[string]string{}
	return out, o.c.do(ctx, http.MethodGet, "/v1/operator/settings", nil, nil, &out)
}

// SetSetting changes a cluster setting.
func (o *Operator) SetSetting(ctx context.Context, name, value string) error {
	return o.c.do(ctx, http.MethodPut, "/v1/operator/settings", nil, &SettingRequest{Name: name, Value: value}, nil)
}
