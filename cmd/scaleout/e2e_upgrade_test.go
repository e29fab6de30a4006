package main

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/scaleout/scaleout/api"
	"github.com/scaleout/scaleout/catalog"
)

// The upgrade test builds the binary of an earlier commit from the
// repository's history (git archive of the commit, go build -trimpath so
// that Go's build cache serves every package that did not change), starts a
// three-server cluster with it, and upgrades the servers one by one to the
// binary of this checkout, as docs/operations.md tells an operator to.
//
// SCALEOUT_UPGRADE_FROM names the commit to upgrade from (any git revision);
// the default is HEAD~1, the previous commit (on main: the state before the
// last merge). Without git history (an exported tree, a shallow clone) the
// test is skipped with a message that says so.

const upgradeFromDefault = "HEAD~1"

// upgradeFrom resolves the revision to upgrade from, or skips the test.
func upgradeFrom(t *testing.T) (rev, short string) {
	t.Helper()
	ref := os.Getenv("SCALEOUT_UPGRADE_FROM")
	if ref == "" {
		ref = upgradeFromDefault
	}
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("upgrade test: no git on PATH to build the earlier binary from the history")
	}
	out, err := exec.Command("git", "-C", "../..", "rev-parse", "--verify", "--quiet", ref+"^{commit}").Output()
	if err != nil {
		var ee *exec.ExitError
		detail := err.Error()
		if errors.As(err, &ee) && len(ee.Stderr) > 0 {
			detail = strings.TrimSpace(string(ee.Stderr))
		}
		t.Skipf("upgrade test: no git history to upgrade from: %s does not resolve in this checkout (%s; an exported tree or a shallow clone? "+
			"a full `git clone`, or `git fetch --unshallow`, has it; SCALEOUT_UPGRADE_FROM picks another revision)", ref, detail)
	}
	rev = strings.TrimSpace(string(out))
	return rev, rev[:12]
}

// buildOldBinary extracts commit rev of the repository into dir and builds
// its scaleout binary there, stamped with version "upgrade-from-SHORT".
func buildOldBinary(t *testing.T, rev, short, dir string) string {
	t.Helper()
	src := filepath.Join(dir, "src")
	archive := exec.Command("git", "-C", "../..", "archive", "--format=tar", rev)
	pipe, err := archive.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	archive.Stderr = &stderr
	if err := archive.Start(); err != nil {
		t.Fatal(err)
	}
	extractErr := extractTar(pipe, src)
	_, _ = io.Copy(io.Discard, pipe)
	if err := archive.Wait(); err != nil || extractErr != nil {
		t.Fatalf("git archive %s: %v %v %s", rev, err, extractErr, stderr.String())
	}
	bin := filepath.Join(dir, "scaleout-"+short)
	start := time.Now()
	build := exec.Command("go", "build", "-trimpath", "-buildvcs=false",
		"-ldflags", "-X main.version=upgrade-from-"+short+" -X main.buildCommit="+short, "-o", bin, "./cmd/scaleout")
	build.Dir = src
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build of %s (the commit to upgrade from): %v\n%s", rev, err, out)
	}
	t.Logf("built the binary of %s in %s", short, time.Since(start).Round(time.Millisecond))
	return bin
}

// extractTar writes the files of a tar stream (git archive) under dir.
func extractTar(r io.Reader, dir string) error {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		path := filepath.Join(dir, filepath.FromSlash(h.Name))
		if !strings.HasPrefix(path, filepath.Clean(dir)+string(filepath.Separator)) {
			return fmt.Errorf("tar entry %q leaves the directory", h.Name)
		}
		switch h.Typeflag {
		case tar.TypeDir:
			err = os.MkdirAll(path, 0o755)
		case tar.TypeReg:
			err = writeFileFrom(path, tr, os.FileMode(h.Mode)&0o777)
		case tar.TypeSymlink:
			if err = os.MkdirAll(filepath.Dir(path), 0o755); err == nil {
				err = os.Symlink(h.Linkname, path)
			}
		}
		if err != nil {
			return err
		}
	}
}

func writeFileFrom(path string, r io.Reader, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode|0o200)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// upServer is one server of the upgrade test: fixed ports and data dir, so
// that the new binary takes over exactly what the old one left.
type upServer struct {
	name               string
	dir                string
	http, raft, gossip int
	proc               *agentProc
	client             *api.Client
	args               []string
	binary             string
}

// duringPackage is what is submitted before, during and after the upgrade.
const duringPackage = `name: upgrade-%s
tasks:
  - name: work
    exec:
      command: [/bin/sh, -c, 'sleep 0.2; echo "ran %s on $SCALEOUT_EXECUTION_ID"']
`

// TestE2EUpgrade_RollingFromPreviousCommit starts three servers with the
// binary of an earlier commit, fills the catalog (a folder, a deployed
// project, an environment with a sensitive value, executions) and saves a
// backup with it; then replaces the servers one by one (followers first,
// the leader last) by this checkout's binary on the same data dirs and
// ports. The old cluster is driven with the old CLI until every server is
// replaced, as docs/operations.md says (a newer CLI may send fields an old
// leader refuses). Executions submitted before, during and after all
// succeed; while the cluster is mixed, executions run on old and new
// workers; the catalog reads the same after the upgrade as before;
// and the backup the old cluster saved restores into the upgraded one.
func TestE2EUpgrade_RollingFromPreviousCommit(t *testing.T) {
	rev, short := upgradeFrom(t)
	newBin := binary(t)
	oldBin := buildOldBinary(t, rev, short, t.TempDir())
	oldVersion := "upgrade-from-" + short
	if out, err := exec.Command(oldBin, "--version").Output(); err != nil || !strings.Contains(string(out), oldVersion) {
		t.Fatalf("old binary --version: %v %q", err, out)
	}

	ports := freePorts(t, 9)
	key := catalog.GenerateKey()
	var servers []*upServer
	for i, name := range []string{"s1", "s2", "s3"} {
		servers = append(servers, &upServer{name: name, dir: t.TempDir(), http: ports[3*i], raft: ports[3*i+1], gossip: ports[3*i+2]})
	}
	for _, s := range servers {
		s.args = []string{"agent", "--node", s.name, "--data-dir", s.dir, "--bind", "127.0.0.1",
			"--http-addr", fmt.Sprintf("127.0.0.1:%d", s.http), "--raft-port", strconv.Itoa(s.raft), "--gossip-port", strconv.Itoa(s.gossip),
			"--bootstrap-expect", "3", "--encrypt-key", key, "--lease-timeout", "3s", "--heartbeat", "500ms",
			"--kill-grace", "1s", "--drain-timeout", "5s", "--max-tasks", "4"}
		for _, o := range servers {
			if o != s {
				s.args = append(s.args, "--join", fmt.Sprintf("127.0.0.1:%d", o.gossip))
			}
		}
		var err error
		if s.client, err = api.NewClient(api.Config{Address: fmt.Sprintf("http://127.0.0.1:%d", s.http), Caller: "upgrade-test"}); err != nil {
			t.Fatal(err)
		}
	}
	start := func(s *upServer, bin string) {
		s.binary = bin
		args := s.args
		if agentKnowsFlag(t, bin, "--insecure") {
			// Versions that are secure by default need it to run without
			// TLS; older ones do not know it.
			args = append(slices.Clone(args), "--insecure")
		}
		s.proc = spawnAgentBin(t, bin, s.dir, nil, args...)
	}
	for _, s := range servers {
		start(s, oldBin)
	}
	for _, s := range servers {
		s.proc.waitStarted()
	}
	waitUpgradeCluster(t, servers, map[string]string{"s1": oldVersion, "s2": oldVersion, "s3": oldVersion})
	leader := upgradeLeader(t, servers[0].client)
	t.Logf("cluster of %s formed, leader %s", short, leader)
	// The old cluster is driven through its leader with the old CLI: what
	// an old version does through a follower is its own business.
	var api1 string
	for _, s := range servers {
		if s.name == leader {
			api1 = s.proc.api
		}
	}

	// The catalog the old servers write.
	for _, args := range [][]string{
		{"folders", "create", "F"},
		{"deploy", "testdata/projects/etl", "--folder", "F"},
		{"environments", "create", "F/prod"},
		{"environments", "set-var", "F/prod", "PW", "s3cr3t", "--sensitive"},
		{"environments", "set-var", "F/prod", "REGION", "eu"},
	} {
		if r := cliWith(t, oldBin, api1, args...); r.code != 0 {
			t.Fatalf("%v on the old cluster: exit %d\n%s%s", args, r.code, r.stdout, r.stderr)
		}
	}
	runETL := func(bin, via string) {
		t.Helper()
		r := cliWith(t, bin, via, "run", "F/etl/load", "--wait")
		if r.code != 0 || !strings.Contains(r.stdout, "FR: 3 orders, 172.60") {
			t.Fatalf("run F/etl/load through %s: exit %d\n%s\n%s", via, r.code, r.stdout, r.stderr)
		}
	}
	runETL(oldBin, api1)
	catalogBefore := catalogView(t, api1)
	backup := filepath.Join(t.TempDir(), "old-cluster.snap")
	if r := cliWith(t, oldBin, api1, "operator", "snapshot", "save", backup); r.code != 0 {
		t.Fatalf("snapshot save on the old cluster: exit %d %s", r.code, r.stderr)
	}

	var (
		mu  sync.Mutex
		ids []uint64
	)
	pkgDir := t.TempDir()
	// submit runs `scaleout run` of bin through the server at addr until it
	// prints an id. The CLI is the old one until every server is upgraded
	// (a newer CLI may send fields an old leader refuses; operations.md).
	submit := func(bin, addr, tag string) error {
		file := filepath.Join(pkgDir, tag+".yaml")
		if err := os.WriteFile(file, []byte(fmt.Sprintf(duringPackage, tag, tag)), 0o644); err != nil {
			return err
		}
		deadline := time.Now().Add(90 * time.Second)
		for {
			r := cliWith(t, bin, addr, "run", file, "--retries", "3")
			if r.code == 0 {
				id, err := strconv.ParseUint(strings.SplitN(strings.TrimSpace(r.stdout), "\n", 2)[0], 10, 64)
				if err != nil {
					return fmt.Errorf("run %s printed no id: %q", tag, r.stdout)
				}
				mu.Lock()
				ids = append(ids, id)
				mu.Unlock()
				return nil
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("run %s through %s: exit %d: %s", tag, addr, r.code, r.stderr)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	for i := 0; i < 5; i++ {
		if err := submit(oldBin, servers[i%3].proc.api, fmt.Sprint("before-", i)); err != nil {
			t.Fatal(err)
		}
	}

	// Followers first, the leader last.
	leader = upgradeLeader(t, servers[0].client)
	order := make([]*upServer, 0, 3)
	for _, s := range servers {
		if s.name != leader {
			order = append(order, s)
		}
	}
	for _, s := range servers {
		if s.name == leader {
			order = append(order, s)
		}
	}
	versions := map[string]string{"s1": oldVersion, "s2": oldVersion, "s3": oldVersion}
	newVersion := ""
	for step, s := range order {
		// Submissions keep coming through another server while s is replaced.
		via := order[(step+1)%3]
		stop := make(chan struct{})
		errs := make(chan error, 1)
		go func() {
			defer close(errs)
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				case <-time.After(250 * time.Millisecond):
				}
				if err := submit(oldBin, via.proc.api, fmt.Sprintf("during-%s-%d", s.name, n)); err != nil {
					errs <- err
					return
				}
			}
		}()
		s.proc.stop(syscall.SIGTERM)
		start(s, newBin)
		s.proc.waitStarted()
		if newVersion == "" {
			newVersion = memberVersion(t, s.client, s.name)
			if newVersion == oldVersion || newVersion == "" {
				t.Fatalf("the new binary reports version %q, the old one %q: the test cannot tell them apart", newVersion, oldVersion)
			}
		}
		versions[s.name] = newVersion
		waitUpgradeCluster(t, servers, versions)
		close(stop)
		if err := <-errs; err != nil {
			t.Fatalf("while %s was upgraded: %v", s.name, err)
		}
		// Its own catalog replica, written by the old binary, reads the
		// same through the new one.
		if got := catalogView(t, s.proc.api); got != catalogBefore {
			t.Fatalf("catalog read through upgraded %s differs:\n%s\nbefore:\n%s", s.name, got, catalogBefore)
		}
		if step < 2 {
			// A mixed cluster runs work on an old worker. (A new worker may
			// get none from an old leader: a newer worker protocol can carry
			// fields the old leader refuses; operations.md, Upgrade.)
			old := order[2]
			runHello(t, oldBin, old.proc.api, old.name, fmt.Sprint(versions))
		}
		t.Logf("%s upgraded (%d of 3): %v", s.name, step+1, versions)
	}
	for _, s := range servers { // every upgraded worker takes work from the upgraded leader
		runHello(t, newBin, servers[0].proc.api, s.name, "after the upgrade")
	}
	for i := 0; i < 5; i++ {
		if err := submit(newBin, servers[i%3].proc.api, fmt.Sprint("after-", i)); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	all := append([]uint64(nil), ids...)
	mu.Unlock()
	for _, id := range all {
		if e := waitStatus(t, servers[0].client, id, 3*time.Minute, "succeeded", "failed", "canceled", "ended_unexpectedly"); e.Status != "succeeded" {
			t.Fatalf("execution %d (%s) ended %s: %s", id, e.PackageName, e.Status, e.Message)
		}
	}
	if got := catalogView(t, servers[0].proc.api); got != catalogBefore {
		t.Fatalf("catalog after the upgrade differs:\n%s\nbefore:\n%s", got, catalogBefore)
	}
	runETL(newBin, servers[2].proc.api)

	// The backup the old cluster saved restores into the new one.
	if r := cli(t, servers[0].proc.api, "operator", "snapshot", "restore", backup); r.code != 0 {
		t.Fatalf("restore of the old cluster's backup: exit %d %s", r.code, r.stderr)
	}
	waitFor(t, "the restored catalog on every server", 30*time.Second, func() (bool, string) {
		for _, s := range servers {
			if got := catalogView(t, s.proc.api); got != catalogBefore {
				return false, s.name + ":\n" + got
			}
		}
		return true, ""
	})
	runETL(newBin, servers[1].proc.api)
	t.Logf("%d executions submitted before, during and after the upgrade from %s succeeded", len(all), short)
}

// runHello runs testdata/hello.yaml on worker with the CLI bin through
// addr, and fails the test unless it succeeds within two minutes.
func runHello(t *testing.T, bin, addr, worker, when string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "run", "testdata/hello.yaml", "--worker", worker, "--param", "who="+worker, "--wait", "--address", addr)
	cmd.Dir = "../.."
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "hello "+worker) {
		t.Fatalf("%s: run on worker %s through %s: %v (a timeout after 2 minutes means it never ran)\n%s", when, worker, addr, err, out)
	}
}

// catalogView is what the catalog shows of folder F, as JSON: the same
// text before and after an upgrade means nothing was lost or changed.
func catalogView(t *testing.T, addr string) string {
	t.Helper()
	var b strings.Builder
	for _, args := range [][]string{
		{"folders", "show", "F", "--output", "json"},
		{"projects", "versions", "F/etl", "--output", "json"},
		{"projects", "show", "F/etl", "--output", "json"},
		{"environments", "show", "F/prod", "--output", "json"},
	} {
		r := cli(t, addr, args...)
		fmt.Fprintf(&b, "%v: exit %d\n%s%s\n", args, r.code, r.stdout, r.stderr)
	}
	return b.String()
}

// upgradeLeader returns the leader's name as c sees it.
func upgradeLeader(t *testing.T, c *api.Client) string {
	t.Helper()
	var leader string
	waitFor(t, "a leader", time.Minute, func() (bool, string) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		ms, err := c.Members(ctx)
		if err != nil {
			return false, err.Error()
		}
		for _, m := range ms {
			if m.Leader {
				leader = m.Name
				return true, ""
			}
		}
		return false, fmt.Sprint(ms)
	})
	return leader
}

// memberVersion returns the version node gossips, as c sees it.
func memberVersion(t *testing.T, c *api.Client, node string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ms, err := c.Members(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.Name == node {
			return m.Version
		}
	}
	t.Fatalf("%s is not a member: %+v", node, ms)
	return ""
}

// waitUpgradeCluster waits until every server sees all three alive with the
// versions given, a leader, and three Raft voters.
func waitUpgradeCluster(t *testing.T, servers []*upServer, versions map[string]string) {
	t.Helper()
	waitFor(t, fmt.Sprintf("3 alive servers with versions %v, a leader, 3 voters", versions), 2*time.Minute, func() (bool, string) {
		for _, s := range servers {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			ms, err := s.client.Members(ctx)
			var peers []api.Peer
			if err == nil {
				peers, err = s.client.Status().Peers(ctx)
			}
			cancel()
			if err != nil {
				return false, s.name + ": " + err.Error()
			}
			var seen []string
			leader := false
			for _, m := range ms {
				seen = append(seen, m.Name+"="+m.Status+"/"+m.Version)
				if m.Status != "alive" || m.Version != versions[m.Name] {
					sort.Strings(seen)
					return false, s.name + " sees " + strings.Join(seen, " ")
				}
				leader = leader || m.Leader
			}
			voters := 0
			for _, p := range peers {
				if p.Suffrage == "voter" {
					voters++
				}
			}
			if len(ms) != 3 || !leader || voters != 3 {
				return false, fmt.Sprintf("%s sees %v, leader %t, %d voters", s.name, seen, leader, voters)
			}
		}
		return true, ""
	})
}

// agentKnowsFlag reports whether `bin agent --help` lists flag.
func agentKnowsFlag(t *testing.T, bin, flag string) bool {
	t.Helper()
	out, _ := exec.Command(bin, "agent", "--help").CombinedOutput()
	return strings.Contains(string(out), flag+" ")
}
