package server

import (
	"context"
	"net/http"

	"github.com/scaleout/scaleout/api"
)

// KeyringService lists and changes the gossip keyring: op "" lists, else
// install, use or remove key; on every alive agent, or on this one only
// (local).
type KeyringService interface {
	Keyring(ctx context.Context, op, key string, local bool) ([]api.KeyringNode, error)
}

func (s *srv) registerKeyring(h func(string, mode, bool, handlerFunc)) {
	have := s.svc.Keyring != nil
	h("GET /v1/operator/keyring", local, have, func(r *http.Request) (any, error) {
		return s.svc.Keyring.Keyring(r.Context(), "", "", r.URL.Query().Get("local") == "true")
	})
	h("POST /v1/operator/keyring", local, have, func(r *http.Request) (any, error) {
		return withBody(r, func(req *api.KeyringRequest) (any, error) {
			switch req.Op {
			case "install", "use", "remove":
			default:
				return nil, codedErr(http.StatusBadRequest, "unknown keyring operation %q (want install, use or remove)", req.Op)
			}
			if req.Key == "" {
				return nil, codedErr(http.StatusBadRequest, "key is required")
			}
			return s.svc.Keyring.Keyring(r.Context(), req.Op, req.Key, r.URL.Query().Get("local") == "true")
		})
	})
}
