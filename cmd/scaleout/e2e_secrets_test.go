package main

import (
	"crypto/rand"
	"encoding/base64"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// writePkg writes a package file into dir and returns its path.
func writePkg(t *testing.T, dir, name, src string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// An agent started with credentials in its environment runs packages
// whose tasks print their environment and their parent's (the package
// process): no credential is there, in a new package process nor in a
// reused one; a variable named by --task-env-allow is. Values derived from
// a sensitive parameter by expressions are masked in the events; a
// package's allow_paths works only below --task-allow-paths.
func TestE2E_SecretsStaySecret(t *testing.T) {
	key := make([]byte, 32)
	rand.Read(key)
	secrets := []string{
		"SCALEOUT_TOKEN=tok-e2e-6d1f0c",
		"SCALEOUT_ENCRYPT_KEY=" + base64.StdEncoding.EncodeToString(key),
		"SCALEOUT_SMTP_PASSWORD=smtp-e2e-8b2e",
		"SCALEOUT_CLIENT_KEY=/nowhere/client-e2e-key.pem",
		"DB_PASSWORD=db-e2e-93ac",
	}
	permitted := t.TempDir()
	if err := os.MkdirAll(filepath.Join(permitted, "in"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(permitted, "in", "a.txt"), []byte("a"), 0o644); err != nil {
		t.Fatal(err)
	}
	a := startAgentEnv(t, t.TempDir(), append(secrets, "PASS_ME=through-e2e"),
		"--task-env-allow", "PASS_ME", "--task-allow-paths", permitted)
	dir := t.TempDir()

	t.Run("scrubbed environment", func(t *testing.T) {
		pkg := writePkg(t, dir, "envdump.yaml", `name: envdump
tasks:
  - name: dump
    exec: {command: [/bin/sh, -c, 'env; echo ---; tr "\000" "\n" < /proc/$PPID/environ']}
`)
		for run := 1; run <= 3; run++ { // a warm package process, then reused ones
			r := cli(t, a.api, "run", pkg, "--wait")
			if r.code != 0 {
				t.Fatalf("run %d: exit %d\n%s%s", run, r.code, r.stdout, r.stderr)
			}
			logs := cli(t, a.api, "executions", "logs", strconv.FormatUint(parseOutID(t, r), 10)).stdout
			for _, s := range secrets {
				name, value, _ := strings.Cut(s, "=")
				if strings.Contains(logs, name) || strings.Contains(logs, value) {
					t.Errorf("run %d: %s reached the package:\n%s", run, name, logs)
				}
			}
			if strings.Count(logs, "PASS_ME=through-e2e") != 2 || strings.Count(logs, "PATH=") < 2 || strings.Count(logs, "SCALEOUT_EXECUTION_ID=") != 1 {
				t.Errorf("run %d: want PASS_ME (named by --task-env-allow) and PATH in the task's and the package process's environment:\n%s", run, logs)
			}
		}
	})

	t.Run("taint", func(t *testing.T) {
		pkg := writePkg(t, dir, "taint.yaml", `name: taint
parameters: {pw: {sensitive: true}}
variables:
  shout: {value: '${upper(param.pw)}'}
  joined: {}
tasks:
  - {name: join, set: {joined: '"db:" + lower(param.pw) + "@host"'}}
  - {name: show, after: [join], exec: {command: [echo, 'shout=${vars.shout} joined=${vars.joined} inline=${upper(param.pw)}']}}
`)
		r := cli(t, a.api, "run", pkg, "--param", "pw=Hunter2Pass", "--wait")
		if r.code != 0 {
			t.Fatalf("run: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		logs := cli(t, a.api, "executions", "logs", strconv.FormatUint(parseOutID(t, r), 10)).stdout
		if !strings.Contains(logs, "shout=****** joined=****** inline=******") {
			t.Errorf("the derived values are not masked in the events:\n%s", logs)
		}
		for _, s := range []string{"Hunter2Pass", "HUNTER2PASS", "hunter2pass"} {
			if strings.Contains(logs+r.stdout, s) {
				t.Errorf("%q in the output or events:\n%s\n%s", s, r.stdout, logs)
			}
		}
	})

	t.Run("secret through env and stdin", func(t *testing.T) { // the example of docs/SECURITY.md
		r := cli(t, a.api, "run", "testdata/secret-env.yaml", "--param", "db_password=Hunter2Pass", "--wait")
		logs := cli(t, a.api, "executions", "logs", strconv.FormatUint(parseOutID(t, r), 10)).stdout
		if r.code != 0 || !strings.Contains(logs, "the program got a password of 11 bytes") || strings.Contains(logs, "Hunter2Pass") || strings.Contains(logs, "warning") {
			t.Errorf("testdata/secret-env.yaml: exit %d\n%s%s\n%s", r.code, r.stdout, r.stderr, logs)
		}
	})

	t.Run("allow_paths", func(t *testing.T) {
		ok := writePkg(t, dir, "permitted.yaml", `name: permitted
allow_paths: ['`+filepath.Join(permitted, "in")+`']
tasks:
  - {name: cp, file: {op: copy, from: '`+filepath.Join(permitted, "in", "a.txt")+`', to: '${sys.work_dir}/a.txt'}}
`)
		if r := cli(t, a.api, "run", ok, "--wait"); r.code != 0 {
			t.Errorf("allow_paths below --task-allow-paths: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		outside := t.TempDir()
		bad := writePkg(t, dir, "unpermitted.yaml", `name: unpermitted
allow_paths: ['`+outside+`']
tasks:
  - {name: rm, file: {op: delete, path: '`+outside+`/*'}}
`)
		r := cli(t, a.api, "run", bad, "--wait")
		all := r.stdout + r.stderr
		if r.code == 0 || !strings.Contains(all, "allow_paths entry "+outside+" is not permitted on this worker") || !strings.Contains(all, "task_allow_paths") {
			t.Errorf("allow_paths outside --task-allow-paths: exit %d, want a failure naming the path and the setting\n%s", r.code, all)
		}
	})
}
