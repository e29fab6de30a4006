package tlsutil

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Files names an agent's TLS material.
type Files struct {
	CA   string // PEM CA certificate(s): peers must chain to one of them
	Cert string // PEM certificate of this agent (or client)
	Key  string // PEM key of Cert
}

// material is one loaded set of files.
type material struct {
	cert  tls.Certificate
	leaf  *x509.Certificate
	role  string
	pool  *x509.CertPool
	stamp string // sizes and modification times of the files
}

// Reloader holds an agent's TLS material and loads it again when asked
// (SIGHUP) or when the files change (Watch). Every tls.Config it returns
// reads the material at each handshake, so a reload applies to new
// connections at once; open connections keep their session.
type Reloader struct {
	files Files
	cur   atomic.Pointer[material]
	mu    sync.Mutex // serializes reloads
}

// NewReloader loads files; every one must be set and valid.
func NewReloader(files Files) (*Reloader, error) {
	if files.CA == "" || files.Cert == "" || files.Key == "" {
		return nil, errors.New("TLS needs a CA certificate, a certificate and its key (tls_ca, tls_cert, tls_key)")
	}
	r := &Reloader{files: files}
	m, err := load(files)
	if err != nil {
		return nil, err
	}
	r.cur.Store(m)
	return r, nil
}

func load(f Files) (*material, error) {
	stamp, err := stampOf(f)
	if err != nil {
		return nil, err
	}
	caPEM, err := os.ReadFile(f.CA)
	if err != nil {
		return nil, fmt.Errorf("TLS CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("TLS CA %s: no PEM certificate in it", f.CA)
	}
	cert, err := tls.LoadX509KeyPair(f.Cert, f.Key)
	if err != nil {
		return nil, fmt.Errorf("TLS certificate %s with key %s: %w", f.Cert, f.Key, err)
	}
	leaf := cert.Leaf
	if leaf == nil {
		if leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, err
		}
	}
	role, err := Role(leaf)
	if err != nil {
		return nil, fmt.Errorf("TLS certificate %s: %w (issue it with 'scaleout tls cert create')", f.Cert, err)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		return nil, fmt.Errorf("TLS certificate %s is not signed by the CA in %s: %w", f.Cert, f.CA, err)
	}
	return &material{cert: cert, leaf: leaf, role: role, pool: pool, stamp: stamp}, nil
}

func stampOf(f Files) (string, error) {
	s := ""
	for _, p := range []string{f.CA, f.Cert, f.Key} {
		fi, err := os.Stat(p)
		if err != nil {
			return "", fmt.Errorf("TLS file: %w", err)
		}
		s += fmt.Sprintf("%d/%d;", fi.Size(), fi.ModTime().UnixNano())
	}
	return s, nil
}

// Reload loads the files again. On error the material loaded before stays
// in use and the error says why.
func (r *Reloader) Reload() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	m, err := load(r.files)
	if err != nil {
		return err
	}
	r.cur.Store(m)
	return nil
}

// Changed reports whether the files differ (size or time) from what is
// loaded.
func (r *Reloader) Changed() bool {
	s, err := stampOf(r.files)
	return err == nil && s != r.cur.Load().stamp
}

// Watch reloads the files whenever they change, checking every interval
// until stop is closed; report is told of each reload (nil error) or
// failed one.
func (r *Reloader) Watch(interval time.Duration, stop <-chan struct{}, report func(error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		if r.Changed() {
			err := r.Reload()
			if report != nil {
				report(err)
			}
		}
	}
}

// Role returns the role of this agent's own certificate.
func (r *Reloader) Role() string { return r.cur.Load().role }

// Leaf returns this agent's own certificate as loaded now.
func (r *Reloader) Leaf() *x509.Certificate { return r.cur.Load().leaf }

// ServerConfig is the tls.Config of a listener. Peers must present a
// certificate of the CA whose role is in roles when require is set; else
// a certificate is verified if one is presented (the HTTP API: a request
// without one is refused above TLS unless something else, later a token,
// authenticates it).
func (r *Reloader) ServerConfig(require bool, roles ...string) *tls.Config {
	auth := tls.VerifyClientCertIfGiven
	if require {
		auth = tls.RequireAndVerifyClientCert
	}
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			m := r.cur.Load()
			return &tls.Config{
				MinVersion:       tls.VersionTLS12,
				Certificates:     []tls.Certificate{m.cert},
				ClientAuth:       auth,
				ClientCAs:        m.pool,
				VerifyConnection: checkRole(roles, true),
			}, nil
		},
	}
}

// ClientConfig is the tls.Config of this agent's own connections to other
// agents (Raft, forwarding, the worker's polls, peer calls). The peer's
// certificate must chain to the CA as loaded now and grant one of roles;
// host names are not checked (agents dial addresses learned from gossip,
// and the role is what is trusted).
func (r *Reloader) ClientConfig(roles ...string) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		// The chain is verified below against the CA loaded at the time
		// of the handshake (a reload may replace it).
		InsecureSkipVerify: true,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			c := r.cur.Load().cert
			return &c, nil
		},
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("the peer presented no certificate")
			}
			opts := x509.VerifyOptions{Roots: r.cur.Load().pool, Intermediates: x509.NewCertPool(),
				KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
			for _, c := range cs.PeerCertificates[1:] {
				opts.Intermediates.AddCert(c)
			}
			if _, err := cs.PeerCertificates[0].Verify(opts); err != nil {
				return fmt.Errorf("peer certificate is not signed by the cluster CA: %w", err)
			}
			return checkRole(roles, false)(cs)
		},
	}
}

// checkRole returns a VerifyConnection that refuses a peer certificate
// whose role is not in roles (optional: no certificate is fine).
func checkRole(roles []string, optional bool) func(tls.ConnectionState) error {
	return func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			if optional {
				return nil
			}
			return errors.New("the peer presented no certificate")
		}
		if len(roles) == 0 {
			return nil
		}
		role, err := Role(cs.PeerCertificates[0])
		if err != nil {
			return err
		}
		if !slices.Contains(roles, role) {
			return fmt.Errorf("peer certificate %q has role %s; this port needs %v", Name(cs.PeerCertificates[0]), role, roles)
		}
		return nil
	}
}

// PeerRole returns the role and name of the verified certificate of a
// connection, or ok false when the peer presented none.
func PeerRole(cs *tls.ConnectionState) (role, name string, ok bool) {
	if cs == nil || len(cs.VerifiedChains) == 0 || len(cs.PeerCertificates) == 0 {
		return "", "", false
	}
	role, err := Role(cs.PeerCertificates[0])
	if err != nil {
		return "", "", false
	}
	return role, Name(cs.PeerCertificates[0]), true
}
