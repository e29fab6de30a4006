package main

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/scaleout/scaleout/catalog"
	"github.com/scaleout/scaleout/cluster/clustertest"
)

// TestE2E_SecureByDefault: a non-dev agent without TLS refuses to start
// unless --insecure, and then says so in its log and in `status`.
func TestE2E_SecureByDefault(t *testing.T) {
	common := []string{"agent", "--node", "n1", "--encrypt-key", catalog.GenerateKey(), "--http-addr", "127.0.0.1:0",
		"--bind", "127.0.0.1", "--raft-port", "0", "--gossip-port", "0", "--bootstrap-expect", "1"}
	r := cli(t, "", append(common, "--data-dir", t.TempDir())...)
	if r.code != 2 || !strings.Contains(r.stderr, "--insecure") || !strings.Contains(r.stderr, "tls init") {
		t.Fatalf("without TLS: exit %d, stderr %q; want 2 naming --insecure and tls init", r.code, r.stderr)
	}
	a := spawnAgent(t, "", append(common, "--data-dir", t.TempDir(), "--insecure")...)
	a.waitStarted()
	if !strings.Contains(a.logText(), "running with --insecure") {
		t.Errorf("no insecure warning in the log:\n%s", a.logText())
	}
	st := cli(t, a.api, "status")
	if st.code != 0 || !strings.Contains(st.stdout, "insecure:          true") || !strings.Contains(st.stdout, "tls:               false") {
		t.Errorf("status: exit %d\n%s%s", st.code, st.stdout, st.stderr)
	}
	// The dev agent is neither.
	d := startAgent(t, t.TempDir())
	if st := cli(t, d.api, "status"); !strings.Contains(st.stdout, "insecure:          false") {
		t.Errorf("dev status:\n%s%s", st.stdout, st.stderr)
	}
}

// TestE2E_TLSCluster sets a three-server cluster up as the README does
// (tls init, the TLS flags, acl bootstrap), runs a package through it, checks that the
// API and Raft refuse connections without a certificate, and reloads a
// rotated certificate on SIGHUP.
func TestE2E_TLSCluster(t *testing.T) {
	dir := t.TempDir()
	if r := cli(t, "", "tls", "init", "--nodes", "s1,s2,s3", "--dir", dir); r.code != 0 {
		t.Fatalf("tls init: %d %s", r.code, r.stderr)
	}
	for _, f := range []string{"ca-key.pem", "server-s1-key.pem", "client-admin-key.pem", "gossip.key", "catalog.key", "s1.yaml"} {
		fi, err := os.Stat(filepath.Join(dir, f))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, mode %v; want 0600", f, err, fi.Mode())
		}
	}
	if r := cli(t, "", "tls", "init", "--nodes", "s1", "--dir", dir); r.code != 2 || !strings.Contains(r.stderr, "--force") {
		t.Errorf("tls init over existing files: exit %d %q", r.code, r.stderr)
	}
	gk, _ := os.ReadFile(filepath.Join(dir, "gossip.key"))
	p := func(f string) string { return filepath.Join(dir, f) }
	agents := map[string]*agentProc{}
	join := ""
	for _, n := range []string{"s1", "s2", "s3"} {
		args := []string{"agent", "--node", n, "--data-dir", t.TempDir(), "--http-addr", "127.0.0.1:0", "--bind", "127.0.0.1",
			"--raft-port", "0", "--gossip-port", "0", "--bootstrap-expect", "3", "--kill-grace", "1s",
			"--tls-ca", p("ca.pem"), "--tls-cert", p("server-" + n + ".pem"), "--tls-key", p("server-" + n + "-key.pem"),
			"--gossip-key", strings.TrimSpace(string(gk)), "--encrypt-key-file", p("catalog.key")}
		if join != "" {
			args = append(args, "--join", join)
		}
		a := spawnAgent(t, "", args...)
		if join == "" {
			join = a.gossip
		}
		if !strings.HasPrefix(a.api, "https://") {
			t.Fatalf("%s API %s: want https", n, a.api)
		}
		agents[n] = a
	}
	for _, a := range agents {
		a.waitStarted()
	}
	certs := []string{"--ca-cert", p("ca.pem"), "--client-cert", p("client-admin.pem"), "--client-key", p("client-admin-key.pem")}
	// Secure by default: the servers require a token from the start; the
	// README's next step makes the first.
	var root string
	waitFor(t, "acl bootstrap (a leader)", 60*time.Second, func() (bool, string) {
		r := cli(t, agents["s1"].api, append([]string{"acl", "bootstrap"}, certs...)...)
		if r.code == 0 {
			root = secretOf(t, r)
		}
		return r.code == 0, r.stderr
	})
	if r := tokenCLI(t, agents["s3"].api, root, append([]string{"run", "testdata/hello.yaml", "--wait", "--plain"}, certs...)...); r.code != 0 {
		t.Fatalf("run through s3: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := tokenCLI(t, agents["s2"].api, root, append([]string{"status"}, certs...)...); r.code != 0 ||
		!strings.Contains(r.stdout, "tls:               true") || !strings.Contains(r.stdout, "gossip encrypted:  true") {
		t.Errorf("status: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// Without a client certificate: 401 (exit 2) with a message.
	if r := cli(t, agents["s1"].api, "members", "--ca-cert", p("ca.pem")); r.code != 2 || !strings.Contains(r.stderr, "client certificate") {
		t.Errorf("members without a client certificate: exit %d %q", r.code, r.stderr)
	}
	// The Raft ports refuse a connection without a server certificate.
	peers := tokenCLI(t, agents["s1"].api, root, append([]string{"operator", "raft", "list-peers"}, certs...)...)
	pool := x509.NewCertPool()
	caPEM, _ := os.ReadFile(p("ca.pem"))
	pool.AppendCertsFromPEM(caPEM)
	client, err := tls.LoadX509KeyPair(p("client-admin.pem"), p("client-admin-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(peers.stdout, "\n")[1:] {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		n++
		for name, cfg := range map[string]*tls.Config{
			"no certificate":     {RootCAs: pool, ServerName: "server.scaleout"},
			"client certificate": {RootCAs: pool, ServerName: "server.scaleout", Certificates: []tls.Certificate{client}},
		} {
			if err := clustertest.RefusedTLS(f[1], cfg); err == nil {
				t.Errorf("raft port %s accepted a connection with %s", f[1], name)
			}
		}
	}
	if n != 3 {
		t.Fatalf("list-peers: %d peers\n%s%s", n, peers.stdout, peers.stderr)
	}

	// Rotation: a new certificate for s1, loaded on SIGHUP.
	if r := cli(t, "", "tls", "cert", "create", "--server", "--node", "s1", "--dir", dir, "--ca", p("ca.pem"), "--ca-key", p("ca-key.pem"), "--force"); r.code != 0 {
		t.Fatalf("cert create: %d %s", r.code, r.stderr)
	}
	_ = agents["s1"].cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, "s1 to reload its certificate", 30*time.Second, func() (bool, string) {
		return strings.Contains(agents["s1"].logText(), "TLS certificates reloaded"), ""
	})
	if r := tokenCLI(t, agents["s1"].api, root, append([]string{"run", "testdata/hello.yaml", "--wait", "--plain"}, certs...)...); r.code != 0 {
		t.Fatalf("run through s1 after the rotation: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}
