package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/scaleout/scaleout/api"
)

// TestE2E_ACLWithTLS: on a three-server cluster with mutual TLS (set up as
// the README does: tls init, no --insecure) tokens are required from the
// first start: before acl bootstrap a client certificate alone gets 401 on
// reads and writes, while the cluster elects a leader, every server is
// ready and a server certificate lists the members; bootstrap makes the
// management token, which works at once. The agents' own traffic keeps
// working on their certificates (worker polls forwarded to the leader, the
// keyring fan-out); a worker-only agent with a worker certificate of the
// CA waits unapproved until 'workers approve' while auto_approve_workers
// is unset, and is approved by itself once it is on. A worker that forges
// a report about another worker's attempt gets 403, and the execution
// keeps its real result.
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
	// Before bootstrap: the cluster forms and is ready (health checks
	// need nothing), a server certificate lists every member alive, and a
	// client certificate without a token reads and writes nothing.
	waitFor(t, "every server ready (a leader, caught up)", 60*time.Second, func() (bool, string) {
		for n, a := range agents {
			if code, body := getWithCA(t, a.api+"/v1/health/ready", p("ca.pem")); code != 200 {
				return false, fmt.Sprintf("%s: %d %s", n, code, body)
			}
		}
		return true, ""
	})
	asServer := []string{"--ca-cert", p("ca.pem"), "--client-cert", p("server-s1.pem"), "--client-key", p("server-s1-key.pem")}
	if r := cli(t, agents["s2"].api, append([]string{"members"}, asServer...)...); r.code != 0 || strings.Count(r.stdout, "alive") != 3 {
		t.Fatalf("members with a server certificate before bootstrap: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, args := range [][]string{{"folders", "list"}, {"status"}, {"workers", "list"}, {"run", "testdata/hello.yaml"}, {"folders", "create", "early"}} {
		for _, n := range []string{"s1", "s3"} {
			if r := withCerts(agents[n].api, "", args...); r.code == 0 || !strings.Contains(r.stderr, "401") || !strings.Contains(r.stderr, "acl bootstrap") {
				t.Fatalf("%s before bootstrap through %s with a client certificate and no token: exit %d %s", args, n, r.code, r.stderr)
			}
		}
	}
	boot := withCerts(agents["s2"].api, "", "acl", "bootstrap")
	if boot.code != 0 {
		t.Fatalf("bootstrap: %d %s", boot.code, boot.stderr)
	}
	root := secretOf(t, boot)
	if r := withCerts(agents["s1"].api, "", "folders", "list"); r.code != 2 || !strings.Contains(r.stderr, "401") {
		t.Fatalf("a client certificate without a token: exit %d %s", r.code, r.stderr)
	}
	waitFor(t, "acl_required = true in the settings", 30*time.Second, func() (bool, string) {
		r := withCerts(agents["s1"].api, root, "operator", "settings")
		return strings.Contains(r.stdout, "acl_required = true"), r.stdout + r.stderr
	})
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
	forgedReport(t, agents["s1"].api, root, p)
	ops := withCerts(agents["s1"].api, root, "operations", "list").stdout
	for _, want := range []string{"acl_required=true", "acl_bootstrap", "approve_worker", "set_setting", "auto_approve_workers=true"} {
		if !strings.Contains(ops, want) {
			t.Fatalf("operations lack %s:\n%s", want, ops)
		}
	}
}

// forgedReport: while w1 runs an attempt, w2 (an approved worker with its
// own valid certificate) reports events and a result for it: 403 naming
// the problem, and the execution ends with w1's real result.
func forgedReport(t *testing.T, addr, root string, p func(string) string) {
	t.Helper()
	pkg := filepath.Join(t.TempDir(), "nap.yaml")
	if err := os.WriteFile(pkg, []byte("name: nap\ntasks:\n  - name: nap\n    exec: {command: [/bin/sh, -c, 'sleep 6; echo slept']}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	certs := []string{"--ca-cert", p("ca.pem"), "--client-cert", p("client-admin.pem"), "--client-key", p("client-admin-key.pem")}
	r := tokenCLI(t, addr, root, append([]string{"run", pkg, "--worker", "w1"}, certs...)...)
	if r.code != 0 {
		t.Fatalf("run on w1: exit %d %s", r.code, r.stderr)
	}
	id := parseOutID(t, r)
	admin, err := api.NewClient(api.Config{Address: addr, Token: root,
		TLS: &api.TLSConfig{CACert: p("ca.pem"), ClientCert: p("client-admin.pem"), ClientKey: p("client-admin-key.pem")}})
	if err != nil {
		t.Fatal(err)
	}
	e := waitStatus(t, admin, id, 60*time.Second, "running")
	if e.Worker != "w1" {
		t.Fatalf("execution %d runs on %q, want w1", id, e.Worker)
	}
	w2, err := api.NewClient(api.Config{Address: addr, NoEnvToken: true,
		TLS: &api.TLSConfig{CACert: p("ca.pem"), ClientCert: p("worker-w2.pem"), ClientKey: p("worker-w2-key.pem")}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = w2.Executions().ReportEvents(ctx, id, e.Attempt, []api.Event{{Time: time.Now(), Type: "information", Message: "forged by w2"}})
	if !api.IsStatus(err, 403) || !strings.Contains(err.Error(), `held by worker "w1"`) {
		t.Errorf("w2's events for w1's attempt: %v, want 403 naming w1", err)
	}
	err = w2.Executions().ReportResult(ctx, id, e.Attempt, &api.ResultReport{Status: "succeeded", Message: "forged by w2"})
	if !api.IsStatus(err, 403) || !strings.Contains(err.Error(), `held by worker "w1"`) {
		t.Errorf("w2's result for w1's attempt: %v, want 403 naming w1", err)
	}
	if e, err := admin.Executions().Info(ctx, id); err != nil || e.Status != "running" {
		t.Errorf("after the forged result: %+v %v; want still running", e, err)
	}
	e = waitStatus(t, admin, id, 60*time.Second, "succeeded", "failed", "canceled")
	if e.Status != "succeeded" || strings.Contains(e.Message, "forged") {
		t.Errorf("execution %d ended %s %q; want w1's real success", id, e.Status, e.Message)
	}
	evs := tokenCLI(t, addr, root, append([]string{"executions", "logs", strconv.FormatUint(id, 10)}, certs...)...)
	if strings.Contains(evs.stdout, "forged") || !strings.Contains(evs.stdout, "slept") {
		t.Errorf("events of %d (want w1's, none of w2's):\n%s%s", id, evs.stdout, evs.stderr)
	}
}

// getWithCA GETs url trusting the CA in caFile, without a client
// certificate.
func getWithCA(t *testing.T, url, caFile string) (int, string) {
	t.Helper()
	pem, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := hc.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
