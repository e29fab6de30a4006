package cluster

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/memberlist"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"github.com/scaleout/scaleout/catalog"
	"github.com/scaleout/scaleout/catalog/service"
	"github.com/scaleout/scaleout/fsm"
)

// Sentinel errors. The first four are package service's, so that the API
// layer can map them to status codes without importing cluster (and Raft).
var (
	// ErrNotLeader means the command must be sent to the leader.
	ErrNotLeader = service.ErrNotLeader
	// ErrNoLeader means the cluster has no leader at the moment.
	ErrNoLeader = service.ErrNoLeader
	// ErrShutdown means the cluster is shutting down.
	ErrShutdown = service.ErrShutdown
	// ErrUnknownPeer means the named server is not in the Raft configuration.
	ErrUnknownPeer = service.ErrUnknownPeer
	// ErrNotServer means the call needs Raft state and this agent is a
	// worker-only agent.
	ErrNotServer = errors.New("this agent is not a server")
)

// Config configures the cluster side of an agent: gossip for every agent,
// Raft for servers.
type Config struct {
	// NodeName is the node's name in gossip and its Raft id. Required.
	NodeName string
	// DataDir holds raft/ (log, stable store, snapshots) and catalog.db. Required.
	DataDir string
	// Server makes this agent a Raft server; false is a worker-only agent.
	Server bool
	// RaftBind is the host:port the Raft transport listens on ("127.0.0.1:0"
	// picks a free port).
	RaftBind string
	// RaftAdvertise is the address other servers dial; defaults to the
	// listener's address.
	RaftAdvertise string
	// GossipBind and GossipPort are where memberlist listens (port 0 picks
	// a free one); GossipAdvertise is the address others use (default: the
	// bind address, or a private address of this host when bound to 0.0.0.0).
	GossipBind      string
	GossipPort      int
	GossipAdvertise string
	// LocalGossip uses tight loopback gossip timings (dev mode and tests).
	LocalGossip bool
	// Join lists gossip addresses (host:port) of agents to join; retried
	// until one answers.
	Join []string
	// APIAddr is this agent's HTTP API URL, gossiped to the others.
	APIAddr string
	// Labels are gossiped with the node.
	Labels map[string]string
	// Version is gossiped with the node.
	Version string
	// KeyID identifies the server's encryption key; gossiped so that a
	// server with another key is reported.
	KeyID string
	// Bootstrap makes this server bootstrap a one-server cluster if it has no
	// Raft state yet (dev mode).
	Bootstrap bool
	// BootstrapExpect makes the servers bootstrap together once this many of
	// them see each other through gossip (0: never bootstrap; join an
	// existing cluster instead).
	BootstrapExpect int
	// MaxVoters caps the Raft voters; further servers join as non-voters.
	MaxVoters int
	// DeadServerGrace is how long a failed server stays in the Raft
	// configuration before the leader removes it.
	DeadServerGrace time.Duration
	// ReconcileInterval is how often the leader aligns the Raft
	// configuration with gossip.
	ReconcileInterval time.Duration
	// HeartbeatTimeout, ElectionTimeout, LeaderLeaseTimeout and
	// CommitTimeout are the Raft timings.
	HeartbeatTimeout   time.Duration
	ElectionTimeout    time.Duration
	LeaderLeaseTimeout time.Duration
	CommitTimeout      time.Duration
	// SnapshotThreshold is the number of log entries after which a snapshot
	// is taken; SnapshotInterval how often that is checked.
	SnapshotThreshold uint64
	SnapshotInterval  time.Duration
	// ApplyTimeout bounds a single Apply that has no context deadline.
	ApplyTimeout time.Duration
	// ReconnectInterval is how often gossip tries to join a member it holds
	// as failed, so that views split by a partition merge again.
	ReconnectInterval time.Duration
	// Dialer, if set, wraps every outgoing Raft connection (tests use it
	// to cut the network between servers).
	Dialer func(addr string, timeout time.Duration) (net.Conn, error)
	// GossipTransport, if set, wraps gossip's network transport (tests use
	// it to cut gossip as well).
	GossipTransport func(memberlist.NodeAwareTransport) memberlist.NodeAwareTransport
	// RaftTLSServer and RaftTLSClient, if set, make the Raft transport
	// speak TLS (both or neither): the listener's and the dialer's
	// configurations, which must verify that the peer holds a server
	// certificate of the cluster CA (tlsutil).
	RaftTLSServer *tls.Config
	RaftTLSClient *tls.Config
	// GossipKey, if set, encrypts gossip (memberlist's AES-GCM; 16, 24 or
	// 32 bytes) unless the data dir already holds a keyring (a rotation
	// made with KeyringInstall/Use/Remove survives a restart). An agent
	// with a keyring but no GossipKey keeps encrypting.
	GossipKey []byte
	// PeerClient asks other agents, by their API address, for their Raft
	// peers (bootstrap) and their leader (worker-only agents). Required for
	// servers with BootstrapExpect > 0 and for worker-only agents.
	PeerClient PeerClient
	// Logger receives Raft and cluster logs.
	Logger hclog.Logger
	// ObserveApply, if set, is told how long each Apply took from proposal
	// to the FSM's answer on this leader (metrics; must not block).
	ObserveApply func(t fsm.MessageType, d time.Duration)
	// OperationRetention is how long the operations log keeps an entry
	// (the executions' retention; 0: only its size bounds it).
	OperationRetention time.Duration

	// logStoreHook, if set, sees raft.db's store before raft starts (tests
	// inject disk failures through it).
	logStoreHook func(*logStore)

	// ACLRequired is gossiped (NodeMeta.ACL): this agent runs with TLS and
	// without --insecure, and the leader turns the cluster's acl_required
	// setting on when any alive server says so.
	ACLRequired bool
}

// DefaultConfig returns production timings: a server that bootstraps
// nothing on its own.
func DefaultConfig() Config {
	return Config{
		Server:             true,
		RaftBind:           "0.0.0.0:8392",
		GossipBind:         "0.0.0.0",
		GossipPort:         8393,
		MaxVoters:          5,
		DeadServerGrace:    10 * time.Minute,
		ReconcileInterval:  time.Second,
		ReconnectInterval:  10 * time.Second,
		HeartbeatTimeout:   1000 * time.Millisecond,
		ElectionTimeout:    1000 * time.Millisecond,
		LeaderLeaseTimeout: 500 * time.Millisecond,
		CommitTimeout:      20 * time.Millisecond,
		SnapshotThreshold:  8192,
		SnapshotInterval:   30 * time.Second,
		ApplyTimeout:       10 * time.Second,
	}
}

// DevConfig returns DefaultConfig with loopback binding, a one-server
// bootstrap and tight timings.
func DevConfig() Config {
	c := DefaultConfig()
	c.RaftBind = "127.0.0.1:0"
	c.GossipBind = "127.0.0.1"
	c.GossipPort = 0
	c.LocalGossip = true
	c.Bootstrap = true
	c.HeartbeatTimeout = 200 * time.Millisecond
	c.ElectionTimeout = 200 * time.Millisecond
	c.LeaderLeaseTimeout = 100 * time.Millisecond
	c.CommitTimeout = 5 * time.Millisecond
	return c
}

// Validate reports the first problem with c.
func (c *Config) Validate() error {
	switch {
	case c.NodeName == "":
		return errors.New("node name is empty")
	case c.DataDir == "":
		return errors.New("data dir is empty")
	case c.Server && c.RaftBind == "":
		return errors.New("raft bind address is empty")
	case c.ApplyTimeout <= 0:
		return errors.New("apply timeout must be positive")
	case c.BootstrapExpect < 0:
		return fmt.Errorf("bootstrap-expect must not be negative (got %d)", c.BootstrapExpect)
	case !c.Server && (c.BootstrapExpect > 0 || c.Bootstrap):
		return errors.New("a worker-only agent (server=false) cannot bootstrap a cluster")
	case c.MaxVoters < 1:
		return fmt.Errorf("max voters must be at least 1 (got %d)", c.MaxVoters)
	case c.BootstrapExpect > c.MaxVoters:
		return fmt.Errorf("bootstrap-expect %d is more than max voters %d", c.BootstrapExpect, c.MaxVoters)
	case c.ReconcileInterval <= 0 || c.DeadServerGrace <= 0 || c.ReconnectInterval <= 0:
		return errors.New("reconcile interval, reconnect interval and dead server grace must be positive")
	case c.GossipPort < 0 || c.GossipPort > 65535:
		return fmt.Errorf("gossip port %d out of range", c.GossipPort)
	case (c.RaftTLSServer == nil) != (c.RaftTLSClient == nil):
		return errors.New("raft TLS needs both a listener and a dialer configuration")
	case c.PeerClient == nil && (c.BootstrapExpect > 0 || !c.Server):
		return errors.New("a peer client is required to bootstrap with other servers or to run worker-only")
	}
	return nil
}

// Cluster is one agent's view of the cluster: gossip membership for every
// agent, plus, on servers, a Raft node with its FSM and catalog store.
type Cluster struct {
	cfg    Config
	logger hclog.Logger
	mem    *membership

	// Server only.
	raft      *raft.Raft
	fsm       *fsm.FSM
	store     *catalog.Store
	logStore  *logStore
	snaps     raft.SnapshotStore
	transport *raft.NetworkTransport
	layer     *streamLayer
	leaderCh  chan bool
	// refused holds when a server that failed the Raft TLS check was last
	// logged (reconcile loop only).
	refused map[string]time.Time
	// keyring is gossip's keyring (its ring is nil without encryption).
	keyring *keyring

	// Worker-only agents learn the leader from the servers.
	leaderMu    sync.Mutex
	leaderCache LeaderInfo
	leaderAt    time.Time

	stop         chan struct{}
	wg           sync.WaitGroup
	shutdownOnce sync.Once
	// transferring is set while an unhealthy leader hands leadership away.
	transferring atomic.Bool
	ops          opsGate // operations.go
}

// New starts gossip and, on servers, Raft.
func New(cfg Config) (*Cluster, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("cluster config: %w", err)
	}
	logger := cfg.Logger
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, err
	}
	c := &Cluster{cfg: cfg, logger: logger.Named("cluster"), leaderCh: make(chan bool, 16), stop: make(chan struct{}), refused: map[string]time.Time{}}
	ok := false
	defer func() {
		if !ok {
			c.closeAll()
		}
	}()

	meta := NodeMeta{Role: RoleWorker, API: cfg.APIAddr, Version: cfg.Version, Labels: cfg.Labels, Ops: opsLevel}
	if cfg.Server {
		if err := c.startRaft(logger); err != nil {
			return nil, err
		}
		meta.Role = RoleServer
		meta.Raft = string(c.transport.LocalAddr())
		meta.Expect = cfg.BootstrapExpect
		meta.KeyID = cfg.KeyID
		meta.ACL = cfg.ACLRequired
	}
	keyring, warn, err := openKeyring(cfg.DataDir, cfg.GossipKey)
	if err != nil {
		return nil, err
	}
	if warn != "" {
		c.logger.Warn(warn, "keyring", keyring.path)
	}
	c.keyring = keyring
	c.mem, err = newMembership(MemberConfig{
		NodeName: cfg.NodeName, BindAddr: cfg.GossipBind, BindPort: cfg.GossipPort,
		AdvertiseAddr: cfg.GossipAdvertise, AdvertisePort: cfg.GossipPort,
		Meta: meta, Local: cfg.LocalGossip, WrapTransport: cfg.GossipTransport, Logger: logger,
		Keyring: keyring.ring,
	})
	if err != nil {
		return nil, err
	}
	ok = true
	// Not in c.wg: a join to a failed member may wait for a TCP timeout,
	// which must not hold up Shutdown; the loop ends when stop is closed.
	go c.mem.reconnect(cfg.ReconnectInterval, c.stop)

	if cfg.Server {
		if cfg.Bootstrap {
			if err := c.bootstrapSelf(); err != nil {
				c.Shutdown()
				return nil, err
			}
		} else if cfg.BootstrapExpect > 0 {
			c.wg.Add(1)
			go func() { defer c.wg.Done(); c.bootstrapWhenExpected() }()
		}
		c.wg.Add(1)
		go func() { defer c.wg.Done(); c.reconcileLoop() }()
	}
	if len(cfg.Join) > 0 {
		c.wg.Add(1)
		go func() { defer c.wg.Done(); c.mem.join(cfg.Join, c.stop) }()
	}
	return c, nil
}

func (c *Cluster) startRaft(logger hclog.Logger) error {
	cfg := c.cfg
	raftDir := filepath.Join(cfg.DataDir, "raft")
	if err := os.MkdirAll(raftDir, 0o700); err != nil {
		return err
	}
	var err error
	c.store, err = openCatalog(filepath.Join(cfg.DataDir, "catalog.db"), c.logger)
	if err != nil {
		return err
	}
	c.fsm = fsm.New(c.store, logger)
	bs, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(raftDir, "raft.db")})
	if err != nil {
		return fmt.Errorf("open raft log: %w", err)
	}
	c.logStore = newLogStore(bs)
	if cfg.logStoreHook != nil {
		cfg.logStoreHook(c.logStore)
	}
	c.snaps, err = raft.NewFileSnapshotStoreWithLogger(raftDir, 2, logger.Named("snapshot"))
	if err != nil {
		return fmt.Errorf("open snapshot store: %w", err)
	}
	if c.transport, c.layer, err = newTransport(cfg, logger); err != nil {
		return err
	}

	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(cfg.NodeName)
	rc.HeartbeatTimeout = cfg.HeartbeatTimeout
	rc.ElectionTimeout = cfg.ElectionTimeout
	rc.LeaderLeaseTimeout = cfg.LeaderLeaseTimeout
	rc.CommitTimeout = cfg.CommitTimeout
	rc.SnapshotThreshold = cfg.SnapshotThreshold
	rc.SnapshotInterval = cfg.SnapshotInterval
	rc.BatchApplyCh = true
	rc.MaxAppendEntries = 256
	rc.NotifyCh = c.leaderCh
	// A server removed from the configuration (say, after a long
	// partition) keeps running so that the leader can add it back.
	rc.ShutdownOnRemove = false
	rc.Logger = logger.Named("raft")
	// The catalog store is only fsync'd by the Raft log. If it already holds
	// everything the newest snapshot holds, raft need not restore that
	// snapshot at start: replay from the snapshot index skips what the store
	// has applied. Otherwise (lost writes after a power cut, or a fresh
	// store) the snapshot is restored and the log replayed on top of it.
	rc.NoSnapshotRestoreOnStart, err = storeCoversSnapshot(c.store, c.snaps)
	if err != nil {
		return err
	}
	c.raft, err = raft.NewRaft(rc, c.fsm, c.logStore, c.logStore, c.snaps, c.transport)
	if err != nil {
		return fmt.Errorf("start raft: %w", err)
	}
	return nil
}

func (c *Cluster) bootstrapSelf() error {
	has, err := raft.HasExistingState(c.logStore, c.logStore, c.snaps)
	if err != nil || has {
		return err
	}
	f := c.raft.BootstrapCluster(raft.Configuration{Servers: []raft.Server{{
		Suffrage: raft.Voter, ID: raft.ServerID(c.cfg.NodeName), Address: c.transport.LocalAddr(),
	}}})
	if err := f.Error(); err != nil && !errors.Is(err, raft.ErrCantBootstrap) {
		return fmt.Errorf("bootstrap: %w", err)
	}
	return nil
}

// openCatalog opens the catalog; a file that bbolt cannot open is moved aside
// (the snapshot and log rebuild it) instead of stopping the server.
func openCatalog(path string, logger hclog.Logger) (*catalog.Store, error) {
	st, err := catalog.Open(path, catalog.Options{NoSync: true})
	if err == nil {
		return st, nil
	}
	if _, statErr := os.Stat(path); statErr != nil {
		return nil, err
	}
	aside := fmt.Sprintf("%s.corrupt-%d", path, time.Now().UnixNano())
	logger.Error("catalog file unreadable; rebuilding it from the Raft snapshot and log", "error", err, "moved_to", aside)
	if rerr := os.Rename(path, aside); rerr != nil {
		return nil, fmt.Errorf("%w (and moving it aside failed: %v)", err, rerr)
	}
	return catalog.Open(path, catalog.Options{NoSync: true})
}

func storeCoversSnapshot(st *catalog.Store, snaps raft.SnapshotStore) (bool, error) {
	metas, err := snaps.List()
	if err != nil {
		return false, fmt.Errorf("list snapshots: %w", err)
	}
	if len(metas) == 0 {
		return true, nil
	}
	applied, _, err := st.Applied()
	if err != nil {
		return false, err
	}
	return applied >= metas[0].Index, nil
}

// IsServer reports whether this agent holds Raft state.
func (c *Cluster) IsServer() bool { return c.cfg.Server }

// FSM returns the state machine (nil on worker-only agents).
func (c *Cluster) FSM() *fsm.FSM { return c.fsm }

// Store returns the catalog store (read-only use: every write goes through
// Apply; nil on worker-only agents).
func (c *Cluster) Store() *catalog.Store { return c.store }

// NodeName returns this agent's name.
func (c *Cluster) NodeName() string { return c.cfg.NodeName }

// RaftAddr returns the address of this server's Raft transport.
func (c *Cluster) RaftAddr() string {
	if c.transport == nil {
		return ""
	}
	return string(c.transport.LocalAddr())
}

// GossipAddr returns the host:port others join this agent at.
func (c *Cluster) GossipAddr() string { return c.mem.localAddr() }

// LeaderCh delivers true when this server becomes leader and false when it
// stops being leader. It has one consumer: the master loop.
func (c *Cluster) LeaderCh() <-chan bool { return c.leaderCh }

// IsLeader reports whether this server is the leader.
func (c *Cluster) IsLeader() bool { return c.raft != nil && c.raft.State() == raft.Leader }

// LeaderInfo names the current leader.
type LeaderInfo struct {
	Node     string
	RaftAddr string
	API      string
}

// Leader returns the current leader, or ErrNoLeader. Servers know it from
// Raft; worker-only agents ask an alive server (cached for a second).
func (c *Cluster) Leader() (LeaderInfo, error) {
	if c.raft == nil {
		return c.leaderFromServers()
	}
	addr, id := c.raft.LeaderWithID()
	if id == "" {
		return LeaderInfo{}, ErrNoLeader
	}
	li := LeaderInfo{Node: string(id), RaftAddr: string(addr)}
	if string(id) == c.cfg.NodeName {
		li.API = c.cfg.APIAddr
	} else if m, ok := c.mem.member(string(id)); ok {
		li.API = m.Meta.API
	}
	return li, nil
}

// Servers returns the API addresses of the alive servers (not this agent).
func (c *Cluster) Servers() []string {
	var out []string
	for _, m := range c.mem.list() {
		if m.Meta.Role == RoleServer && m.Status == StatusAlive && m.Name != c.cfg.NodeName && m.Meta.API != "" {
			out = append(out, m.Meta.API)
		}
	}
	return out
}

// WaitForLeader blocks until a leader is known or ctx ends.
func (c *Cluster) WaitForLeader(ctx context.Context) (LeaderInfo, error) {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		if li, err := c.Leader(); err == nil {
			return li, nil
		}
		select {
		case <-ctx.Done():
			return LeaderInfo{}, fmt.Errorf("waiting for a leader: %w", ctx.Err())
		case <-t.C:
		}
	}
}

// Members lists every agent gossip has seen, sorted by name.
func (c *Cluster) Members() []Member { return c.mem.list() }

// MemberEvents delivers members that gossip declared failed or left. It has
// one consumer: the master loop.
func (c *Cluster) MemberEvents() <-chan Member { return c.mem.events }

// Apply replicates one command and returns the FSM's response. A business
// error returned by the applier is returned as err; index is the entry's Raft
// index.
func (c *Cluster) Apply(ctx context.Context, t fsm.MessageType, msg any) (any, uint64, error) {
	if c.raft == nil {
		return nil, 0, ErrNotServer
	}
	if err := c.storageHealthy(); err != nil {
		return nil, 0, err
	}
	buf, err := c.encode(ctx, t, msg)
	if err != nil {
		return nil, 0, err
	}
	if len(buf) > catalog.MaxCommandBytes {
		return nil, 0, fmt.Errorf("%w: %s command is %d bytes, over the limit of %d bytes per Raft command", catalog.ErrTooLarge, t, len(buf), catalog.MaxCommandBytes)
	}
	timeout, err := c.timeout(ctx)
	if err != nil {
		return nil, 0, err
	}
	start := time.Now()
	failing := c.fsm.Failing()
	f := c.raft.Apply(buf, timeout)
	if err := c.wait(f, failing); err != nil {
		return nil, 0, err
	}
	if c.cfg.ObserveApply != nil {
		c.cfg.ObserveApply(t, time.Since(start))
	}
	resp := f.Response()
	if err, ok := resp.(error); ok {
		return nil, f.Index(), err
	}
	return resp, f.Index(), nil
}

// wait waits for a proposed entry to be applied here. If this server's
// store starts failing meanwhile (failing: fsm.Failing, taken before the
// proposal), the entry would not be answered until the disk recovers: the
// writer is told now, with ErrStorage (507) saying that the outcome is
// unknown, as after a timeout.
func (c *Cluster) wait(f raft.Future, failing <-chan struct{}) error {
	done := make(chan error, 1)
	go func() { done <- f.Error() }() // ends when the entry is applied or raft shuts down
	select {
	case err := <-done:
		if err != nil {
			return translate(err)
		}
		return nil
	case <-failing:
		h := c.fsm.Health()
		return fmt.Errorf("%w on server %s: %v; the write was proposed but this server cannot apply it now: "+
			"it takes effect if it was committed (applied by the other servers, and here once the storage recovers); check before repeating it",
			catalog.ErrStorage, c.cfg.NodeName, h.Err)
	}
}

func (c *Cluster) timeout(ctx context.Context) (time.Duration, error) {
	timeout := c.cfg.ApplyTimeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
		if timeout <= 0 {
			return 0, ctx.Err()
		}
	}
	return timeout, nil
}

func translate(err error) error {
	switch {
	case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrLeadershipLost), errors.Is(err, raft.ErrLeadershipTransferInProgress):
		return fmt.Errorf("%w: %v", ErrNotLeader, err)
	case errors.Is(err, raft.ErrRaftShutdown):
		return ErrShutdown
	case errors.Is(err, raft.ErrEnqueueTimeout):
		return fmt.Errorf("%w: %v", ErrNoLeader, err)
	}
	return err
}

// Barrier waits until every entry committed before it is applied locally
// (leader only).
func (c *Cluster) Barrier(ctx context.Context) error {
	if c.raft == nil {
		return ErrNotServer
	}
	timeout, err := c.timeout(ctx)
	if err != nil {
		return err
	}
	// Unlike Apply, a barrier keeps waiting while the store fails: the
	// master's barrier after an election retries at once on an error.
	if err := c.raft.Barrier(timeout).Error(); err != nil {
		return translate(err)
	}
	return nil
}

// Snapshot takes a Raft snapshot now (and lets raft compact the log).
func (c *Cluster) Snapshot() error {
	if c.raft == nil {
		return ErrNotServer
	}
	return c.raft.Snapshot().Error()
}

// Shutdown stops gossip and Raft and closes every store. It is safe to call
// twice.
func (c *Cluster) Shutdown() error {
	var err error
	c.shutdownOnce.Do(func() {
		close(c.stop)
		c.wg.Wait()
		if c.fsm != nil {
			c.fsm.Close() // a retry loop on a failing disk must not hold up raft's shutdown
		}
		if c.raft != nil {
			c.logStore.stopWaiting() // a term write waiting for the disk must not hold it up either
			err = c.raft.Shutdown().Error()
		}
		c.closeAll()
	})
	return err
}

func (c *Cluster) closeAll() {
	if c.mem != nil {
		_ = c.mem.shutdown()
	}
	if c.transport != nil {
		_ = c.transport.Close()
	}
	if c.logStore != nil {
		_ = c.logStore.Close()
	}
	if c.store != nil {
		// A clean stop flushes the catalog so the next start replays nothing.
		_ = c.store.Sync()
		_ = c.store.Close()
	}
}
