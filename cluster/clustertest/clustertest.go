package clustertest

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/scaleout/scaleout/api"
	"github.com/scaleout/scaleout/catalog"
	"github.com/scaleout/scaleout/cluster/agent"
	"github.com/scaleout/scaleout/cluster/clustertest/poll"
	"github.com/scaleout/scaleout/cluster/tlsutil"
	"github.com/scaleout/scaleout/cluster/worker"
)

const childEnv = "SCALEOUT_CLUSTERTEST_CHILD"

// RunChildOrTests is the body of TestMain: in a child started by a worker it
// runs one attempt, otherwise the tests.
func RunChildOrTests(m *testing.M) int {
	if os.Getenv(childEnv) == "1" {
		return worker.ChildMain(os.Stdin, os.Stdout)
	}
	os.Setenv(childEnv, "1") // inherited by the children the workers start
	return m.Run()
}

// Options shape a test cluster.
type Options struct {
	// Servers is the number of server agents (default 3); Workers the number
	// of worker-only agents.
	Servers int
	Workers int
	// Labels, by node name, for targeting tests.
	Labels map[string]map[string]string
	// LeaseTimeout and Heartbeat (defaults 2 s and 200 ms).
	LeaseTimeout time.Duration
	Heartbeat    time.Duration
	// MaxTasks per worker (default 4).
	MaxTasks int
	// BootstrapExpect for the servers (default: Servers); MaxVoters (default 5).
	BootstrapExpect int
	MaxVoters       int
	// TLS, if set (NewTLS), gives every agent a certificate of its role
	// and every Node.Client a client certificate; else the agents run
	// with Insecure.
	TLS *TLS
	// ACLRequired, with TLS, runs the agents as production does: every
	// request needs an ACL token from the start (secure by default).
	// Without it they also run with Insecure, so their API stays open
	// until acl bootstrap (a client certificate is still needed).
	ACLRequired bool
	// GossipKey, if set, encrypts gossip (base64, as gossip_key).
	GossipKey string
}

// Node is one agent of a test cluster.
type Node struct {
	Name   string
	Agent  *agent.Agent
	Client *api.Client
	dir    string
	cfg    agent.Config
	down   bool
	tls    *api.TLSConfig
}

// Cluster is a set of agents that joined each other.
type Cluster struct {
	t     testing.TB
	Nodes []*Node
	net   *Partitioner
	// last is the configuration of the last node NewCluster started,
	// the template of AddNode.
	last agent.Config
	tls  *TLS
}

// AddNode starts one more agent that joins the cluster, configured as the
// last of NewCluster's agents (its TLS files included) with the name,
// role and data dir changed and then edit applied (a test gives it a
// foreign certificate, another gossip key). It does not wait for the
// agent's worker; agent.New's error is returned.
func (c *Cluster) AddNode(name string, server bool, edit func(*agent.Config)) (*Node, error) {
	c.t.Helper()
	cfg := c.last
	cfg.Node = name
	cfg.DataDir = c.t.TempDir()
	cfg.Server = server
	cfg.BootstrapExpect = 0
	cfg.Join = []string{c.Nodes[0].Agent.GossipAddr()}
	cfg.RaftDialer = c.net.Dialer(name)
	cfg.GossipTransport = c.net.GossipTransport(name)
	if c.tls != nil {
		role := tlsutil.RoleServer
		if !server {
			role = tlsutil.RoleWorker
		}
		cfg.TLSCert, cfg.TLSKey = c.tls.Issue(c.t, role, name)
	}
	if edit != nil {
		edit(&cfg)
	}
	n := &Node{Name: name, dir: cfg.DataDir, cfg: cfg}
	c.net.Register(name, "")
	a, err := agent.New(cfg)
	if err != nil {
		return nil, err
	}
	c.t.Cleanup(a.Shutdown)
	n.Agent = a
	return n, nil
}

// NewCluster starts the agents and waits until a leader is elected and every
// worker is connected.
func NewCluster(t testing.TB, o Options) *Cluster {
	t.Helper()
	if o.Servers == 0 {
		o.Servers = 3
	}
	if o.LeaseTimeout == 0 {
		o.LeaseTimeout = 2 * time.Second
	}
	if o.Heartbeat == 0 {
		o.Heartbeat = 200 * time.Millisecond
	}
	if o.MaxTasks == 0 {
		o.MaxTasks = 4
	}
	c := &Cluster{t: t, net: NewPartitioner(), tls: o.TLS}
	logs := newTestWriter(t)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// Every server seals sensitive values with the same key.
	key, err := catalog.ParseKey(catalog.GenerateKey())
	if err != nil {
		t.Fatal(err)
	}
	cipher, err := catalog.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < o.Servers+o.Workers; i++ {
		server := i < o.Servers
		name := fmt.Sprintf("s%d", i+1)
		if !server {
			name = fmt.Sprintf("w%d", i-o.Servers+1)
		}
		cfg := agent.DefaultConfig()
		cfg.Node = name
		cfg.DataDir = t.TempDir()
		cfg.Server = server
		cfg.HTTPAddr = "127.0.0.1:0"
		cfg.Bind = "127.0.0.1"
		cfg.RaftPort, cfg.GossipPort = 0, 0
		cfg.FastTimings = true
		cfg.Insecure = !o.TLS.on() || !o.ACLRequired
		if server {
			cfg.BootstrapExpect = o.Servers
			if o.BootstrapExpect > 0 {
				cfg.BootstrapExpect = o.BootstrapExpect
			}
		}
		if o.MaxVoters > 0 {
			cfg.MaxVoters = o.MaxVoters
		}
		if i > 0 {
			cfg.Join = []string{c.Nodes[0].Agent.GossipAddr()}
		}
		cfg.Labels = o.Labels[name]
		cfg.MaxTasks = o.MaxTasks
		cfg.LeaseTimeout = o.LeaseTimeout
		cfg.Heartbeat = o.Heartbeat
		cfg.KillGrace = time.Second
		cfg.DrainTimeout = 2 * time.Second
		cfg.DeadServerGrace = time.Hour
		cfg.ExecCommand = []string{exe}
		cfg.TaskEnvAllow = []string{childEnv} // the re-executed test binary must see it
		cfg.Logger = hclog.New(&hclog.LoggerOptions{Name: name, Level: hclog.Info, Output: logs})
		cfg.RaftDialer = c.net.Dialer(name)
		cfg.GossipTransport = c.net.GossipTransport(name)
		cfg.Catalog.Cipher = cipher
		cfg.GossipKey = o.GossipKey
		c.last = cfg
		n := &Node{Name: name, dir: cfg.DataDir, cfg: cfg}
		if o.TLS != nil {
			role := tlsutil.RoleServer
			if !server {
				role = tlsutil.RoleWorker
			}
			cfg.TLSCA = o.TLS.CA
			cfg.TLSCert, cfg.TLSKey = o.TLS.Issue(t, role, name)
			cfg.TLSWatchInterval = 200 * time.Millisecond
			n.cfg = cfg
			c.last = cfg
			n.tls = o.TLS.ClientTLS(t, "test-"+name)
		}
		c.start(n)
		c.Nodes = append(c.Nodes, n)
	}
	t.Cleanup(func() {
		var wg sync.WaitGroup
		for _, n := range c.Nodes {
			if !n.down {
				wg.Add(1)
				go func(n *Node) { defer wg.Done(); n.Agent.Shutdown() }(n)
			}
		}
		wg.Wait()
	})
	c.WaitForLeader()
	for _, n := range c.Nodes {
		select {
		case <-n.Agent.Ready():
		case <-time.After(30 * time.Second):
			t.Fatalf("worker of %s not connected after 30s", n.Name)
		}
	}
	return c
}

func (c *Cluster) start(n *Node) {
	c.t.Helper()
	c.net.Register(n.Name, "") // raft address is known after start
	a, err := agent.New(n.cfg)
	if err != nil {
		c.t.Fatalf("start %s: %v", n.Name, err)
	}
	if n.cfg.Server {
		c.net.Register(n.Name, a.Cluster().RaftAddr())
	}
	c.net.Register(n.Name, a.GossipAddr())
	n.Agent = a
	n.down = false
	n.Client, err = api.NewClient(api.Config{Address: a.APIAddr(), Caller: "test", TLS: n.tls})
	if err != nil {
		c.t.Fatal(err)
	}
}

// testWriter routes logs to t.Log until the test ends; background
// goroutines (a memberlist probe finishing after Shutdown) may log later,
// which t.Log does not allow.
type testWriter struct {
	t    testing.TB
	done *atomic.Bool
}

func newTestWriter(t testing.TB) testWriter {
	w := testWriter{t: t, done: new(atomic.Bool)}
	t.Cleanup(func() { w.done.Store(true) }) // registered first, so it runs after the shutdowns
	return w
}

func (w testWriter) Write(p []byte) (int, error) {
	if !w.done.Load() {
		w.t.Log(strings.TrimSuffix(string(p), "\n"))
	}
	return len(p), nil
}

// Node returns the node called name.
func (c *Cluster) Node(name string) *Node {
	for _, n := range c.Nodes {
		if n.Name == name {
			return n
		}
	}
	c.t.Fatalf("no node %s", name)
	return nil
}

// Leader returns the node that leads, or nil.
func (c *Cluster) Leader() *Node {
	for _, n := range c.Nodes {
		if !n.down && n.Agent.Cluster().IsLeader() {
			return n
		}
	}
	return nil
}

// Followers returns the live servers that do not lead.
func (c *Cluster) Followers() []*Node {
	var out []*Node
	for _, n := range c.Nodes {
		if !n.down && n.cfg.Server && !n.Agent.Cluster().IsLeader() {
			out = append(out, n)
		}
	}
	return out
}

// WaitForLeader waits until exactly one live server leads and every live
// server agrees on it.
func (c *Cluster) WaitForLeader() *Node {
	c.t.Helper()
	var leader *Node
	WaitFor(c.t, 30*time.Second, "a leader every live server agrees on", func() (bool, string) {
		leader = c.Leader()
		if leader == nil {
			return false, "no leader"
		}
		for _, n := range c.Nodes {
			if n.down || !n.cfg.Server {
				continue
			}
			li, err := n.Agent.Cluster().Leader()
			if err != nil || li.Node != leader.Name || li.API == "" {
				return false, fmt.Sprintf("%s sees leader %+v (%v)", n.Name, li, err)
			}
		}
		return true, ""
	})
	return leader
}

// WaitForNewLeader waits for a leader other than old.
func (c *Cluster) WaitForNewLeader(old *Node) *Node {
	c.t.Helper()
	var leader *Node
	WaitFor(c.t, 30*time.Second, "a new leader", func() (bool, string) {
		leader = c.Leader()
		return leader != nil && leader != old, fmt.Sprint(leader)
	})
	return c.WaitForLeader()
}

// Kill stops a node abruptly (agent.Crash: no drain, no leave, no reports),
// as close to kill -9 as one process allows.
func (c *Cluster) Kill(n *Node) {
	c.net.Isolate(n.Name) // nothing it says after this point reaches the other servers
	n.Agent.Crash()
	n.down = true
	c.net.Heal(n.Name)
}

// Leave makes a node leave gracefully (drain, leadership transfer, gossip
// leave) and stop.
func (c *Cluster) Leave(n *Node) {
	n.Agent.Leave()
	n.down = true
}

// Partition cuts Raft and gossip traffic between the named nodes and the rest.
func (c *Cluster) Partition(names ...string) { c.net.Partition(names...) }

// Heal restores every link.
func (c *Cluster) Heal() { c.net.HealAll() }

// WaitFor polls cond until it holds or timeout passes, then fails the test
// with what it saw last (see poll.Until).
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	poll.Until(t, timeout, what, cond)
}

// Ctx returns a context that ends after d or with the test.
func Ctx(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
