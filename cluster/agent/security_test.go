package agent

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/scaleout/scaleout/api/server"
	"github.com/scaleout/scaleout/cluster/tlsutil"
)

// TestAuthenticate checks the API's gate: a verified certificate passes
// with its role and name in the context, a server may vouch for the caller
// it forwards, anyone else's vouching is ignored, and no certificate is
// 401 except on the health checks.
func TestAuthenticate(t *testing.T) {
	dir := t.TempDir()
	caPEM, caKey, err := tlsutil.CreateCA(0)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	leaf := func(role, node string) *x509.Certificate {
		c, _, err := tlsutil.CreateCert(caPEM, caKey, tlsutil.CertRequest{Role: role, Node: node})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := pem.Decode(c)
		x, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	sc, sk, _ := tlsutil.CreateCert(caPEM, caKey, tlsutil.CertRequest{Role: tlsutil.RoleServer, Node: "s1"})
	r, err := tlsutil.NewReloader(tlsutil.Files{CA: write("ca.pem", caPEM), Cert: write("s.pem", sc), Key: write("s-key.pem", sk)})
	if err != nil {
		t.Fatal(err)
	}
	a := &Agent{tls: r}
	var got server.Identity
	var seen bool
	h := a.authenticate(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, seen = server.IdentityFrom(r.Context())
	}))
	call := func(path string, peer *x509.Certificate, fwd string) int {
		got, seen = server.Identity{}, false
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.TLS = &tls.ConnectionState{}
		if peer != nil {
			req.TLS.PeerCertificates = []*x509.Certificate{peer}
			req.TLS.VerifiedChains = [][]*x509.Certificate{{peer}}
		}
		if fwd != "" {
			req.Header.Set(server.IdentityHeader, fwd)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	if code := call("/v1/members", leaf(tlsutil.RoleClient, "alice"), ""); code != 200 || !seen || got != (server.Identity{Role: "client", Name: "alice"}) {
		t.Errorf("client: %d %+v", code, got)
	}
	if code := call("/v1/members", leaf(tlsutil.RoleServer, "s2"), "client/alice"); code != 200 || got != (server.Identity{Role: "client", Name: "alice", Via: "s2"}) {
		t.Errorf("forwarded by a server: %d %+v", code, got)
	}
	if code := call("/v1/members", leaf(tlsutil.RoleWorker, "w1"), "server/s9"); code != 200 || got != (server.Identity{Role: "worker", Name: "w1"}) {
		t.Errorf("a worker's vouching was taken: %d %+v", code, got)
	}
	if code := call("/v1/members", nil, ""); code != http.StatusUnauthorized || seen {
		t.Errorf("no certificate: %d", code)
	}
	if code := call("/v1/health/live", nil, ""); code != 200 || seen {
		t.Errorf("health without a certificate: %d", code)
	}
}
