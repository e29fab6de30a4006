package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/scaleout/scaleout/api"
	"github.com/scaleout/scaleout/catalog/pkgspec/pkgspectest"
)

// The end-to-end tests build the real binary once and start real agents on
// random ports with t.TempDir() data directories. They are skipped with
// -short.

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

func binary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test: skipped with -short")
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "scaleout-e2e-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "scaleout")
		// -trimpath keeps directories out of the build cache's keys: the
		// upgrade test's build of an earlier commit (another directory)
		// reuses every package that did not change.
		out, err := exec.Command("go", "build", "-trimpath", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatalf("cannot build the scaleout binary: %v", buildErr)
	}
	return binPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

// agentProc is a running `scaleout agent --dev`.
type agentProc struct {
	t       *testing.T
	cmd     *exec.Cmd
	api     string
	gossip  string
	dataDir string
	done    chan struct{}
	started chan struct{}
	mu      sync.Mutex
	log     bytes.Buffer
}

var (
	startingLine = regexp.MustCompile(`==> scaleout agent starting: .* api=(\S+) gossip=(\S+)`)
	startedLine  = regexp.MustCompile(`==> scaleout agent started: `)
)

// startAgent starts `scaleout agent --dev` and waits until it is ready.
func startAgent(t *testing.T, dataDir string, extra ...string) *agentProc {
	t.Helper()
	return startAgentEnv(t, dataDir, nil, extra...)
}

// startAgentEnv is startAgent with env added to the agent's environment.
func startAgentEnv(t *testing.T, dataDir string, env []string, extra ...string) *agentProc {
	t.Helper()
	args := append([]string{"agent", "--dev", "--http-addr", "127.0.0.1:0", "--node", "e2e", "--data-dir", dataDir,
		"--kill-grace", "1s"}, extra...)
	a := spawnAgentEnv(t, dataDir, env, args...)
	a.waitStarted()
	return a
}

// spawnAgent starts `scaleout args...` and waits for the line naming its
// addresses (not for readiness: a cluster member is ready only once a
// leader exists).
func spawnAgent(t *testing.T, dataDir string, args ...string) *agentProc {
	t.Helper()
	return spawnAgentEnv(t, dataDir, nil, args...)
}

// spawnAgentEnv is spawnAgent with env added to the agent's environment.
func spawnAgentEnv(t *testing.T, dataDir string, env []string, args ...string) *agentProc {
	t.Helper()
	return spawnAgentBin(t, binary(t), dataDir, env, args...)
}

// spawnAgentBin is spawnAgentEnv with another scaleout binary (an older
// build, in the upgrade test).
func spawnAgentBin(t *testing.T, bin, dataDir string, env []string, args ...string) *agentProc {
	t.Helper()
	cmd := exec.Command(bin, args...)
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	a := &agentProc{t: t, cmd: cmd, dataDir: dataDir, done: make(chan struct{}), started: make(chan struct{})}
	apiCh := make(chan []string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			a.mu.Lock()
			a.log.WriteString(line + "\n")
			a.mu.Unlock()
			if m := startingLine.FindStringSubmatch(line); m != nil {
				apiCh <- m[1:]
			}
			if startedLine.MatchString(line) {
				close(a.started)
			}
		}
	}()
	go func() { _ = cmd.Wait(); close(a.done) }()
	t.Cleanup(func() {
		a.kill()
		if t.Failed() {
			a.mu.Lock()
			t.Logf("agent log:\n%s", a.log.String())
			a.mu.Unlock()
		}
	})
	select {
	case m := <-apiCh:
		a.api, a.gossip = m[0], m[1]
	case <-a.done:
		t.Fatalf("agent exited before starting:\n%s", a.logText())
	case <-time.After(30 * time.Second):
		t.Fatalf("agent did not start in 30s:\n%s", a.logText())
	}
	return a
}

func (a *agentProc) waitStarted() {
	a.t.Helper()
	select {
	case <-a.started:
	case <-a.done:
		a.t.Fatalf("agent exited before it was ready:\n%s", a.logText())
	case <-time.After(60 * time.Second):
		a.t.Fatalf("agent not ready after 60s:\n%s", a.logText())
	}
}

func (a *agentProc) logText() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.log.String()
}

func (a *agentProc) kill() {
	select {
	case <-a.done:
		return
	default:
	}
	_ = a.cmd.Process.Kill()
	<-a.done
}

func (a *agentProc) stop(sig syscall.Signal) {
	a.t.Helper()
	_ = a.cmd.Process.Signal(sig)
	select {
	case <-a.done:
	case <-time.After(30 * time.Second):
		a.t.Fatalf("agent did not exit after %s:\n%s", sig, a.logText())
	}
}

func (a *agentProc) client(t *testing.T) *api.Client {
	c, err := api.NewClient(api.Config{Address: a.api})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

type result struct {
	code           int
	stdout, stderr string
}

// cli runs the scaleout binary as a user would.
func cli(t *testing.T, addr string, args ...string) result {
	t.Helper()
	return cliWith(t, binary(t), addr, args...)
}

// cliWith is cli with another scaleout binary (an older build, in the
// upgrade test).
func cliWith(t *testing.T, bin, addr string, args ...string) result {
	t.Helper()
	if addr != "" {
		args = append(args, "--address", addr)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = "../.." // the repository root, so testdata/ paths work as in the README
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{code: code, stdout: out.String(), stderr: errb.String()}
}

func waitFor(t *testing.T, what string, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	last := ""
	for {
		ok, seen := cond()
		if ok {
			return
		}
		last = seen
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s; last seen: %s", timeout, what, last)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func waitStatus(t *testing.T, c *api.Client, id uint64, timeout time.Duration, want ...string) *api.Execution {
	t.Helper()
	var e *api.Execution
	waitFor(t, fmt.Sprintf("execution %d to be %v", id, want), timeout, func() (bool, string) {
		var err error
		e, err = c.Executions().Info(context.Background(), id)
		if err != nil {
			return false, err.Error()
		}
		for _, w := range want {
			if e.Status == w {
				return true, ""
			}
		}
		return false, e.Status
	})
	return e
}

func parseOutID(t *testing.T, r result) uint64 {
	t.Helper()
	line := strings.SplitN(strings.TrimSpace(r.stdout), "\n", 2)[0]
	id, err := strconv.ParseUint(line, 10, 64)
	if err != nil {
		t.Fatalf("run did not print an id first: %q (stderr %q)", r.stdout, r.stderr)
	}
	return id
}

func TestE2E_HelloPackage(t *testing.T) {
	a := startAgent(t, t.TempDir())

	r := cli(t, a.api, "run", "testdata/hello.yaml", "--wait")
	if r.code != 0 || !strings.Contains(r.stdout, "hello world") {
		t.Fatalf("run hello: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	id := parseOutID(t, r)

	r = cli(t, a.api, "run", "testdata/hello.yaml", "--param", "who=ssis", "--wait")
	if r.code != 0 || !strings.Contains(r.stdout, "hello ssis") {
		t.Fatalf("run hello who=ssis: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	r = cli(t, a.api, "run", "testdata/hello.yaml", "--param", "code=3", "--wait")
	if r.code != 1 {
		t.Fatalf("run hello code=3: exit %d, want 1\n%s%s", r.code, r.stdout, r.stderr)
	}
	failed := parseOutID(t, r)
	r = cli(t, a.api, "executions", "status", strconv.FormatUint(failed, 10))
	if r.code != 0 || !regexp.MustCompile(`Status\s+failed`).MatchString(r.stdout) {
		t.Fatalf("status of failed execution: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// The event log of the first execution: task start/end and the output line.
	r = cli(t, a.api, "executions", "logs", strconv.FormatUint(id, 10))
	for _, want := range []string{"pre_execute", "[greet] hello world", "post_execute", "running -> succeeded"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("logs lack %q:\n%s", want, r.stdout)
		}
	}
	r = cli(t, a.api, "executions", "list")
	if r.code != 0 || strings.Count(r.stdout, "succeeded") != 2 || !strings.Contains(r.stdout, "failed") {
		t.Fatalf("list: exit %d\n%s", r.code, r.stdout)
	}

	// Without --wait: prints the id at once; the execution then runs.
	r = cli(t, a.api, "run", "testdata/hello.yaml")
	if r.code != 0 {
		t.Fatalf("run without --wait: exit %d %s", r.code, r.stderr)
	}
	waitStatus(t, a.client(t), parseOutID(t, r), 30*time.Second, "succeeded")

	// The address can come from SCALEOUT_ADDR.
	cmd := exec.Command(binary(t), "executions", "list")
	cmd.Env = append(os.Environ(), "SCALEOUT_ADDR="+a.api)
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "hello") {
		t.Fatalf("SCALEOUT_ADDR: %v\n%s", err, out)
	}
}

func TestE2E_ValidationErrors(t *testing.T) {
	a := startAgent(t, t.TempDir())
	dir := t.TempDir()
	dup := filepath.Join(dir, "dup.yaml")
	if err := os.WriteFile(dup, []byte("name: d\ntasks:\n  - name: a\n    exec: {command: [/bin/true]}\n  - name: a\n    exec: {command: [/bin/true]}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	unknownAfter := filepath.Join(dir, "after.yaml")
	if err := os.WriteFile(unknownAfter, []byte("name: d\ntasks:\n  - name: a\n    after: [zz]\n    exec: {command: [/bin/true]}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		args []string
		want []string
	}{
		{"syntax", []string{"run", "testdata/invalid-syntax.yaml"}, []string{"testdata/invalid-syntax.yaml:"}},
		{"cycle", []string{"run", "testdata/invalid-cycle.yaml"}, []string{"invalid-cycle.yaml:", "cycle"}},
		{"duplicate", []string{"run", dup}, []string{"dup.yaml:5", "duplicate"}},
		{"unknown after", []string{"run", unknownAfter}, []string{"after.yaml:4", "zz"}},
		{"unknown param", []string{"run", "testdata/hello.yaml", "--param", "nope=1"}, []string{"nope"}},
		{"wrong type", []string{"run", "testdata/hello.yaml", "--param", "code=abc"}, []string{"code", "abc"}},
		{"bad param syntax", []string{"run", "testdata/hello.yaml", "--param", "code"}, []string{"NAME=VALUE"}},
		{"missing file", []string{"run", "testdata/none.yaml"}, []string{"none.yaml"}},
		{"no args", []string{"run"}, []string{"accepts 1 arg"}},
		{"unknown flag", []string{"run", "testdata/hello.yaml", "--frobnicate"}, []string{"frobnicate"}},
		{"bad id", []string{"executions", "status", "x"}, []string{"invalid execution id"}},
		{"unknown id", []string{"executions", "status", "999"}, []string{"not found"}},
	}
	for _, c := range cases {
		r := cli(t, a.api, c.args...)
		if r.code != 2 {
			t.Errorf("%s: exit %d, want 2\nstdout:%s\nstderr:%s", c.name, r.code, r.stdout, r.stderr)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(r.stderr, w) {
				t.Errorf("%s: stderr %q lacks %q", c.name, r.stderr, w)
			}
		}
	}
	list, err := a.client(t).Executions().List(context.Background(), nil)
	if err != nil || len(list) != 0 {
		t.Fatalf("invalid submissions created executions: %v %v", list, err)
	}
	// An unreachable agent is exit 3 with the address in the message.
	r := cli(t, "http://127.0.0.1:1", "executions", "list")
	if r.code != 3 || !strings.Contains(r.stderr, "127.0.0.1:1") {
		t.Fatalf("unreachable agent: exit %d, stderr %q", r.code, r.stderr)
	}
}

// processGone reports whether no process has marker in its command line.
func processGone(marker string) (bool, string) {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		raw, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		cmdline := strings.ReplaceAll(string(raw), "\x00", " ")
		if strings.Contains(cmdline, marker) && !strings.Contains(cmdline, "scaleout") {
			stat, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
			if strings.Contains(string(stat), ") Z ") {
				continue // a zombie has already exited
			}
			return false, fmt.Sprintf("pid %s: %s", e.Name(), cmdline)
		}
	}
	return true, ""
}

func TestE2E_StopSleepingPackage(t *testing.T) {
	a := startAgent(t, t.TempDir())
	c := a.client(t)
	seconds := fmt.Sprint(600 + time.Now().UnixNano()%300) // a marker no other test uses
	r := cli(t, a.api, "run", "testdata/sleep.yaml", "--param", "seconds="+seconds)
	id := parseOutID(t, r)
	waitStatus(t, c, id, 30*time.Second, "running")
	waitFor(t, "the sleep process", 30*time.Second, func() (bool, string) {
		gone, _ := processGone("sleep " + seconds)
		return !gone, ""
	})
	start := time.Now()
	r = cli(t, a.api, "executions", "stop", strconv.FormatUint(id, 10))
	if r.code != 0 {
		t.Fatalf("stop: exit %d %s", r.code, r.stderr)
	}
	e := waitStatus(t, c, id, 10*time.Second, "canceled", "failed", "succeeded", "ended_unexpectedly")
	if e.Status != "canceled" {
		t.Fatalf("status after stop %s", e.Status)
	}
	t.Logf("stop took %s", time.Since(start))
	waitFor(t, "the sleep process to be gone", 5*time.Second, func() (bool, string) { return processGone("sleep " + seconds) })
	r = cli(t, a.api, "executions", "stop", strconv.FormatUint(id, 10))
	if r.code != 2 || !strings.Contains(r.stderr, "already ended") {
		t.Fatalf("second stop: exit %d %q", r.code, r.stderr)
	}
}

// TestE2E_KillAndRestart kills the agent with SIGKILL while one execution
// runs with a retry left and one without, restarts it on the same data dir,
// and checks that nothing is lost and nothing stays running.
func TestE2E_KillAndRestart(t *testing.T) {
	dir := t.TempDir()
	a := startAgent(t, dir, "--lease-timeout", "3s", "--heartbeat", "500ms")
	c := a.client(t)

	r := cli(t, a.api, "run", "testdata/hello.yaml", "--wait")
	done := parseOutID(t, r)
	noRetry := parseOutID(t, cli(t, a.api, "run", "testdata/sleep.yaml", "--param", "seconds=5"))
	withRetry := parseOutID(t, cli(t, a.api, "run", "testdata/sleep.yaml", "--param", "seconds=1", "--retries", "1"))
	waitStatus(t, c, noRetry, 30*time.Second, "running")
	waitStatus(t, c, withRetry, 30*time.Second, "running")

	a.kill()
	// The package processes notice that their worker died and stop.
	waitFor(t, "orphaned sleeps to stop", 10*time.Second, func() (bool, string) { return processGone("sleep 5;") })

	b := startAgent(t, dir, "--lease-timeout", "3s", "--heartbeat", "500ms")
	c = b.client(t)
	if e := waitStatus(t, c, done, 5*time.Second, "succeeded"); e.EventCount == 0 {
		t.Fatal("events of the finished execution were lost")
	}
	e := waitStatus(t, c, noRetry, 30*time.Second, "ended_unexpectedly")
	if e.Attempt != 1 {
		t.Fatalf("execution without retries ran %d attempts", e.Attempt)
	}
	e = waitStatus(t, c, withRetry, 30*time.Second, "succeeded")
	if e.Attempt != 2 || len(e.Attempts) != 2 {
		t.Fatalf("retried execution: attempt %d, attempts %+v", e.Attempt, e.Attempts)
	}
	// Ids continue after a restart.
	next := parseOutID(t, cli(t, b.api, "run", "testdata/hello.yaml", "--wait"))
	if next != withRetry+1 {
		t.Fatalf("id after restart %d, want %d", next, withRetry+1)
	}
}

// TestE2E_GracefulShutdownRecordsStop stops the agent with SIGTERM while a
// package runs: the execution is stopped and recorded as canceled.
func TestE2E_GracefulShutdownRecordsStop(t *testing.T) {
	dir := t.TempDir()
	a := startAgent(t, dir)
	c := a.client(t)
	id := parseOutID(t, cli(t, a.api, "run", "testdata/sleep.yaml", "--param", "seconds=77"))
	waitStatus(t, c, id, 30*time.Second, "running")
	a.stop(syscall.SIGTERM)
	if !strings.Contains(a.logText(), "scaleout agent stopped") {
		t.Fatalf("agent did not stop cleanly:\n%s", a.logText())
	}
	if gone, seen := processGone("sleep 77"); !gone {
		t.Fatalf("package process left behind: %s", seen)
	}
	b := startAgent(t, dir)
	e := waitStatus(t, b.client(t), id, 5*time.Second, "canceled")
	if !strings.Contains(e.Message, "shut down") {
		t.Fatalf("message %q does not say why", e.Message)
	}
}

// TestE2E_ETLProjectThroughAgent deploys the runtime's sample ETL project
// into the catalog and runs its entry package through a dev agent: the
// worker fetches the archive, the executor loads CSV files into SQLite,
// loops, and runs the child report package.
func TestE2E_ETLProjectThroughAgent(t *testing.T) {
	a := startAgent(t, t.TempDir())
	if r := cli(t, a.api, "folders", "create", "F"); r.code != 0 {
		t.Fatalf("folders create: %d %s", r.code, r.stderr)
	}
	if r := cli(t, a.api, "deploy", "testdata/projects/etl", "--folder", "F"); r.code != 0 {
		t.Fatalf("deploy: %d %s", r.code, r.stderr)
	}
	r := cli(t, a.api, "run", "F/etl/load", "--wait")
	if r.code != 0 {
		t.Fatalf("run F/etl/load: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"loaded 6 orders from 3 files", "FR: 3 orders, 172.60", "[report/print]", "running -> succeeded"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
}

// TestE2E_ProjectConnection: a connection declared in project.yaml, with a
// property taken from a project parameter, is used by a package's sql
// tasks through an agent.
func TestE2E_ProjectConnection(t *testing.T) {
	a := startAgent(t, t.TempDir())
	dir := t.TempDir()
	files := map[string]string{
		"project.yaml": "name: pc\nparameters:\n  dbfile: {type: string, default: wh.db}\n" +
			"connections:\n  warehouse: {type: sqlite, properties: {path: \"${project.dbfile}\"}}\n",
		"packages/load.yaml": `name: load
variables:
  rows: {type: int}
tasks:
  - name: create
    sql: {connection: warehouse, statement: "create table t(x int)"}
  - name: fill
    after: [create]
    sql: {connection: warehouse, statement: "insert into t values (1),(2),(3)", mode: row_count}
  - name: count
    after: [fill]
    sql: {connection: warehouse, statement: "select count(*) from t", mode: single_row, into: [rows]}
  - name: show
    after: [count]
    exec: {command: [/bin/echo, "rows=${vars.rows}"]}
`,
	}
	pkgspectest.WriteFiles(t, dir, files)
	cli(t, a.api, "folders", "create", "F")
	if r := cli(t, a.api, "deploy", dir, "--folder", "F"); r.code != 0 {
		t.Fatalf("deploy: %d %s", r.code, r.stderr)
	}
	r := cli(t, a.api, "run", "F/pc/load", "--wait")
	if r.code != 0 || !strings.Contains(r.stdout, "rows=3") {
		t.Fatalf("run: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
}
