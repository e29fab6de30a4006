package server

import "context"

// Identity is who made a request, as the agent authenticated it: the role
// and name of the verified client certificate (tlsutil roles: server,
// worker, client). A request a server forwarded carries the identity the
// server authenticated (IdentityHeader), with Via naming the server; one a
// worker-only agent forwarded carries that agent's identity. Handlers read
// it with IdentityFrom; the access control lists (not built yet) will
// check it and tokens against the route.
type Identity struct {
	Role string
	Name string
	// Via is the server that forwarded the request, if one did.
	Via string
}

// IdentityHeader carries "role/name" of the original caller on a request
// forwarded between agents. Only a server's word is taken for it.
const IdentityHeader = "X-Scaleout-Forwarded-Identity"

type identityKey struct{}

// WithIdentity returns ctx carrying id.
func WithIdentity(ctx context.Context, id Identity) context.Context {
	return context.WithValue(ctx, identityKey{}, id)
}

// IdentityFrom returns the identity of the request whose context is ctx;
// ok is false without TLS (no identity is established).
func IdentityFrom(ctx context.Context) (Identity, bool) {
	id, ok := ctx.Value(identityKey{}).(Identity)
	return id, ok
}

// Security is what an agent reports about its transport in
// GET /v1/status/health.
type Security struct {
	// TLS: every TCP port speaks mutual TLS.
	TLS bool
	// Insecure: a non-dev agent started with --insecure (no TLS).
	Insecure bool
	// GossipEncrypted: gossip is encrypted with a keyring.
	GossipEncrypted bool
}
