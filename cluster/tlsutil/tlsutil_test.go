package tlsutil

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func mustCA(t *testing.T) (certPEM, keyPEM []byte) {
	t.Helper()
	c, k, err := CreateCA(0)
	if err != nil {
		t.Fatal(err)
	}
	return c, k
}

func parse(t *testing.T, certPEM []byte) *x509.Certificate {
	t.Helper()
	b, _ := pem.Decode(certPEM)
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCreateCert_RolesSANsAndUsages(t *testing.T) {
	caPEM, caKey := mustCA(t)
	ca := parse(t, caPEM)
	if !ca.IsCA || ca.NotAfter.Before(time.Now().Add(4*365*24*time.Hour)) {
		t.Fatalf("CA: IsCA %t, NotAfter %s", ca.IsCA, ca.NotAfter)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	for _, tc := range []struct {
		role     string
		usages   []x509.ExtKeyUsage
		dns      []string
		loopback bool
	}{
		{RoleServer, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}, []string{"a.example", "localhost", ServerName}, true},
		{RoleWorker, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}, []string{"a.example", "localhost"}, true},
		{RoleClient, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, []string{"a.example"}, false},
	} {
		certPEM, keyPEM, err := CreateCert(caPEM, caKey, CertRequest{Role: tc.role, Node: "n1", IPs: []net.IP{net.ParseIP("10.1.2.3")}, DNS: []string{"a.example"}})
		if err != nil {
			t.Fatalf("%s: %v", tc.role, err)
		}
		c := parse(t, certPEM)
		if r, err := Role(c); err != nil || r != tc.role {
			t.Errorf("%s: Role = %q, %v", tc.role, r, err)
		}
		if Name(c) != "n1" || c.Subject.OrganizationalUnit[0] != tc.role {
			t.Errorf("%s: name %q, OU %v", tc.role, Name(c), c.Subject.OrganizationalUnit)
		}
		if !slices.Equal(c.ExtKeyUsage, tc.usages) {
			t.Errorf("%s: usages %v, want %v", tc.role, c.ExtKeyUsage, tc.usages)
		}
		if !slices.Equal(c.DNSNames, tc.dns) {
			t.Errorf("%s: DNS %v, want %v", tc.role, c.DNSNames, tc.dns)
		}
		hasLoop := slices.ContainsFunc(c.IPAddresses, func(ip net.IP) bool { return ip.Equal(net.IPv4(127, 0, 0, 1)) })
		if hasLoop != tc.loopback || !c.IPAddresses[0].Equal(net.ParseIP("10.1.2.3")) {
			t.Errorf("%s: IPs %v", tc.role, c.IPAddresses)
		}
		if _, err := c.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: tc.usages}); err != nil {
			t.Errorf("%s: does not verify against the CA: %v", tc.role, err)
		}
		if !strings.Contains(string(keyPEM), "EC PRIVATE KEY") {
			t.Errorf("%s: key is not an EC key", tc.role)
		}
	}
	// Refusals.
	if _, _, err := CreateCert(caPEM, caKey, CertRequest{Role: "admin", Node: "x"}); err == nil {
		t.Error("unknown role accepted")
	}
	if _, _, err := CreateCert(caPEM, caKey, CertRequest{Role: RoleServer}); err == nil {
		t.Error("empty node accepted")
	}
	otherCA, otherKey := mustCA(t)
	if _, _, err := CreateCert(caPEM, otherKey, CertRequest{Role: RoleServer, Node: "x"}); err == nil || !strings.Contains(err.Error(), "does not belong") {
		t.Errorf("key of another CA: %v", err)
	}
	leaf, _, _ := CreateCert(otherCA, otherKey, CertRequest{Role: RoleServer, Node: "x"})
	if _, _, err := CreateCert(leaf, otherKey, CertRequest{Role: RoleServer, Node: "x"}); err == nil {
		t.Error("a leaf certificate was accepted as a CA")
	}
	// A certificate cannot outlive its CA.
	shortCA, shortKey, _ := CreateCA(48 * time.Hour)
	long, _, err := CreateCert(shortCA, shortKey, CertRequest{Role: RoleClient, Node: "c", Validity: 1000 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if parse(t, long).NotAfter.After(parse(t, shortCA).NotAfter) {
		t.Error("certificate outlives its CA")
	}
	// A certificate from elsewhere names no role.
	if _, err := Role(parse(t, otherCA)); !errors.Is(err, ErrNoRole) {
		t.Errorf("CA has a role: %v", err)
	}
}

// pki writes a CA and certificates into a directory.
type pki struct {
	t           *testing.T
	dir         string
	caPEM, caKy []byte
}

func newPKI(t *testing.T) *pki {
	c, k := mustCA(t)
	p := &pki{t: t, dir: t.TempDir(), caPEM: c, caKy: k}
	p.write("ca.pem", c)
	return p
}

func (p *pki) write(name string, data []byte) string {
	path := filepath.Join(p.dir, name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		p.t.Fatal(err)
	}
	return path
}

// files issues a certificate and returns the Files of it.
func (p *pki) files(role, node string) Files {
	c, k, err := CreateCert(p.caPEM, p.caKy, CertRequest{Role: role, Node: node})
	if err != nil {
		p.t.Fatal(err)
	}
	return Files{CA: filepath.Join(p.dir, "ca.pem"), Cert: p.write(role+"-"+node+".pem", c), Key: p.write(role+"-"+node+"-key.pem", k)}
}

// handshake runs a TLS handshake between server and client configs over
// loopback and returns the client's and the server's errors (including
// the first read, where TLS 1.3 reports a refused client certificate).
func handshake(t *testing.T, srv, cli *tls.Config) (clientErr, serverErr error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		tc := tls.Server(c, srv)
		if err := tc.Handshake(); err != nil {
			done <- err
			return
		}
		_, err = tc.Write([]byte("x"))
		done <- err
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	tc := tls.Client(c, cli)
	_ = tc.SetDeadline(time.Now().Add(10 * time.Second))
	clientErr = tc.Handshake()
	if clientErr == nil {
		_, clientErr = io.ReadFull(tc, make([]byte, 1))
	}
	return clientErr, <-done
}

func TestReloader_RolesAreChecked(t *testing.T) {
	p := newPKI(t)
	srv, err := NewReloader(p.files(RoleServer, "s1"))
	if err != nil {
		t.Fatal(err)
	}
	peer := func(role, node string) *Reloader {
		r, err := NewReloader(p.files(role, node))
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	s2, w1, c1 := peer(RoleServer, "s2"), peer(RoleWorker, "w1"), peer(RoleClient, "c1")
	raftSrv := srv.ServerConfig(true, RoleServer)
	// Server to server: accepted both ways.
	if ce, se := handshake(t, raftSrv, s2.ClientConfig(RoleServer)); ce != nil || se != nil {
		t.Fatalf("server to server: %v / %v", ce, se)
	}
	// Worker and client certificates are refused by the Raft listener.
	for name, r := range map[string]*Reloader{"worker": w1, "client": c1} {
		if _, se := handshake(t, raftSrv, r.ClientConfig(RoleServer)); se == nil || !strings.Contains(se.Error(), "needs [server]") {
			t.Errorf("%s on Raft: server error %v", name, se)
		}
	}
	// No certificate at all.
	if _, se := handshake(t, raftSrv, &tls.Config{InsecureSkipVerify: true}); se == nil {
		t.Error("a client without a certificate was accepted by the Raft listener")
	}
	// A server certificate of another CA.
	other := newPKI(t)
	rogue, err := NewReloader(other.files(RoleServer, "rogue"))
	if err != nil {
		t.Fatal(err)
	}
	if _, se := handshake(t, raftSrv, rogue.ClientConfig(RoleServer)); se == nil {
		t.Error("a server certificate of another CA was accepted")
	}
	// ... and dialing it: the cluster's client refuses the rogue listener.
	if ce, _ := handshake(t, rogue.ServerConfig(true, RoleServer), s2.ClientConfig(RoleServer)); ce == nil || !strings.Contains(ce.Error(), "not signed by the cluster CA") {
		t.Errorf("dialing a server of another CA: %v", ce)
	}
	// A worker listening (its API) is refused where a server is required.
	if ce, _ := handshake(t, w1.ServerConfig(false), s2.ClientConfig(RoleServer)); ce == nil || !strings.Contains(ce.Error(), "role worker") {
		t.Errorf("server-only dial to a worker: %v", ce)
	}
	// The API listener takes a client certificate or none.
	api := srv.ServerConfig(false)
	if ce, se := handshake(t, api, c1.ClientConfig(RoleServer)); ce != nil || se != nil {
		t.Errorf("client on the API: %v / %v", ce, se)
	}
	if ce, se := handshake(t, api, &tls.Config{InsecureSkipVerify: true}); ce != nil || se != nil {
		t.Errorf("no certificate on the API (refused above TLS): %v / %v", ce, se)
	}
}

func TestReloader_ReloadAndWatch(t *testing.T) {
	p := newPKI(t)
	f := p.files(RoleServer, "s1")
	r, err := NewReloader(f)
	if err != nil {
		t.Fatal(err)
	}
	first := r.Leaf().SerialNumber
	// A broken file is refused; the loaded material stays.
	good, _ := os.ReadFile(f.Cert)
	p.write("server-s1.pem", []byte("garbage"))
	if err := r.Reload(); err == nil {
		t.Fatal("reload of a broken certificate succeeded")
	}
	if r.Leaf().SerialNumber.Cmp(first) != 0 {
		t.Fatal("a failed reload replaced the certificate")
	}
	p.write("server-s1.pem", good)
	// Rotation: a new certificate for the same node, picked up by Watch.
	stop := make(chan struct{})
	defer close(stop)
	reloads := make(chan error, 10)
	go r.Watch(20*time.Millisecond, stop, func(err error) { reloads <- err })
	f2 := p.files(RoleServer, "s1") // overwrites the same files
	_ = f2
	// The watch may look between the certificate's write and the key's:
	// that reload fails (and keeps the old pair); the next one succeeds.
	deadline := time.After(20 * time.Second)
	for done := false; !done; {
		select {
		case err := <-reloads:
			done = err == nil
		case <-deadline:
			t.Fatal("the changed files were not reloaded")
		}
	}
	if r.Leaf().SerialNumber.Cmp(first) == 0 {
		t.Fatal("the certificate was not replaced")
	}
	// New handshakes present the new certificate.
	cli, err := NewReloader(p.files(RoleServer, "s2"))
	if err != nil {
		t.Fatal(err)
	}
	var seen *x509.Certificate
	cc := cli.ClientConfig(RoleServer)
	verify := cc.VerifyConnection
	cc.VerifyConnection = func(cs tls.ConnectionState) error { seen = cs.PeerCertificates[0]; return verify(cs) }
	if ce, se := handshake(t, r.ServerConfig(true, RoleServer), cc); ce != nil || se != nil {
		t.Fatalf("after reload: %v / %v", ce, se)
	}
	if seen.SerialNumber.Cmp(r.Leaf().SerialNumber) != 0 {
		t.Fatal("the handshake did not use the reloaded certificate")
	}
	// A certificate of another CA is refused at load.
	other := newPKI(t)
	of := other.files(RoleServer, "x")
	if _, err := NewReloader(Files{CA: f.CA, Cert: of.Cert, Key: of.Key}); err == nil || !strings.Contains(err.Error(), "not signed by the CA") {
		t.Errorf("foreign certificate loaded: %v", err)
	}
}
