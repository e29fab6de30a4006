package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestE2E_ACLWithTLS: on a three-server cluster with mutual TLS, after acl
// bootstrap a client certificate alone is refused (401); the agents' own
// traffic keeps working on their certificates (worker polls forwarded to
// the leader, the keyring fan-out); a worker-only agent with a worker
// certificate of the CA waits unapproved until 'workers approve' while
// auto_approve_workers is unset, and is approved by itself once it is on.
func TestE2E_ACLWithTLS(t *testing.T) {
	dir := t.TempDir()
	if r := cli(t, "", "tls", "init", "--nodes", "s1,s2,s3", "--dir", dir); r.code != 0 {
		t.Fatalf("tls init: %d %s", r.code, r.stderr)
	}
	p := func(f string) string { return filepath.Join(dir, f) }
	for _, w := range []string{"w1", "w2"} {
		if r := cli(t, "", "tls", "cert", "create", "--worker", "--node", w, "--dir", dir, "--ca", p("ca.pem"), "--ca-key", p("ca-key.pem")); r.code != 0 {
			t.Fatalf("worker cert: %d %s", r.code, r.stderr)
		}
	}
	gk, _ := os.ReadFile(p("gossip.key"))
	common := []string{"--http-addr", "127.0.0.1:0", "--bind", "127.0.0.1", "--gossip-port", "0", "--kill-grace", "1s", "--heartbeat", "300ms",
		"--tls-ca", p("ca.pem"), "--gossip-key", strings.TrimSpace(string(gk))}
	agents := map[string]*agentProc{}
	join := ""
	start := func(n string, extra ...string) *agentProc {
		args := append([]string{"agent", "--node", n, "--data-dir", t.TempDir()}, common...)
		args = append(args, extra...)
		if join != "" {
			args = append(args, "--join", join)
		}
		a := spawnAgent(t, "", args...)
		if join == "" {
			join = a.gossip
		}
		agents[n] = a
		return a
	}
	for _, n := range []string{"s1", "s2", "s3"} {
		start(n, "--raft-port", "0", "--bootstrap-expect", "3", "--encrypt-key-file", p("catalog.key"),
			"--tls-cert", p("server-"+n+".pem"), "--tls-key", p("server-"+n+"-key.pem"))
	}
	for _, a := range agents {
		a.waitStarted()
	}
	certs := []string{"--ca-cert", p("ca.pem"), "--client-cert", p("client-admin.pem"), "--client-key", p("client-admin-key.pem")}
	withCerts := func(api, tok string, args ...string) result {
		t.Helper()
		return tokenCLI(t, api, tok, append(args, certs...)...)
	}
	waitFor(t, "a leader", 30*time.Second, func() (bool, string) {
		r := withCerts(agents["s1"].api, "", "status")
		return r.code == 0, r.stderr
	})
	boot := withCerts(agents["s2"].api, "", "acl", "bootstrap")
	if boot.code != 0 {
		t.Fatalf("bootstrap: %d %s", boot.code, boot.stderr)
	}
	root := secretOf(t, boot)
	if r := withCerts(agents["s1"].api, "", "folders", "list"); r.code != 2 || !strings.Contains(r.stderr, "401") {
		t.Fatalf("a client certificate without a token: exit %d %s", r.code, r.stderr)
	}
	// The servers' own workers still poll the leader (forwarded on their certificates).
	if r := withCerts(agents["s3"].api, root, "run", "testdata/hello.yaml", "--wait", "--plain"); r.code != 0 {
		t.Fatalf("run after bootstrap: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := withCerts(agents["s1"].api, root, "operator", "keyring", "list"); r.code != 0 || strings.Count(r.stdout, strings.TrimSpace(string(gk))) < 3 {
		t.Fatalf("keyring list fan-out: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// A new worker with a worker certificate: unapproved while the setting is unset.
	start("w1", "--server=false", "--tls-cert", p("worker-w1.pem"), "--tls-key", p("worker-w1-key.pem")).waitStarted()
	row := func(w string) string {
		r := withCerts(agents["s1"].api, root, "workers", "list")
		return regexp.MustCompile(`(?m)^` + w + `\s.*$`).FindString(r.stdout)
	}
	waitFor(t, "w1 to register unapproved", 30*time.Second, func() (bool, string) {
		f := strings.Fields(row("w1"))
		return len(f) > 3 && f[3] == "false", row("w1")
	})
	if r := withCerts(agents["s1"].api, root, "operator", "settings"); !strings.Contains(r.stdout, "auto_approve_workers = false") {
		t.Fatalf("settings: %s%s", r.stdout, r.stderr)
	}
	if r := withCerts(agents["s2"].api, root, "workers", "approve", "w1"); r.code != 0 {
		t.Fatalf("approve: %d %s", r.code, r.stderr)
	}
	if r := withCerts(agents["s2"].api, root, "run", "testdata/hello.yaml", "--worker", "w1", "--wait", "--plain"); r.code != 0 {
		t.Fatalf("run on the approved w1: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// With auto_approve_workers on, a worker with a CA certificate is approved by itself.
	if r := withCerts(agents["s3"].api, root, "operator", "settings", "set", "auto_approve_workers", "true"); r.code != 0 {
		t.Fatalf("settings set: %d %s", r.code, r.stderr)
	}
	start("w2", "--server=false", "--tls-cert", p("worker-w2.pem"), "--tls-key", p("worker-w2-key.pem")).waitStarted()
	waitFor(t, "w2 to register approved", 30*time.Second, func() (bool, string) {
		f := strings.Fields(row("w2"))
		return len(f) > 3 && f[3] == "true", row("w2")
	})
	if r := withCerts(agents["s1"].api, root, "run", "testdata/hello.yaml", "--worker", "w2", "--wait", "--plain"); r.code != 0 {
		t.Fatalf("run on w2: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	ops := withCerts(agents["s1"].api, root, "operations", "list").stdout
	for _, want := range []string{"acl_bootstrap", "approve_worker", "set_setting", "auto_approve_workers=true"} {
		if !strings.Contains(ops, want) {
			t.Fatalf("operations lack %s:\n%s", want, ops)
		}
	}
}
