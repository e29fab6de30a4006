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
}
