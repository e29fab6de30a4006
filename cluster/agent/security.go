package agent

import (
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/scaleout/scaleout/api"
	"github.com/scaleout/scaleout/api/server"
	"github.com/scaleout/scaleout/cluster/tlsutil"
)

// insecureEvery is how often an agent running with --insecure says so.
const insecureEvery = time.Hour

// startSecurity loads the TLS material (and starts watching its files) or,
// for an agent allowed to run without it, starts the insecure warning.
func (a *Agent) startSecurity() error {
	cfg := a.cfg
	a.stops.push(func() { close(a.stopSec) })
	if cfg.TLSCert == "" {
		if !cfg.Dev {
			a.warnInsecure()
			go func() {
				t := time.NewTicker(insecureEvery)
				defer t.Stop()
				for {
					select {
					case <-a.stopSec:
						return
					case <-t.C:
						a.warnInsecure()
					}
				}
			}()
		}
		return nil
	}
	r, err := tlsutil.NewReloader(tlsutil.Files{CA: cfg.TLSCA, Cert: cfg.TLSCert, Key: cfg.TLSKey})
	if err != nil {
		return err
	}
	switch role := r.Role(); {
	case cfg.Server && role != tlsutil.RoleServer:
		return fmt.Errorf("TLS certificate %s has role %s; a server needs a server certificate ('scaleout tls cert create --server')", cfg.TLSCert, role)
	case !cfg.Server && role != tlsutil.RoleWorker && role != tlsutil.RoleServer:
		return fmt.Errorf("TLS certificate %s has role %s; a worker-only agent needs a worker certificate ('scaleout tls cert create --worker')", cfg.TLSCert, role)
	}
	a.tls = r
	every := cfg.TLSWatchInterval
	if every <= 0 {
		every = 5 * time.Second
	}
	go r.Watch(every, a.stopSec, a.reported)
	a.logger.Info("TLS on every TCP port", "role", r.Role(), "cert", cfg.TLSCert, "expires", r.Leaf().NotAfter.UTC().Format(time.RFC3339))
	return nil
}

func (a *Agent) warnInsecure() {
	a.logger.Warn("running with --insecure: the HTTP API, Raft and forwarding are plain TCP that anyone on the network can use; " +
		"set tls_ca, tls_cert and tls_key ('scaleout tls init') for a cluster outside a laptop")
}

// reported logs the outcome of a reload.
func (a *Agent) reported(err error) {
	if err != nil {
		a.logger.Error("TLS reload failed; the certificates loaded before stay in use", "error", err)
		return
	}
	a.logger.Info("TLS certificates reloaded", "role", a.tls.Role(), "expires", a.tls.Leaf().NotAfter.UTC().Format(time.RFC3339))
}

// Reload loads the TLS files again (SIGHUP). New connections use them at
// once; a failed reload keeps the material loaded before.
func (a *Agent) Reload() error {
	if a.tls == nil {
		return nil
	}
	err := a.tls.Reload()
	a.reported(err)
	return err
}

// agentTLS is the client configuration of this agent's calls to agents of
// the given roles (nil without TLS).
func (a *Agent) agentTLS(roles ...string) *tls.Config {
	if a.tls == nil {
		return nil
	}
	return a.tls.ClientConfig(roles...)
}

// httpTransport is an HTTP transport to agents of the given roles, nil
// without TLS (the callers' defaults apply).
func (a *Agent) httpTransport(roles ...string) http.RoundTripper {
	if a.tls == nil {
		return nil
	}
	return &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 64, IdleConnTimeout: 90 * time.Second,
		// A leader that died leaves no one to refuse the connection.
		DialContext:     (&net.Dialer{Timeout: 3 * time.Second, KeepAlive: 15 * time.Second}).DialContext,
		TLSClientConfig: a.agentTLS(roles...)}
}

// ownClient is the HTTP client of this agent's calls to its own API (the
// worker, the console), nil without TLS.
func (a *Agent) ownClient() *http.Client {
	if a.tls == nil {
		return nil
	}
	return &http.Client{Transport: a.httpTransport(tlsutil.RoleServer, tlsutil.RoleWorker)}
}

// aclRequired reports whether this agent requires ACL tokens from its
// first start, before acl bootstrap too: it runs with TLS, not in dev mode
// and without --insecure (secure by default; docs/SECURITY.md). A server
// gossips it, and the leader then switches the cluster's acl_required
// setting on, so that every agent agrees.
func (a *Agent) aclRequired() bool {
	return !a.cfg.Dev && !a.cfg.Insecure && a.cfg.TLSCert != ""
}

// security is what GET /v1/status/health reports about transport security.
func (a *Agent) security() server.Security {
	return server.Security{TLS: a.tls != nil, Insecure: a.tls == nil && !a.cfg.Dev, GossipEncrypted: a.cluster.GossipEncrypted()}
}

// authenticate lets a request through when TLS verified a client
// certificate of the cluster CA (any role, for now) and puts the
// certificate's role and name into the request's context
// (server.IdentityFrom) for the handlers. Without TLS every request
// passes. The liveness and readiness checks pass without a certificate
// (load balancers). The token check of the access control lists will be a
// second way through here: a request with a valid token and no
// certificate (the listener asks for a certificate but does not require
// one: tls.VerifyClientCertIfGiven).
func (a *Agent) authenticate(h http.Handler) http.Handler {
	if a.tls == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if role, name, ok := tlsutil.PeerRole(r.TLS); ok {
			id := server.Identity{Role: role, Name: name}
			if fwd := r.Header.Get(server.IdentityHeader); fwd != "" && role == tlsutil.RoleServer {
				if frole, fname, ok := strings.Cut(fwd, "/"); ok {
					id = server.Identity{Role: frole, Name: fname, Via: name}
				}
			}
			h.ServeHTTP(w, r.WithContext(server.WithIdentity(r.Context(), id)))
			return
		}
		if r.Method == http.MethodGet && (r.URL.Path == "/v1/health/live" || r.URL.Path == "/v1/health/ready") {
			h.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_ = json.NewEncoder(w).Encode(api.ErrorResponse{Error: "this agent requires a client certificate signed by the cluster CA " +
			"(scaleout tls cert create --client; the CLI's --client-cert/--client-key or SCALEOUT_CLIENT_CERT/SCALEOUT_CLIENT_KEY)"})
	})
}

// noEnvTLS keeps the agent's own API clients from reading the CLI's
// SCALEOUT_CACERT/SCALEOUT_CLIENT_* variables from the agent's
// environment: without TLS they speak plain HTTP to their own agent.
var noEnvTLS = &api.TLSConfig{}

// newInternalToken makes this agent's internal token: 256 random bits.
func newInternalToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// ownToken is the token of this agent's calls to its own API (worker,
// console): acl_agent_token when set (other agents accept it when the
// call is forwarded), else the internal token (forwarding replaces it
// by the agent's certificate identity).
func (a *Agent) ownToken() string {
	if a.cfg.ACLAgentToken != "" {
		return a.cfg.ACLAgentToken
	}
	return a.internalToken
}
