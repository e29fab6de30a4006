package server

import (
	"net/http"
	"strings"
	"time"

	"github.com/scaleout/scaleout/api"
	"github.com/scaleout/scaleout/catalog"
)

// maxOperationsPage bounds one page of GET /v1/operations.
const maxOperationsPage = 1000

// registerACL adds the routes of the access control lists, the operations
// log, worker approval and cluster settings: admin only once ACLs are on
// (aclrules.go), except a token's own view of itself.
func (s *srv) registerACL(h func(string, mode, bool, handlerFunc)) {
	have := s.svc.ACL != nil
	h("POST /v1/acl/bootstrap", leader, have, s.aclBootstrap)
	h("GET /v1/acl/tokens", read, have, s.listTokens)
	h("POST /v1/acl/tokens", leader, have, s.createToken)
	h("GET /v1/acl/tokens/{id}", read, have, s.getToken)
	h("DELETE /v1/acl/tokens/{id}", leader, have, s.revokeToken)
	h("GET /v1/acl/token/self", read, have, s.tokenSelf)
	h("GET /v1/operations", read, have, s.listOperations)
	h("POST /v1/workers/{id}/approve", leader, have, s.approveWorker)
	h("GET /v1/operator/settings", read, have, func(*http.Request) (any, error) { return s.svc.ACL.Settings() })
	h("PUT /v1/operator/settings", leader, have, s.setSetting)
}

func toAPIToken(t *catalog.ACLToken) api.ACLToken {
	return api.ACLToken{AccessorID: t.AccessorID, Name: t.Name, Role: t.Role, Folders: t.Folders,
		CreatedAt: t.CreatedAt, CreatedBy: t.CreatedBy, Bootstrap: t.Bootstrap}
}

func (s *srv) aclBootstrap(r *http.Request) (any, error) {
	secret, tok, err := s.svc.ACL.ACLBootstrap(r.Context())
	if err != nil {
		return nil, err
	}
	out := toAPIToken(tok)
	out.SecretID = secret
	return out, nil
}

func (s *srv) createToken(r *http.Request) (any, error) {
	return withBody(r, func(req *api.ACLTokenRequest) (any, error) {
		secret, tok, err := s.svc.ACL.CreateToken(r.Context(), req.Name, req.Role, req.Folders, caller(r))
		if err != nil {
			return nil, err
		}
		out := toAPIToken(tok)
		out.SecretID = secret
		return out, nil
	})
}

func (s *srv) listTokens(r *http.Request) (any, error) {
	return apiList(toAPIToken)(s.svc.ACL.Tokens())
}

func (s *srv) getToken(r *http.Request) (any, error) {
	return apiValue(toAPIToken)(s.svc.ACL.Token(r.PathValue("id")))
}

func (s *srv) tokenSelf(r *http.Request) (any, error) {
	p := principalFrom(r.Context())
	if p == nil || p.token == nil {
		return nil, codedErr(http.StatusNotFound, "no ACL token in use (acl bootstrap has not run, or the request carries none)")
	}
	return toAPIToken(p.token), nil
}

func (s *srv) revokeToken(r *http.Request) (any, error) {
	return nil, s.svc.ACL.RevokeToken(r.Context(), r.PathValue("id"))
}

func (s *srv) approveWorker(r *http.Request) (any, error) {
	return nil, s.svc.ACL.ApproveWorker(r.Context(), r.PathValue("id"))
}

func (s *srv) setSetting(r *http.Request) (any, error) {
	return withBody(r, func(req *api.SettingRequest) (any, error) {
		return nil, s.svc.ACL.SetSetting(r.Context(), req.Name, req.Value)
	})
}

func (s *srv) listOperations(r *http.Request) (any, error) {
	q := r.URL.Query()
	f := catalog.OperationFilter{Type: q.Get("type"), Object: q.Get("object"), Caller: q.Get("caller")}
	for _, v := range []string{f.Type, f.Object, f.Caller} {
		if len(v) > 512 {
			return nil, codedErr(http.StatusBadRequest, "operations filter is %d bytes, over the limit of 512", len(v))
		}
	}
	if v := strings.TrimSpace(q.Get("since")); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return nil, codedErr(http.StatusBadRequest, "since %q: want an RFC 3339 time such as 2026-01-02T15:04:05Z", v)
		}
		f.Since = t
	}
	var err error
	if f.After, err = queryUint(r, "after"); err != nil {
		return nil, err
	}
	if f.Limit, err = queryInt(r, "limit", maxOperationsPage); err != nil {
		return nil, err
	}
	if f.Limit == 0 {
		f.Limit = 100
	}
	ops, next, err := s.svc.ACL.Operations(f)
	if err != nil {
		return nil, err
	}
	out := api.OperationsPage{Operations: make([]api.Operation, 0, len(ops)), Next: next}
	for _, o := range ops {
		out.Operations = append(out.Operations, api.Operation{ID: o.ID, Type: o.Type, Object: o.Object, Caller: o.Caller, Time: o.Time, Result: o.Result})
	}
	return out, nil
}
