package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"debug/elf"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/scaleout/scaleout/api"
	"github.com/scaleout/scaleout/catalog"
)

// The docker harness: every agent runs in its own container with its own
// address on a private bridge network, so a partition is a real
// `docker network disconnect` (gossip and Raft are both cut, and the node's
// address disappears as it would when a host's link goes down) and node loss
// is a real `docker kill`. Nothing is pulled: the image is a root filesystem
// of the repository's Dockerfile (the static scaleout binary, FROM scratch)
// with a static busybox added on top.
//
// Every object a run creates is named dockerPrefix+<run id> and labelled
// dockerLabel=<run id>, so leftovers of a crashed run can be found with
//
//	docker ps -a --filter label=scaleout-e2e
//	docker network ls --filter label=scaleout-e2e
//	docker images 'scaleout-e2e'

const (
	dockerPrefix = "scaleout-e2e-"
	dockerLabel  = "scaleout-e2e"
	// Timings of the docker cluster: a short lease so that fencing and
	// retries happen within the test's budget.
	dockerLease     = 3 * time.Second
	dockerHeartbeat = 500 * time.Millisecond
	dockerKillGrace = time.Second
)

// busyboxApplets are the commands the image offers as symlinks to busybox:
// what packages (/bin/sh -c '...') and the tests (ps) use.
var busyboxApplets = []string{"sh", "sleep", "echo", "cat", "true", "false", "ps", "kill", "ls", "env", "mkdir", "rm", "date", "test", "["}

// dockerCluster is three server agents and worker-only agents (w1 unless
// dockerOptions say otherwise), each in its own container.
type dockerCluster struct {
	t      *testing.T
	id     string // run id: every name is dockerPrefix+id[+"-"+node]
	image  string
	net    string
	prefix string // first three octets of the network's /24
	nodes  map[string]*dockerNode
	order  []string
	// logDir receives every container's whole log at the end.
	logDir string
}

// dockerNode is one agent container.
type dockerNode struct {
	name      string // node name (s1, s2, s3, w1)
	container string
	ip        string
	server    bool
	client    *api.Client // through the container's address
}

// docker runs the docker CLI and returns its combined output.
func docker(ctx context.Context, stdin io.Reader, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Stdin = stdin
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("docker %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return string(out), nil
}

// mustDocker runs docker with a deadline and fails the test on error.
func mustDocker(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := docker(ctx, nil, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// dockerUsable skips the test unless docker answers and a static busybox is
// installed (the image's shell); it returns busybox's path.
func dockerUsable(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("docker end-to-end test: skipped with -short")
	}
	if _, err := exec.LookPath("docker"); err != nil {
		t.Skip("docker end-to-end test: no docker CLI on PATH")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := docker(ctx, nil, "info", "--format", "{{.ServerVersion}}"); err != nil {
		t.Skipf("docker end-to-end test: docker is not usable: %v", err)
	}
	for _, p := range []string{"/bin/busybox", "/usr/bin/busybox"} {
		if err := isStatic(p); err == nil {
			return p
		}
	}
	t.Skip("docker end-to-end test: no static busybox for the image's shell (apt-get install busybox-static)")
	return ""
}

// isStatic reports an error unless path is a statically linked ELF
// executable (no program interpreter), which can run in an image that has no
// libc.
func isStatic(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is dynamically linked", path)
		}
	}
	return nil
}

// buildDockerImage builds the static scaleout binary, the image of the
// repository's Dockerfile from it (the build context make image prepares:
// FROM scratch, user 10001, the /data volume), and on top of that, as tag,
// a layer with busybox (the shell and tools that packages and the tests
// use) and files (image path -> content). Both images are labelled with
// runID.
func buildDockerImage(t *testing.T, tag, runID, busybox string, files map[string]string) {
	t.Helper()
	dir := t.TempDir()
	base := filepath.Join(dir, "base")
	bin := filepath.Join(base, "bin", "scaleout")
	build := exec.Command("go", "build", "-trimpath", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("static build of scaleout: %v\n%s", err, out)
	}
	if err := isStatic(bin); err != nil {
		t.Fatalf("CGO_ENABLED=0 build is not static: %v", err)
	}
	// What `make image` puts beside the binary (Makefile, target image).
	for _, d := range []struct {
		path string
		mode os.FileMode
	}{{"bin/image/root/tmp", 0o1777}, {"bin/image/data/data", 0o700}, {"deploy/docker", 0o755}} {
		p := filepath.Join(base, filepath.FromSlash(d.path))
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, d.mode); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"Dockerfile", ".dockerignore", "deploy/docker/passwd", "deploy/docker/group"} {
		raw, err := os.ReadFile(filepath.Join("../..", filepath.FromSlash(f)))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(base, filepath.FromSlash(f)), raw, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	baseTag := tag + "-base"
	dockerBuild(t, base, baseTag, runID)
	t.Cleanup(func() { removeDocker(t, "rmi", "-f", baseTag) })

	over := filepath.Join(dir, "overlay")
	put := func(name string, mode os.FileMode, content []byte) {
		p := filepath.Join(over, "rootfs", filepath.FromSlash(strings.TrimPrefix(name, "/")))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, content, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := os.ReadFile(busybox)
	if err != nil {
		t.Fatal(err)
	}
	put("bin/busybox", 0o755, raw)
	for _, a := range busyboxApplets {
		if err := os.Symlink("busybox", filepath.Join(over, "rootfs", "bin", a)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(over, "rootfs", "pkg"), 0o755); err != nil {
		t.Fatal(err)
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		put(name, 0o644, []byte(files[name]))
	}
	if err := os.WriteFile(filepath.Join(over, "Dockerfile"), []byte("FROM "+baseTag+"\nCOPY rootfs/ /\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dockerBuild(t, over, tag, runID)
}

// dockerBuild builds the image of dir/Dockerfile as tag, labelled with
// runID.
func dockerBuild(t *testing.T, dir, tag, runID string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if _, err := docker(ctx, nil, "build", "-q", "--label", dockerLabel+"="+runID, "-t", tag, dir); err != nil {
		t.Fatalf("docker build of %s: %v", tag, err)
	}
}

// createDockerNetwork creates a bridge network with a /24 of its own (static
// addresses need a configured subnet: a node must get its address back when
// it is reconnected after a partition). It tries a few random /24s in
// 172.30.0.0/16 in case one is taken.
func createDockerNetwork(t *testing.T, name, runID string) string {
	t.Helper()
	var last error
	for i := 0; i < 8; i++ {
		prefix := fmt.Sprintf("172.30.%d", 1+mrand.IntN(254))
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_, err := docker(ctx, nil, "network", "create", "--driver", "bridge",
			"--subnet", prefix+".0/24", "--label", dockerLabel+"="+runID, name)
		cancel()
		if err == nil {
			return prefix
		}
		last = err
		if !strings.Contains(err.Error(), "overlap") {
			break
		}
	}
	t.Skipf("docker end-to-end test: cannot create a network: %v", last)
	return ""
}

// startDockerCluster builds the image, creates the network and starts s1,
// s2, s3 (servers, --bootstrap-expect 3) and w1 (--server=false). Cleanup
// removes all of it, even when the test fails; the containers' logs are
// printed first when it did.
func startDockerCluster(t *testing.T, files map[string]string) *dockerCluster {
	return startDockerClusterWith(t, dockerOptions{files: files})
}

// dockerOptions shape a docker cluster: three servers always.
type dockerOptions struct {
	files    map[string]string   // image path -> content
	image    string              // an image built before (buildDockerImage) instead of a new one
	workers  []string            // worker-only agents (default: w1)
	maxTasks int                 // --max-tasks of every agent (default 10)
	lease    time.Duration       // --lease-timeout (default dockerLease)
	beat     time.Duration       // --heartbeat (default dockerHeartbeat)
	run      map[string][]string // more `docker run` options per node (mounts, tmpfs)
	logDir   string              // write every container's whole log there (NAME.log) at the end
	agent    []string            // more agent flags for every agent
}

// startDockerClusterWith is startDockerCluster shaped by o.
func startDockerClusterWith(t *testing.T, o dockerOptions) *dockerCluster {
	t.Helper()
	busybox := dockerUsable(t)
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	id := hex.EncodeToString(rnd[:])
	dc := &dockerCluster{t: t, id: id, image: o.image, logDir: o.logDir, net: dockerPrefix + id, nodes: map[string]*dockerNode{}}
	if len(o.workers) == 0 {
		o.workers = []string{"w1"}
	}
	if o.maxTasks == 0 {
		o.maxTasks = 10
	}
	if o.lease == 0 {
		o.lease, o.beat = dockerLease, dockerHeartbeat
	}

	if dc.image == "" {
		dc.image = "scaleout-e2e:" + id
		start := time.Now()
		buildDockerImage(t, dc.image, id, busybox, o.files)
		t.Cleanup(func() { removeDocker(t, "rmi", "-f", dc.image) })
		t.Logf("image %s built in %s", dc.image, time.Since(start).Round(time.Millisecond))
	}
	dc.prefix = createDockerNetwork(t, dc.net, id)
	t.Cleanup(func() { removeDocker(t, "network", "rm", dc.net) })
	t.Cleanup(dc.removeContainers) // runs before the network's removal

	key := catalog.GenerateKey()
	servers := []string{"s1", "s2", "s3"}
	for i, name := range append(servers, o.workers...) {
		n := &dockerNode{name: name, container: dc.net + "-" + name, ip: fmt.Sprintf("%s.%d", dc.prefix, 11+i), server: i < len(servers)}
		c, err := api.NewClient(api.Config{Address: "http://" + n.ip + ":8391", Caller: "e2e-docker"})
		if err != nil {
			t.Fatal(err)
		}
		n.client = c
		dc.nodes[name] = n
		dc.order = append(dc.order, name)
	}
	for _, name := range dc.order {
		n := dc.nodes[name]
		args := []string{"run", "-d", "--name", n.container, "--hostname", name,
			"--network", dc.net, "--ip", n.ip, "--label", dockerLabel + "=" + id}
		args = append(args, o.run[name]...)
		args = append(args, dc.image, "agent", "--node", name, "--data-dir", "/data",
			"--lease-timeout", o.lease.String(), "--heartbeat", o.beat.String(),
			"--kill-grace", dockerKillGrace.String(), "--max-tasks", strconv.Itoa(o.maxTasks), "--insecure")
		args = append(args, o.agent...)
		if n.server {
			args = append(args, "--bootstrap-expect", "3", "--encrypt-key", key)
		} else {
			args = append(args, "--server=false")
		}
		for _, s := range servers {
			if s != name {
				args = append(args, "--join", dc.nodes[s].ip+":8393")
			}
		}
		mustDocker(t, args...)
	}
	return dc
}

func (dc *dockerCluster) removeContainers() {
	t := dc.t
	if dc.logDir != "" {
		for _, name := range dc.order {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			out, _ := docker(ctx, nil, "logs", dc.nodes[name].container)
			cancel()
			if err := os.WriteFile(filepath.Join(dc.logDir, name+".log"), []byte(out), 0o644); err != nil {
				t.Log(err)
			}
		}
	}
	if t.Failed() {
		for _, name := range dc.order {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			out, _ := docker(ctx, nil, "logs", "--tail", "300", dc.nodes[name].container)
			cancel()
			t.Logf("log of %s:\n%s", name, out)
		}
	}
	for _, name := range dc.order {
		removeDocker(t, "rm", "-f", "-v", dc.nodes[name].container)
	}
}

// removeDocker is a cleanup step: it logs failures instead of failing.
func removeDocker(t *testing.T, args ...string) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if out, err := docker(ctx, nil, args...); err != nil && !strings.Contains(out, "No such") {
		t.Logf("cleanup: %v", err)
	}
}

// node returns the node called name.
func (dc *dockerCluster) node(name string) *dockerNode {
	n := dc.nodes[name]
	if n == nil {
		dc.t.Fatalf("no node %q", name)
	}
	return n
}

// view is what one agent's `members` shows: alive members and the leader.
type view struct {
	alive  []string
	leader string
	err    error
}

func (v view) String() string {
	if v.err != nil {
		return v.err.Error()
	}
	return fmt.Sprintf("alive %v leader %q", v.alive, v.leader)
}

// membersSeenByAll asks every agent for the members: the views in
// dc.order, and what each saw as one line for a failure message.
func (dc *dockerCluster) membersSeenByAll() ([]view, string) {
	var views []view
	var seen []string
	for _, name := range dc.order {
		v := dc.membersSeenBy(name)
		views = append(views, v)
		seen = append(seen, name+": "+v.String())
	}
	return views, strings.Join(seen, "; ")
}

// membersSeenBy asks the agent called via for the members.
func (dc *dockerCluster) membersSeenBy(via string) view {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	list, err := dc.node(via).client.Members(ctx)
	if err != nil {
		return view{err: err}
	}
	var v view
	leaders := 0
	for _, m := range list {
		if m.Status == "alive" {
			v.alive = append(v.alive, m.Name)
		}
		if m.Leader {
			leaders++
			v.leader = m.Name
		}
	}
	if leaders > 1 {
		v.err = fmt.Errorf("%d members flagged leader: %+v", leaders, list)
	}
	return v
}

// execIn runs a command in a node's container (with a deadline) and returns
// its exit code and output; code -1 means docker itself failed.
func (dc *dockerCluster) execIn(name string, timeout time.Duration, args ...string) (int, string) {
	return execInContainer(dc.node(name).container, timeout, args...)
}

// execInContainer runs a command in a container with a deadline and returns
// its exit code and output (-1: docker itself failed).
func execInContainer(container string, timeout time.Duration, args ...string) (int, string) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, "docker", append([]string{"exec", container}, args...)...).CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), string(out)
	}
	if err != nil {
		return -1, err.Error() + ": " + string(out)
	}
	return 0, string(out)
}

// processesIn lists the command lines running in a node's container whose
// command line contains marker.
func (dc *dockerCluster) processesIn(name, marker string) ([]string, error) {
	code, out := dc.execIn(name, 20*time.Second, "ps", "-o", "args")
	if code != 0 {
		return nil, fmt.Errorf("ps in %s: exit %d: %s", name, code, out)
	}
	var found []string
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, marker) && !strings.Contains(line, "ps -o") {
			found = append(found, strings.TrimSpace(line))
		}
	}
	return found, nil
}
