package clustertest

import (
	"crypto/tls"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/scaleout/scaleout/api"
	"github.com/scaleout/scaleout/cluster/tlsutil"
)

// TLS is the certificate authority of a test cluster started with
// Options.TLS: every agent gets a certificate of its role from it, and
// Node.Client a client certificate.
type TLS struct {
	Dir          string // where the files are
	CA           string // the CA certificate's file
	caPEM, caKey []byte
}

// on reports whether the cluster uses TLS.
func (o *TLS) on() bool { return o != nil }

// NewTLS creates a CA in a temporary directory.
func NewTLS(t testing.TB) *TLS {
	t.Helper()
	dir := t.TempDir()
	certPEM, keyPEM, err := tlsutil.CreateCA(0)
	if err != nil {
		t.Fatal(err)
	}
	m := &TLS{Dir: dir, CA: filepath.Join(dir, "ca.pem"), caPEM: certPEM, caKey: keyPEM}
	if err := os.WriteFile(m.CA, certPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	return m
}

// Issue writes a certificate of role for name and returns its file and its
// key's file.
func (m *TLS) Issue(t testing.TB, role, name string) (cert, key string) {
	t.Helper()
	certPEM, keyPEM, err := tlsutil.CreateCert(m.caPEM, m.caKey, tlsutil.CertRequest{Role: role, Node: name})
	if err != nil {
		t.Fatal(err)
	}
	cert, key = filepath.Join(m.Dir, role+"-"+name+".pem"), filepath.Join(m.Dir, role+"-"+name+"-key.pem")
	if err := os.WriteFile(cert, certPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return cert, key
}

// ClientTLS returns the api client's TLS files with a new client
// certificate for name.
func (m *TLS) ClientTLS(t testing.TB, name string) *api.TLSConfig {
	cert, key := m.Issue(t, tlsutil.RoleClient, name)
	return &api.TLSConfig{CACert: m.CA, ClientCert: cert, ClientKey: key}
}

// RefusedTLS dials addr with TLS using cfg and reports the error of the
// handshake or of the first read (TLS 1.3 reports a refused client
// certificate there); nil means the server accepted the connection (no
// error within a second of reading: it waits for a request).
func RefusedTLS(addr string, cfg *tls.Config) error {
	conn, err := tls.Dial("tcp", addr, cfg)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(time.Second))
	_, err = conn.Read(make([]byte, 1))
	if ne, ok := err.(interface{ Timeout() bool }); ok && ne.Timeout() {
		return nil // the server waits for a request: accepted
	}
	return err
}
