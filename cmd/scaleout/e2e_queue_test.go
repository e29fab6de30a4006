package main

import (
	"context"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/scaleout/scaleout/catalog/pkgspec/pkgspectest"
)

// TestE2E_QueueCLI drives the queue through the command line of a real
// agent: create then start (inline and deployed), set-param, caps,
// targeting that matches nothing, retries of a failed attempt.
func TestE2E_QueueCLI(t *testing.T) {
	a := startAgent(t, t.TempDir())
	c := a.client(t)
	id := func(r result) string { return strconv.FormatUint(parseOutID(t, r), 10) }
	// start starts the created execution x (of kind, for the messages),
	// waits for it to succeed and checks its logs hold want, the value
	// set while it was created.
	start := func(x, kind, want string) {
		t.Helper()
		if r := cli(t, a.api, "executions", "start", x); r.code != 0 {
			t.Fatalf("start (%s): exit %d %s", kind, r.code, r.stderr)
		}
		n, _ := strconv.ParseUint(x, 10, 64)
		waitStatus(t, c, n, 30*time.Second, "succeeded")
		if r := cli(t, a.api, "executions", "logs", x); !strings.Contains(r.stdout, want) {
			t.Fatalf("%s run: logs lack the value set while created (%q):\n%s", kind, want, r.stdout)
		}
	}

	// Inline: create, set a value, start.
	r := cli(t, a.api, "run", "testdata/hello.yaml", "--no-start", "--priority", "5")
	if r.code != 0 {
		t.Fatalf("run --no-start: exit %d %s", r.code, r.stderr)
	}
	x := id(r)
	if r = cli(t, a.api, "executions", "status", x); !regexp.MustCompile(`Status\s+created`).MatchString(r.stdout) ||
		!regexp.MustCompile(`Priority\s+5`).MatchString(r.stdout) {
		t.Fatalf("status of a created execution:\n%s%s", r.stdout, r.stderr)
	}
	if r = cli(t, a.api, "executions", "set-param", x, "who=queue"); r.code != 0 {
		t.Fatalf("set-param: exit %d %s", r.code, r.stderr)
	}
	if r = cli(t, a.api, "executions", "set-param", x, "code=notanint"); r.code != 2 || !strings.Contains(r.stderr, "code") {
		t.Fatalf("set-param of a mistyped value: exit %d %s", r.code, r.stderr)
	}
	start(x, "inline", "hello queue")
	if r = cli(t, a.api, "executions", "start", x); r.code != 2 || !strings.Contains(r.stderr, "already ended") {
		t.Fatalf("second start: exit %d %s", r.code, r.stderr)
	}
	if r = cli(t, a.api, "run", "testdata/hello.yaml", "--no-start", "--wait"); r.code != 2 {
		t.Fatalf("--no-start --wait: exit %d, want 2", r.code)
	}

	// Targeting a worker that does not exist is refused at once ...
	r = cli(t, a.api, "run", "testdata/hello.yaml", "--worker", "nosuch")
	if r.code != 2 || !strings.Contains(r.stderr, "no registered worker matches worker nosuch") {
		t.Fatalf("run --worker nosuch: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// ... unless asked to wait; then the reason is plain words.
	r = cli(t, a.api, "run", "testdata/hello.yaml", "--label", "gpu=yes", "--wait-for-worker")
	if r.code != 0 {
		t.Fatalf("run --wait-for-worker: exit %d %s", r.code, r.stderr)
	}
	x = id(r)
	if r = cli(t, a.api, "executions", "status", x); !strings.Contains(r.stdout, "waiting for a worker with label gpu=yes: no registered worker matches") {
		t.Fatalf("status of a waiting execution:\n%s", r.stdout)
	}
	cli(t, a.api, "executions", "stop", x)

	// A failed attempt is retried after the delay; the second succeeds.
	dir := t.TempDir()
	flaky := filepath.Join(dir, "flaky.yaml")
	pkgspectest.WriteFiles(t, dir, map[string]string{"flaky.yaml": `name: flaky
parameters:
  marker: {type: string}
tasks:
  - name: once
    exec:
      command: [/bin/sh, -c, 'if [ -e "$0" ]; then echo second; exit 0; fi; touch "$0"; exit 3', "${param.marker}"]
`})
	r = cli(t, a.api, "run", flaky, "--param", "marker="+filepath.Join(dir, "m"), "--retries", "2", "--retry-delay", "300ms", "--retry-backoff", "--wait")
	if r.code != 0 || !strings.Contains(r.stdout, "second") || !strings.Contains(r.stdout, "retrying as attempt 2 of 3 after 300ms") {
		t.Fatalf("flaky with retries: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// A deployed package: created, a value set, a package cap, started.
	proj := t.TempDir()
	pkgspectest.WriteFiles(t, proj, map[string]string{
		"project.yaml": "name: pq\n",
		"packages/greet.yaml": "name: greet\nparameters:\n  who: {type: string, default: world}\n" +
			"tasks:\n  - name: say\n    exec: {command: [/bin/echo, \"hi ${param.who}\"]}\n",
	})
	cli(t, a.api, "folders", "create", "F")
	if r = cli(t, a.api, "deploy", proj, "--folder", "F"); r.code != 0 {
		t.Fatalf("deploy: %d %s", r.code, r.stderr)
	}
	if r = cli(t, a.api, "caps", "set", "--folder", "F", "--project", "pq", "--package", "greet", "--max-concurrent", "1"); r.code != 0 {
		t.Fatalf("caps set: exit %d %s", r.code, r.stderr)
	}
	if r = cli(t, a.api, "caps", "list"); !regexp.MustCompile(`package\s+F/pq/greet\s+1\s+0`).MatchString(r.stdout) {
		t.Fatalf("caps list:\n%s%s", r.stdout, r.stderr)
	}
	if r = cli(t, a.api, "caps", "set", "--project", "pq", "--max-concurrent", "1"); r.code != 2 {
		t.Fatalf("caps set without a folder: exit %d", r.code)
	}
	r = cli(t, a.api, "run", "F/pq/greet", "--no-start")
	x = id(r)
	if r = cli(t, a.api, "executions", "set-param", x, "who=catalog"); r.code != 0 {
		t.Fatalf("set-param (deployed): exit %d %s", r.code, r.stderr)
	}
	if r = cli(t, a.api, "executions", "set-param", x, "nosuch=1"); r.code != 2 || !strings.Contains(r.stderr, "nosuch") {
		t.Fatalf("set-param of an unknown parameter: exit %d %s", r.code, r.stderr)
	}
	start(x, "deployed", "hi catalog")
}

// TestE2E_AdmissionThreshold: a worker whose memory floor is above what
// the machine has asks for no work; the execution waits pending.
func TestE2E_AdmissionThreshold(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("admission thresholds read /proc")
	}
	a := startAgent(t, t.TempDir(), "--task-request-min-memory-mb", "100000000")
	c := a.client(t)
	waitFor(t, "the worker to refuse work", 30*time.Second, func() (bool, string) {
		return strings.Contains(a.logText(), "asking for no new work"), ""
	})
	r := cli(t, a.api, "run", "testdata/hello.yaml")
	n := parseOutID(t, r)
	// Two polls after the submission: the worker saw it and took nothing.
	seen := func() time.Time {
		ws, err := c.Workers().List(context.Background())
		if err != nil || len(ws) != 1 || ws[0].LastSeen == nil {
			return time.Time{}
		}
		return *ws[0].LastSeen
	}
	first := seen()
	waitFor(t, "two polls", 30*time.Second, func() (bool, string) {
		s := seen()
		return !first.IsZero() && s.After(first), s.String()
	})
	second := seen()
	waitFor(t, "another poll", 30*time.Second, func() (bool, string) { return seen().After(second), "" })
	e, err := c.Executions().Info(context.Background(), n)
	if err != nil || e.Status != "pending" {
		t.Fatalf("execution under the memory floor: %+v %v", e, err)
	}
	if !strings.Contains(a.logText(), "below the floor of 100000000 MiB") {
		t.Fatalf("log does not say why:\n%s", a.logText())
	}
}
