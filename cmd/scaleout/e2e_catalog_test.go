package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// copyDir copies the sample project so the test can change it between
// deployments.
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	out, err := exec.Command("cp", "-r", src, dst).CombinedOutput()
	if err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
}

// grepTree reports the files under root that contain needle.
func grepTree(t *testing.T, root, needle string) []string {
	t.Helper()
	var hits []string
	_ = filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err == nil && bytes.Contains(b, []byte(needle)) {
			hits = append(hits, p)
		}
		return nil
	})
	return hits
}

// TestE2E_CatalogSample is the catalog's acceptance check, done as a user
// would: deploy the sample project, bind a sensitive environment variable,
// run the package, read its masked logs, redeploy, restore, and try every
// invalid creation. Then it greps the Raft log, the catalog file and a
// snapshot for the secrets.
func TestE2E_CatalogSample(t *testing.T) {
	dataDir := t.TempDir()
	a := startAgent(t, dataDir)
	proj := filepath.Join(t.TempDir(), "etl-sample")
	copyDir(t, "../../testdata/projects/etl-sample", proj)
	const token, password = "tok-7f3a91c2", "pw-e5b04d18"
	out := filepath.Join(t.TempDir(), "secrets.txt")

	must := mustCLI(t, a.api)
	must("folders", "create", "F")
	must("deploy", proj, "--folder", "F")
	must("environments", "create", "F/E")
	must("environments", "set-var", "F/E", "TOKEN", token, "--sensitive")
	must("environments", "set-var", "F/E", "PW", password, "--sensitive")
	must("projects", "reference-env", "F/etl-sample", "E")
	must("projects", "set-value", "F/etl-sample", "api_token", "--package", "load", "--variable", "TOKEN")
	must("projects", "set-value", "F/etl-sample", "db_password", "--variable", "PW")

	r := must("run", "F/etl-sample/load", "--env", "E", "--param", "out="+out, "--wait")
	if !strings.Contains(r.stdout, "version 1: 3 customers") {
		t.Fatalf("the package did not read its project file:\n%s", r.stdout)
	}
	got, err := os.ReadFile(out)
	if err != nil || string(got) != token+"|"+password {
		t.Fatalf("the package received %q (%v), want the secrets in clear", got, err)
	}
	first := parseOutID(t, r)
	logs := must("executions", "logs", strconv.FormatUint(first, 10))
	if !strings.Contains(logs.stdout, "token ******, password ******") || strings.Contains(logs.stdout, token) || strings.Contains(logs.stdout, password) {
		t.Fatalf("logs do not mask the secrets:\n%s", logs.stdout)
	}
	if r := must("executions", "logs", strconv.FormatUint(first, 10), "--type", "stdout"); strings.Contains(r.stdout, "pre_execute") {
		t.Fatalf("--type stdout printed other events:\n%s", r.stdout)
	}
	for _, args := range [][]string{{"environments", "show", "F/E"}, {"projects", "show", "F/etl-sample"}, {"executions", "status", strconv.FormatUint(first, 10)}} {
		if r := must(args...); strings.Contains(r.stdout, token) || strings.Contains(r.stdout, password) {
			t.Fatalf("%v shows a secret:\n%s", args, r.stdout)
		}
	}
	e, err := a.client(t).Executions().Info(context.Background(), first)
	if err != nil || e.Folder != "F" || e.ProjectVersion != 1 || e.Params["api_token"] != "******" || e.ProjectParams["db_password"] != "******" || e.Environment != "F/E" || e.LoggingLevel != "basic" {
		t.Fatalf("execution record %+v %v", e, err)
	}

	// Redeploy twice, with a change each time: three versions.
	for v := 2; v <= 3; v++ {
		if err := os.WriteFile(filepath.Join(proj, "VERSION"), []byte(strconv.Itoa(v)+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		must("deploy", proj, "--folder", "F")
	}
	vs := must("projects", "versions", "F/etl-sample")
	if strings.Count(vs.stdout, "\n") != 4 || !strings.Contains(vs.stdout, "3        *") {
		t.Fatalf("versions:\n%s", vs.stdout)
	}
	if r := must("run", "F/etl-sample/load", "--env", "E", "--wait"); !strings.Contains(r.stdout, "version 3:") {
		t.Fatalf("current version did not run:\n%s", r.stdout)
	}
	must("projects", "restore", "F/etl-sample", "1")
	if r := must("run", "F/etl-sample/load", "--env", "E", "--wait"); !strings.Contains(r.stdout, "version 1:") {
		t.Fatalf("restored version 1 did not run:\n%s", r.stdout)
	}

	// Every invalid creation fails with its error and creates nothing.
	before, _ := a.client(t).Executions().List(context.Background(), nil)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"run", "F/etl-sample/nope", "--env", "E"}, "not found"},
		{[]string{"run", "F/nope/load"}, "not found"},
		{[]string{"run", "F/etl-sample/cleanup"}, "not an entry point"},
		{[]string{"run", "F/etl-sample/load", "--env", "nope"}, "not found"},
		{[]string{"run", "F/etl-sample/load"}, "names no environment"},
		{[]string{"run", "F/etl-sample/load", "--env", "E", "--param", "batch_size=many"}, "batch_size"},
		{[]string{"run", "F/etl-sample/load", "--env", "E", "--param", "nope=1"}, "unknown parameter"},
		{[]string{"run", "F/etl-sample/load", "--env", "E", "--retries", "-1"}, "negative"},
	}
	for _, c := range cases {
		r := cli(t, a.api, c.args...)
		if r.code != 2 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q, want 2 and %q", c.args, r.code, r.stderr, c.want)
		}
	}
	// A missing variable and a sensitive variable bound to a plain parameter.
	must("environments", "create", "F/E2")
	must("environments", "set-var", "F/E2", "PW", password, "--sensitive")
	must("environments", "set-var", "F/E2", "TOKEN", "x")
	must("projects", "reference-env", "F/etl-sample", "E2")
	must("projects", "set-value", "F/etl-sample", "region", "--variable", "PW")
	for _, c := range []struct{ env, want string }{{"E2", "sensitive variable bound to a non-sensitive parameter"}} {
		r := cli(t, a.api, "run", "F/etl-sample/load", "--env", c.env)
		if r.code != 2 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("env %s: exit %d, stderr %q, want %q", c.env, r.code, r.stderr, c.want)
		}
	}
	must("projects", "set-value", "F/etl-sample", "region", "--variable", "MISSING")
	if r := cli(t, a.api, "run", "F/etl-sample/load", "--env", "E"); r.code != 2 || !strings.Contains(r.stderr, "MISSING") {
		t.Errorf("missing variable: exit %d, stderr %q", r.code, r.stderr)
	}
	after, _ := a.client(t).Executions().List(context.Background(), nil)
	if len(after) != len(before) {
		t.Fatalf("invalid creations created executions: %d before, %d after", len(before), len(after))
	}
	if r := cli(t, a.api, "folders", "delete", "F"); r.code != 2 || !strings.Contains(r.stderr, "not empty") {
		t.Errorf("delete of a non-empty folder: exit %d %q", r.code, r.stderr)
	}

	// No plaintext secret in the Raft log, the catalog file or a snapshot.
	snap := filepath.Join(t.TempDir(), "backup.snap")
	must("operator", "snapshot", "save", snap)
	a.stop(syscall.SIGTERM)
	for _, secret := range []string{token, password} {
		if hits := grepTree(t, filepath.Join(dataDir, "raft"), secret); len(hits) > 0 {
			t.Errorf("secret found in the Raft data: %v", hits)
		}
		if hits := grepTree(t, filepath.Join(dataDir, "catalog.db"), secret); len(hits) > 0 {
			t.Errorf("secret found in the catalog file: %v", hits)
		}
		if hits := grepTree(t, snap, secret); len(hits) > 0 {
			t.Errorf("secret found in the snapshot")
		}
	}
	if st, err := os.Stat(filepath.Join(dataDir, "raft", "raft.db")); err != nil || st.Size() == 0 {
		t.Fatalf("no raft log to grep: %v", err)
	}

	// Restore the backup into a fresh agent (same key: dev mode keeps it in
	// the data dir) and run the package again.
	fresh := t.TempDir()
	key, _ := os.ReadFile(filepath.Join(dataDir, devKeyFile))
	b := startAgent(t, fresh, "--encrypt-key", strings.TrimSpace(string(key)))
	must2 := mustCLI(t, b.api)
	must2("operator", "snapshot", "restore", snap)
	must2("projects", "set-value", "F/etl-sample", "region", "--value", "apac")
	out2 := filepath.Join(t.TempDir(), "s2.txt")
	r = must2("run", "F/etl-sample/load", "--env", "E", "--param", "out="+out2, "--wait")
	if got, _ := os.ReadFile(out2); string(got) != token+"|"+password || !strings.Contains(r.stdout, "region apac") {
		t.Fatalf("after restore the package got %q:\n%s", got, r.stdout)
	}
	waitFor(t, "the backup's executions plus one", 10*time.Second, func() (bool, string) {
		list, err := b.client(t).Executions().List(context.Background(), nil)
		return err == nil && len(list) == len(after)+1, strconv.Itoa(len(list))
	})
}

// mustCLI returns a runner of the CLI against the agent at api that fails
// the test on a non-zero exit.
func mustCLI(t *testing.T, api string) func(args ...string) result {
	return func(args ...string) result {
		t.Helper()
		r := cli(t, api, args...)
		if r.code != 0 {
			t.Fatalf("%v: exit %d\n%s%s", args, r.code, r.stdout, r.stderr)
		}
		return r
	}
}
