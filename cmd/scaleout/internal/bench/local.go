package bench

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/scaleout/scaleout/api"
)

// agentProc is one `scaleout agent` process that `scaleout bench --local`
// started (and must stop).
type agentProc struct {
	name    string
	api     string
	gossip  string
	cmd     *exec.Cmd
	logPath string
	done    chan struct{}
}

// localCluster is N servers on 127.0.0.1 with temporary data dirs.
type localCluster struct {
	dir    string
	agents []*agentProc
}

var startingLine = regexp.MustCompile(`==> scaleout agent starting: node=(\S+) api=(\S+) gossip=(\S+)`)

// startLocalCluster starts n server agents from the scaleout binary exe,
// bound to loopback only, and waits until every worker is connected to a
// leader. With useACL it then bootstraps the access control lists and
// points this process's API clients at the management token
// (SCALEOUT_TOKEN).
func startLocalCluster(ctx context.Context, exe string, n, maxTasks, coalesceMax int, useTLS, useACL bool, logf func(string, ...any)) (*localCluster, error) {
	key, err := keygen(ctx, exe)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "scaleout-bench-")
	if err != nil {
		return nil, err
	}
	lc := &localCluster{dir: dir}
	sec := localSecurity{}
	if useTLS {
		if sec, err = initTLS(ctx, exe, filepath.Join(dir, "tls"), n); err != nil {
			_ = os.RemoveAll(dir)
			return nil, err
		}
	}
	sec.acl = useACL
	join := ""
	for i := 1; i <= n; i++ {
		name := fmt.Sprintf("b%d", i)
		args := []string{"agent", "--node", name, "--data-dir", filepath.Join(dir, name),
			"--bind", "127.0.0.1", "--http-addr", "127.0.0.1:0", "--raft-port", "0", "--gossip-port", "0",
			"--bootstrap-expect", strconv.Itoa(n), "--encrypt-key", key, "--max-tasks", strconv.Itoa(maxTasks),
			"--drain-timeout", "1s", "--log-level", "warn"}
		args = append(args, sec.agentArgs(name)...)
		if coalesceMax > 0 {
			args = append(args, "--coalesce-max", strconv.Itoa(coalesceMax))
		}
		if join != "" {
			args = append(args, "--join", join)
		}
		a, err := lc.spawn(exe, name, args)
		if err != nil {
			lc.stop()
			return nil, err
		}
		if join == "" {
			join = a.gossip
		}
	}
	logf("started %d agents (pids %s) under %s; waiting for a leader", n, lc.pids(), dir)
	deadline := time.Now().Add(60 * time.Second)
	for {
		ready := 0
		for _, a := range lc.agents {
			if agentLogHas(a.logPath, "==> scaleout agent started") {
				ready++
			}
		}
		if ready == n {
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			lc.stop()
			return nil, fmt.Errorf("only %d of %d agents ready after 60s (logs under %s)", ready, n, dir)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if useACL {
		if err := bootstrapACL(ctx, lc.agents[0].api); err != nil {
			lc.stop()
			return nil, err
		}
		logf("ACLs bootstrapped: the clients use the management token")
	}
	return lc, nil
}

// bootstrapACL runs acl bootstrap through addr (retrying while there is
// no leader yet) and sets SCALEOUT_TOKEN to the management token, which
// this process's API clients then send.
func bootstrapACL(ctx context.Context, addr string) error {
	c, err := api.NewClient(api.Config{Address: addr, NoEnvToken: true})
	if err != nil {
		return err
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		tok, err := c.ACL().Bootstrap(cctx)
		cancel()
		if err == nil {
			return os.Setenv("SCALEOUT_TOKEN", tok.SecretID)
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("acl bootstrap: %w", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// localSecurity is the TLS material of a local cluster (dir empty: none,
// the agents run with --insecure) and whether its ACLs are bootstrapped.
type localSecurity struct {
	dir       string
	gossipKey string
	acl       bool
}

// agentArgs are the security flags of agent name. With TLS but without
// ACLs they include --insecure, which keeps the API open to any client
// certificate (agents with TLS require ACL tokens otherwise): that
// measures TLS alone.
func (s localSecurity) agentArgs(name string) []string {
	if s.dir == "" {
		return []string{"--insecure"}
	}
	args := []string{"--tls-ca", filepath.Join(s.dir, "ca.pem"), "--tls-cert", filepath.Join(s.dir, "server-"+name+".pem"),
		"--tls-key", filepath.Join(s.dir, "server-"+name+"-key.pem"), "--gossip-key", s.gossipKey}
	if !s.acl {
		args = append(args, "--insecure")
	}
	return args
}

// initTLS writes the cluster's certificates with `exe tls init` and points
// this process's API clients at them (the clients read SCALEOUT_CACERT,
// SCALEOUT_CLIENT_CERT and SCALEOUT_CLIENT_KEY when given no TLS files).
func initTLS(ctx context.Context, exe, dir string, n int) (localSecurity, error) {
	var nodes []string
	for i := 1; i <= n; i++ {
		nodes = append(nodes, fmt.Sprintf("b%d", i))
	}
	if out, err := exec.CommandContext(ctx, exe, "tls", "init", "--nodes", strings.Join(nodes, ","), "--dir", dir).CombinedOutput(); err != nil {
		return localSecurity{}, fmt.Errorf("%s tls init: %v: %s", exe, err, out)
	}
	gk, err := os.ReadFile(filepath.Join(dir, "gossip.key"))
	if err != nil {
		return localSecurity{}, err
	}
	for k, v := range map[string]string{"SCALEOUT_CACERT": "ca.pem", "SCALEOUT_CLIENT_CERT": "client-admin.pem", "SCALEOUT_CLIENT_KEY": "client-admin-key.pem"} {
		os.Setenv(k, filepath.Join(dir, v))
	}
	return localSecurity{dir: dir, gossipKey: strings.TrimSpace(string(gk))}, nil
}

// keygen asks the binary for a new encryption key ('scaleout keygen'): the
// servers of one cluster share it.
func keygen(ctx context.Context, exe string) (string, error) {
	out, err := exec.CommandContext(ctx, exe, "keygen").Output()
	if err != nil {
		return "", fmt.Errorf("%s keygen: %w", exe, err)
	}
	return strings.TrimSpace(string(out)), nil
}

func (lc *localCluster) spawn(exe, name string, args []string) (*agentProc, error) {
	logPath := filepath.Join(lc.dir, name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, args...)
	cmd.SysProcAttr = sysProcAttr()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		logFile.Close()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, err
	}
	a := &agentProc{name: name, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	lc.agents = append(lc.agents, a)
	addrs := make(chan []string, 1)
	var once sync.Once
	go func() {
		defer logFile.Close()
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(logFile, line)
			if m := startingLine.FindStringSubmatch(line); m != nil {
				once.Do(func() { addrs <- m[2:] })
			}
		}
	}()
	go func() { _ = cmd.Wait(); close(a.done) }()
	select {
	case m := <-addrs:
		a.api, a.gossip = m[0], m[1]
		return a, nil
	case <-a.done:
		return nil, fmt.Errorf("agent %s exited at start; log: %s", name, logPath)
	case <-time.After(30 * time.Second):
		return nil, fmt.Errorf("agent %s did not start in 30s; log: %s", name, logPath)
	}
}

func agentLogHas(path, s string) bool {
	b, err := os.ReadFile(path)
	return err == nil && strings.Contains(string(b), s)
}

func (lc *localCluster) pids() string {
	var out []string
	for _, a := range lc.agents {
		out = append(out, strconv.Itoa(a.cmd.Process.Pid))
	}
	return strings.Join(out, ",")
}

// addrs returns the API addresses of the agents that are still running.
func (lc *localCluster) addrs() []string {
	var out []string
	for _, a := range lc.agents {
		if a.alive() {
			out = append(out, a.api)
		}
	}
	return out
}

func (a *agentProc) alive() bool {
	select {
	case <-a.done:
		return false
	default:
		return true
	}
}

// byNode finds the agent with node name name.
func (lc *localCluster) byNode(name string) *agentProc {
	for _, a := range lc.agents {
		if a.name == name {
			return a
		}
	}
	return nil
}

// kill9 kills an agent as a crash would.
func (a *agentProc) kill9() {
	_ = a.cmd.Process.Signal(syscall.SIGKILL)
	<-a.done
}

// stop ends every agent (SIGTERM, SIGKILL after 10 s) and removes the data.
func (lc *localCluster) stop() {
	for _, a := range lc.agents {
		if a.alive() {
			_ = a.cmd.Process.Signal(syscall.SIGTERM)
		}
	}
	for _, a := range lc.agents {
		select {
		case <-a.done:
		case <-time.After(10 * time.Second):
			_ = a.cmd.Process.Signal(syscall.SIGKILL)
			<-a.done
		}
	}
	_ = os.RemoveAll(lc.dir)
}

// leader asks the running agents who leads.
func (lc *localCluster) leader(ctx context.Context) (*agentProc, error) {
	for _, addr := range lc.addrs() {
		c, err := api.NewClient(api.Config{Address: addr})
		if err != nil {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		l, err := c.Status().Leader(cctx)
		cancel()
		if err == nil && l.Node != "" {
			if a := lc.byNode(l.Node); a != nil {
				return a, nil
			}
		}
	}
	return nil, fmt.Errorf("no leader known to %v", lc.addrs())
}
