package api

import (
	"context"
	"net/http"
	"net/url"
)

// KeyringRequest is the body of POST /v1/operator/keyring.
type KeyringRequest struct {
	// Op is install, use or remove.
	Op string `json:"op"`
	// Key is a gossip key: base64 of 16, 24 or 32 bytes (scaleout keygen).
	Key string `json:"key"`
}

// KeyringNode is one agent's gossip keyring (or the error it answered).
type KeyringNode struct {
	Node string `json:"node"`
	// Keys are the installed keys, the primary (used to encrypt) first.
	Keys  []string `json:"keys,omitempty"`
	Error string   `json:"error,omitempty"`
}

// Keyring lists the gossip keyring of every alive agent (local: of the
// answering agent only).
func (o *Operator) Keyring(ctx context.Context, local bool) ([]KeyringNode, error) {
	var out []KeyringNode
	return out, o.c.do(ctx, http.MethodGet, "/v1/operator/keyring", localQuery(local), nil, &out)
}

// ChangeKeyring installs, uses or removes a gossip key on every alive agent
// (local: on the answering agent only) and answers each agent's keyring
// afterwards; an agent that failed has its Error set.
func (o *Operator) ChangeKeyring(ctx context.Context, op, key string, local bool) ([]KeyringNode, error) {
	var out []KeyringNode
	return out, o.c.do(ctx, http.MethodPost, "/v1/operator/keyring", localQuery(local), &KeyringRequest{Op: op, Key: key}, &out)
}

func localQuery(local bool) url.Values {
	if !local {
		return nil
	}
	return url.Values{"local": {"true"}}
}
