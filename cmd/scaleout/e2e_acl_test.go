package main

import (
	"context"
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

var secretLine = regexp.MustCompile(`(?m)^secret:\s+(\S+)$`)

// tokenCLI runs the CLI with a token; tok "" runs it without one.
func tokenCLI(t *testing.T, addr, tok string, args ...string) result {
	t.Helper()
	if tok != "" {
		args = append(args, "--token", tok)
	}
	return cli(t, addr, args...)
}

func mustToken(t *testing.T, addr, tok string, args ...string) result {
	t.Helper()
	r := tokenCLI(t, addr, tok, args...)
	if r.code != 0 {
		t.Fatalf("%v: exit %d\n%s%s", args, r.code, r.stdout, r.stderr)
	}
	return r
}

func secretOf(t *testing.T, r result) string {
	t.Helper()
	m := secretLine.FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("no secret in:\n%s", r.stdout)
	}
	return m[1]
}

// sleepProject writes a project with one package that sleeps.
func sleepProject(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "sleepy")
	if err := os.MkdirAll(filepath.Join(dir, "packages"), 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"project.yaml": "name: sleepy\n",
		"packages/nap.yaml": `name: nap
parameters:
  seconds: {type: int, default: 600}
tasks:
  - name: nap
    exec:
      command: [/bin/sh, -c, 'sleep ${param.seconds}']
`,
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func httpStatus(t *testing.T, method, url, tok string) int {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestE2E_ACLRolesAndOperations: after acl bootstrap, no token is 401, a
// reader reads (sensitive values masked) and every write of it is 403, an
// executor limited to folder A runs and stops in A and is refused in B, and
// the operations log names the token that deployed, ran and stopped.
func TestE2E_ACLRolesAndOperations(t *testing.T) {
	a := startAgent(t, t.TempDir())
	proj := sleepProject(t)
	const secret = "pw-acl-5c1e77"

	boot := mustToken(t, a.api, "", "acl", "bootstrap")
	root := secretOf(t, boot)
	if r := tokenCLI(t, a.api, "", "acl", "bootstrap"); r.code != 2 || !strings.Contains(r.stderr, "bootstrapped already") || !strings.Contains(r.stderr, "409") {
		t.Fatalf("second bootstrap: exit %d %s", r.code, r.stderr)
	}
	if r := tokenCLI(t, a.api, "", "folders", "list"); r.code != 2 || !strings.Contains(r.stderr, "401") || !strings.Contains(r.stderr, "requires an ACL token") {
		t.Fatalf("without a token: exit %d %s", r.code, r.stderr)
	}
	if code := httpStatus(t, "GET", a.api+"/v1/executions", ""); code != http.StatusUnauthorized {
		t.Fatalf("GET /v1/executions without a token: %d", code)
	}
	if code := httpStatus(t, "GET", a.api+"/v1/health/live", ""); code != http.StatusOK {
		t.Fatalf("liveness without a token: %d", code)
	}
	if code := httpStatus(t, "GET", a.api+"/v1/folders", "not-a-token"); code != http.StatusUnauthorized {
		t.Fatalf("a wrong token: %d", code)
	}

	for _, f := range []string{"A", "B"} {
		mustToken(t, a.api, root, "folders", "create", f)
		mustToken(t, a.api, root, "deploy", proj, "--folder", f)
	}
	mustToken(t, a.api, root, "environments", "create", "A/E")
	mustToken(t, a.api, root, "environments", "set-var", "A/E", "PW", secret, "--sensitive")
	reader := secretOf(t, mustToken(t, a.api, root, "acl", "token", "create", "--name", "auditor", "--role", "reader"))
	ops := secretOf(t, mustToken(t, a.api, root, "acl", "token", "create", "--name", "ops-a", "--role", "executor", "--folder", "A:READ+EXECUTE"))
	if r := tokenCLI(t, a.api, root, "acl", "token", "create", "--name", "x", "--role", "reader", "--folder", "A:EXECUTE"); r.code != 2 || !strings.Contains(r.stderr, "EXECUTE") {
		t.Fatalf("reader with EXECUTE: exit %d %s", r.code, r.stderr)
	}

	// The executor runs in A, not in B.
	r := mustToken(t, a.api, ops, "run", "A/sleepy/nap")
	id := parseOutID(t, r)
	if r := tokenCLI(t, a.api, ops, "run", "B/sleepy/nap"); r.code != 2 || !strings.Contains(r.stderr, "403") ||
		!strings.Contains(r.stderr, "EXECUTE") || !strings.Contains(r.stderr, `folder "B"`) {
		t.Fatalf("executor in B: exit %d %s", r.code, r.stderr)
	}
	if r := tokenCLI(t, a.api, ops, "projects", "list", "B"); r.code != 2 || !strings.Contains(r.stderr, "READ") {
		t.Fatalf("executor reads B: exit %d %s", r.code, r.stderr)
	}
	if r := tokenCLI(t, a.api, ops, "deploy", proj, "--folder", "A"); r.code != 2 || !strings.Contains(r.stderr, "403") {
		t.Fatalf("executor deploys: exit %d %s", r.code, r.stderr)
	}
	c, err := api.NewClient(api.Config{Address: a.api, Token: root})
	if err != nil {
		t.Fatal(err)
	}
	waitStatus(t, c, id, 30*time.Second, "running")

	// The reader reads, sensitive values masked, and may write nothing.
	for _, args := range [][]string{{"folders", "list"}, {"projects", "list", "A"}, {"environments", "show", "A/E"},
		{"executions", "list"}, {"executions", "status", strconv.FormatUint(id, 10)}, {"workers", "list"}} {
		if r := mustToken(t, a.api, reader, args...); strings.Contains(r.stdout, secret) {
			t.Fatalf("reader %v shows the secret:\n%s", args, r.stdout)
		}
	}
	idS := strconv.FormatUint(id, 10)
	for _, args := range [][]string{{"folders", "create", "C"}, {"deploy", proj, "--folder", "A"}, {"run", "A/sleepy/nap"},
		{"executions", "stop", idS}, {"environments", "set-var", "A/E", "X", "1"}, {"acl", "token", "create", "--name", "y", "--role", "admin"},
		{"acl", "token", "list"}, {"workers", "disable", "e2e"}, {"operations", "list"}, {"run", "testdata/hello.yaml"},
		{"projects", "delete", "A/sleepy"}, {"folders", "delete", "B"}} {
		if r := tokenCLI(t, a.api, reader, args...); r.code != 2 || !strings.Contains(r.stderr, "403") || !strings.Contains(r.stderr, "permission denied") {
			t.Fatalf("reader %v: exit %d %s", args, r.code, r.stderr)
		}
	}
	snap := filepath.Join(t.TempDir(), "s.snap")
	if r := tokenCLI(t, a.api, reader, "operator", "snapshot", "save", snap); r.code != 2 || !strings.Contains(r.stderr, "403") {
		t.Fatalf("reader snapshot save: exit %d %s", r.code, r.stderr)
	}

	mustToken(t, a.api, ops, "executions", "stop", idS)
	waitStatus(t, c, id, 30*time.Second, "canceled")

	// Who did what: the tokens' names, never a header.
	all := mustToken(t, a.api, root, "operations", "list", "-o", "json").stdout
	for _, want := range []string{`"deploy_project"`, `"create_execution"`, `"stop_execution"`, `"create_token"`} {
		if !strings.Contains(all, want) {
			t.Fatalf("operations lack %s:\n%s", want, all)
		}
	}
	byOps := mustToken(t, a.api, root, "operations", "list", "--caller", "ops-a").stdout
	if !strings.Contains(byOps, "create_execution") || !strings.Contains(byOps, "stop_execution") || strings.Contains(byOps, "deploy_project") ||
		!strings.Contains(byOps, "execution "+idS+" A/sleepy/nap") {
		t.Fatalf("operations of ops-a:\n%s", byOps)
	}
	deploys := mustToken(t, a.api, root, "operations", "list", "--type", "deploy_project").stdout
	if strings.Count(deploys, "management") != 2 || !strings.Contains(deploys, "A/sleepy") || !strings.Contains(deploys, "B/sleepy") {
		t.Fatalf("deploys:\n%s", deploys)
	}
	failed := mustToken(t, a.api, root, "operations", "list", "--object", "B", "--caller", "ops-a").stdout
	if strings.Contains(failed, "create_execution") {
		t.Fatalf("a refused request was recorded as an operation:\n%s", failed)
	}
	if e, err := a.client(t).Executions().Info(context.Background(), id); err == nil {
		t.Fatalf("a client without a token read: %+v", e)
	}
	if e, err := c.Executions().Info(context.Background(), id); err != nil || e.Caller != "ops-a" {
		t.Fatalf("execution caller %+v %v, want ops-a", e, err)
	}

	mustToken(t, a.api, root, "acl", "token", "revoke", "auditor")
	if r := tokenCLI(t, a.api, reader, "folders", "list"); r.code != 2 || !strings.Contains(r.stderr, "401") {
		t.Fatalf("revoked reader: exit %d %s", r.code, r.stderr)
	}

	// A snapshot restore is an operation too (the first after the restored state).
	mustToken(t, a.api, root, "operator", "snapshot", "save", snap)
	mustToken(t, a.api, root, "operator", "snapshot", "restore", snap)
	if r := mustToken(t, a.api, root, "operations", "list", "--type", "restore_snapshot"); !strings.Contains(r.stdout, "management") {
		t.Fatalf("restore not in the operations log:\n%s", r.stdout)
	}
}

// TestE2E_ACLRevokeOnEveryServer: a token revoked through one server is
// refused by every server of a three-server cluster within two seconds
// (each checks its own replica).
func TestE2E_ACLRevokeOnEveryServer(t *testing.T) {
	c := startE2ECluster(t)
	waitFor(t, "a leader", 30*time.Second, func() (bool, string) {
		l, seen := c.leader("s1")
		return l != "", seen
	})
	root := secretOf(t, mustToken(t, c.agents["s2"].api, "", "acl", "bootstrap"))
	reader := secretOf(t, mustToken(t, c.agents["s3"].api, root, "acl", "token", "create", "--name", "auditor", "--role", "reader"))
	servers := []string{"s1", "s2", "s3"}
	waitFor(t, "every server to accept the reader token", 10*time.Second, func() (bool, string) {
		for _, s := range servers {
			if code := httpStatus(t, "GET", c.agents[s].api+"/v1/folders", reader); code != http.StatusOK {
				return false, s + ": " + strconv.Itoa(code)
			}
		}
		return true, ""
	})
	start := time.Now()
	mustToken(t, c.agents["s1"].api, root, "acl", "token", "revoke", "auditor")
	waitFor(t, "every server to refuse the revoked token", 2*time.Second, func() (bool, string) {
		for _, s := range servers {
			if code := httpStatus(t, "GET", c.agents[s].api+"/v1/folders", reader); code != http.StatusUnauthorized {
				return false, s + ": " + strconv.Itoa(code)
			}
		}
		return true, ""
	})
	t.Logf("revoked on every server %s after the revoke command started", time.Since(start))
	for _, s := range servers {
		if code := httpStatus(t, "GET", c.agents[s].api+"/v1/folders", root); code != http.StatusOK {
			t.Fatalf("%s refuses the management token: %d", s, code)
		}
	}
}

// TestE2E_ACLWorkerApproval: once ACLs are on, a new worker registers and
// waits unapproved (listed, no work) until 'workers approve'; it reaches
// the servers with its --acl-agent-token (no TLS here).
func TestE2E_ACLWorkerApproval(t *testing.T) {
	a := startAgent(t, t.TempDir())
	root := secretOf(t, mustToken(t, a.api, "", "acl", "bootstrap"))
	agentTok := secretOf(t, mustToken(t, a.api, root, "acl", "token", "create", "--name", "agents", "--role", "worker"))
	w := spawnAgent(t, "", "agent", "--node", "w2", "--server=false", "--insecure", "--data-dir", t.TempDir(), "--http-addr", "127.0.0.1:0",
		"--bind", "127.0.0.1", "--gossip-port", "0", "--join", a.gossip, "--heartbeat", "300ms", "--acl-agent-token", agentTok)
	w.waitStarted()
	c, err := api.NewClient(api.Config{Address: a.api, Token: root})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	waitFor(t, "w2 to register", 30*time.Second, func() (bool, string) {
		ws, err := c.Workers().List(ctx)
		for _, x := range ws {
			if x.ID == "w2" {
				return x.Unapproved && x.LastSeen != nil, "unapproved=" + strconv.FormatBool(x.Unapproved)
			}
		}
		return false, "not listed " + errString(err)
	})
	if r := mustToken(t, a.api, root, "workers", "list"); !regexp.MustCompile(`(?m)^w2\s+w2\s+true\s+false`).MatchString(r.stdout) {
		t.Fatalf("workers list does not show w2 unapproved:\n%s", r.stdout)
	}
	id := parseOutID(t, mustToken(t, a.api, root, "run", "testdata/hello.yaml", "--worker", "w2"))
	waitFor(t, "the pending reason to name the approval", 10*time.Second, func() (bool, string) {
		e, err := c.Executions().Info(ctx, id)
		if err != nil {
			return false, err.Error()
		}
		return e.Status == "pending" && strings.Contains(e.PendingReason, "unapproved"), e.Status + ": " + e.PendingReason
	})
	// Two more polls of w2 leave it pending.
	seen := map[time.Time]bool{}
	waitFor(t, "two more polls of w2", 10*time.Second, func() (bool, string) {
		ws, err := c.Workers().List(ctx)
		for _, x := range ws {
			if x.ID == "w2" && x.LastSeen != nil {
				seen[*x.LastSeen] = true
			}
		}
		return len(seen) >= 3, errString(err)
	})
	if e, err := c.Executions().Info(ctx, id); err != nil || e.Status != "pending" {
		t.Fatalf("an unapproved worker got work: %+v %v", e, err)
	}
	if r := mustToken(t, a.api, root, "workers", "approve", "w2"); !strings.Contains(r.stdout, "worker w2: approved") {
		t.Fatalf("approve: %s", r.stdout)
	}
	waitStatus(t, c, id, 30*time.Second, "succeeded")
	// The worker-only agent checks the routes it answers itself (it asks a server).
	exB := secretOf(t, mustToken(t, a.api, root, "acl", "token", "create", "--name", "ex-b", "--role", "executor", "--folder", "B:READ+EXECUTE"))
	logURL := w.api + "/v1/executions/" + strconv.FormatUint(id, 10) + "/attempts/1/log"
	for tok, want := range map[string]int{"": http.StatusUnauthorized, "bogus": http.StatusUnauthorized, exB: http.StatusForbidden, root: http.StatusOK} {
		if code := httpStatus(t, "GET", logURL, tok); code != want {
			t.Errorf("attempt log on w2 with %q: %d, want %d", tok, code, want)
		}
	}
	if code := httpStatus(t, "GET", w.api+"/v1/members", ""); code != http.StatusUnauthorized {
		t.Errorf("members on w2 without a token: %d", code)
	}
	if r := mustToken(t, a.api, root, "operations", "list", "--type", "approve_worker"); !strings.Contains(r.stdout, "worker w2") || !strings.Contains(r.stdout, "management") {
		t.Fatalf("operations:\n%s", r.stdout)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
