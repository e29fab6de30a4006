package cluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"github.com/scaleout/scaleout/catalog"
	"github.com/scaleout/scaleout/fsm"
)

// Sentinel errors.
var (
	// ErrNotLeader means the command must be sent to the leader.
	ErrNotLeader = errors.New("not the leader")
	// ErrNoLeader means the cluster has no leader at the moment.
	ErrNoLeader = errors.New("no leader elected")
	// ErrShutdown means the cluster is shutting down.
	ErrShutdown = errors.New("cluster is shutting down")
)

// Config configures the Raft side of an agent.
type Config struct {
	// NodeName is this server's Raft id and node name. Required.
	NodeName string
	// DataDir holds raft/ (log, stable store, snapshots) and catalog.db. Required.
	DataDir string
	// RaftBind is the host:port the Raft transport listens on ("127.0.0.1:0"
	// picks a free port).
	RaftBind string
	// RaftAdvertise is the address other servers dial; defaults to the
	// listener's address.
	RaftAdvertise string
	// APIAddr is this agent's HTTP API URL, reported when this node leads.
	APIAddr string
	// Bootstrap makes this server bootstrap a one-server cluster if it has no
	// Raft state yet (dev mode).
	Bootstrap bool
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
	// Logger receives Raft and cluster logs.
	Logger hclog.Logger
}

// DefaultConfig returns production timings.
func DefaultConfig() Config {
	return Config{
		RaftBind:           "0.0.0.0:8392",
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
	case c.RaftBind == "":
		return errors.New("raft bind address is empty")
	case c.ApplyTimeout <= 0:
		return errors.New("apply timeout must be positive")
	}
	return nil
}

// Cluster is one server's Raft node with its FSM and catalog store.
type Cluster struct {
	cfg       Config
	logger    hclog.Logger
	raft      *raft.Raft
	fsm       *fsm.FSM
	store     *catalog.Store
	logStore  *raftboltdb.BoltStore
	transport *raft.NetworkTransport

	leaderCh chan bool

	mu       sync.RWMutex
	peerAPIs map[raft.ServerID]string // Raft id -> API address of servers we know

	shutdownOnce sync.Once
}

// New opens (or creates) the server's state under cfg.DataDir and starts Raft.
func New(cfg Config) (*Cluster, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("cluster config: %w", err)
	}
	logger := cfg.Logger
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	raftDir := filepath.Join(cfg.DataDir, "raft")
	if err := os.MkdirAll(raftDir, 0o700); err != nil {
		return nil, err
	}
	c := &Cluster{cfg: cfg, logger: logger.Named("cluster"), leaderCh: make(chan bool, 16),
		peerAPIs: map[raft.ServerID]string{raft.ServerID(cfg.NodeName): cfg.APIAddr}}

	ok := false
	defer func() {
		if !ok {
			if c.transport != nil {
				_ = c.transport.Close()
			}
			c.closeStores()
		}
	}()

	var err error
	c.store, err = openCatalog(filepath.Join(cfg.DataDir, "catalog.db"), c.logger)
	if err != nil {
		return nil, err
	}
	c.fsm = fsm.New(c.store, logger)

	c.logStore, err = raftboltdb.New(raftboltdb.Options{Path: filepath.Join(raftDir, "raft.db")})
	if err != nil {
		return nil, fmt.Errorf("open raft log: %w", err)
	}
	snaps, err := raft.NewFileSnapshotStoreWithLogger(raftDir, 2, logger.Named("snapshot"))
	if err != nil {
		return nil, fmt.Errorf("open snapshot store: %w", err)
	}

	addr, err := net.ResolveTCPAddr("tcp", cfg.RaftBind)
	if err != nil {
		return nil, fmt.Errorf("raft bind %q: %w", cfg.RaftBind, err)
	}
	var adv net.Addr
	if cfg.RaftAdvertise != "" {
		if adv, err = net.ResolveTCPAddr("tcp", cfg.RaftAdvertise); err != nil {
			return nil, fmt.Errorf("raft advertise %q: %w", cfg.RaftAdvertise, err)
		}
	}
	c.transport, err = raft.NewTCPTransportWithLogger(addr.String(), adv, 3, 10*time.Second, logger.Named("transport"))
	if err != nil {
		return nil, fmt.Errorf("raft transport on %s: %w", cfg.RaftBind, err)
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
	rc.Logger = logger.Named("raft")
	// The catalog store is only fsync'd by the Raft log. If it already holds
	// everything the newest snapshot holds, raft need not restore that
	// snapshot at start: replay from the snapshot index skips what the store
	// has applied. Otherwise (lost writes after a power cut, or a fresh
	// store) the snapshot is restored and the log replayed on top of it.
	rc.NoSnapshotRestoreOnStart, err = storeCoversSnapshot(c.store, snaps)
	if err != nil {
		return nil, err
	}

	c.raft, err = raft.NewRaft(rc, c.fsm, c.logStore, c.logStore, snaps, c.transport)
	if err != nil {
		return nil, fmt.Errorf("start raft: %w", err)
	}
	ok = true

	if cfg.Bootstrap {
		has, err := raft.HasExistingState(c.logStore, c.logStore, snaps)
		if err != nil {
			c.Shutdown()
			return nil, err
		}
		if !has {
			f := c.raft.BootstrapCluster(raft.Configuration{Servers: []raft.Server{{
				Suffrage: raft.Voter, ID: rc.LocalID, Address: c.transport.LocalAddr(),
			}}})
			if err := f.Error(); err != nil && !errors.Is(err, raft.ErrCantBootstrap) {
				c.Shutdown()
				return nil, fmt.Errorf("bootstrap: %w", err)
			}
		}
	}
	return c, nil
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

// FSM returns the state machine.
func (c *Cluster) FSM() *fsm.FSM { return c.fsm }

// Store returns the catalog store (read-only use: every write goes through Apply).
func (c *Cluster) Store() *catalog.Store { return c.store }

// NodeName returns this server's name.
func (c *Cluster) NodeName() string { return c.cfg.NodeName }

// RaftAddr returns the address of this server's Raft transport.
func (c *Cluster) RaftAddr() string { return string(c.transport.LocalAddr()) }

// LeaderCh delivers true when this server becomes leader and false when it
// stops being leader. It has one consumer: the master loop.
func (c *Cluster) LeaderCh() <-chan bool { return c.leaderCh }

// IsLeader reports whether this server is the leader.
func (c *Cluster) IsLeader() bool { return c.raft.State() == raft.Leader }

// LeaderInfo names the current leader.
type LeaderInfo struct {
	Node     string
	RaftAddr string
	API      string
}

// Leader returns the current leader, or ErrNoLeader.
func (c *Cluster) Leader() (LeaderInfo, error) {
	addr, id := c.raft.LeaderWithID()
	if id == "" {
		return LeaderInfo{}, ErrNoLeader
	}
	c.mu.RLock()
	api := c.peerAPIs[id]
	c.mu.RUnlock()
	return LeaderInfo{Node: string(id), RaftAddr: string(addr), API: api}, nil
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

// Apply replicates one command and returns the FSM's response. A business
// error returned by the applier is returned as err; index is the entry's Raft
// index.
func (c *Cluster) Apply(ctx context.Context, t fsm.MessageType, msg any) (any, uint64, error) {
	buf, err := fsm.Encode(t, msg)
	if err != nil {
		return nil, 0, err
	}
	timeout := c.cfg.ApplyTimeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
		if timeout <= 0 {
			return nil, 0, ctx.Err()
		}
	}
	f := c.raft.Apply(buf, timeout)
	if err := f.Error(); err != nil {
		switch {
		case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrLeadershipLost), errors.Is(err, raft.ErrLeadershipTransferInProgress):
			return nil, 0, fmt.Errorf("%w: %v", ErrNotLeader, err)
		case errors.Is(err, raft.ErrRaftShutdown):
			return nil, 0, ErrShutdown
		}
		return nil, 0, err
	}
	resp := f.Response()
	if err, ok := resp.(error); ok {
		return nil, f.Index(), err
	}
	return resp, f.Index(), nil
}

// Barrier waits until every entry committed before it is applied locally.
func (c *Cluster) Barrier(ctx context.Context) error {
	timeout := c.cfg.ApplyTimeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
	}
	if err := c.raft.Barrier(timeout).Error(); err != nil {
		if errors.Is(err, raft.ErrNotLeader) {
			return ErrNotLeader
		}
		return err
	}
	return nil
}

// Shutdown stops Raft and closes every store. It is safe to call twice.
func (c *Cluster) Shutdown() error {
	var err error
	c.shutdownOnce.Do(func() {
		if c.raft != nil {
			err = c.raft.Shutdown().Error()
		}
		if c.transport != nil {
			_ = c.transport.Close()
		}
		c.closeStores()
	})
	return err
}

func (c *Cluster) closeStores() {
	if c.logStore != nil {
		_ = c.logStore.Close()
	}
	if c.store != nil {
		// A clean stop flushes the catalog so the next start replays nothing.
		_ = c.store.Sync()
		_ = c.store.Close()
	}
}

// Snapshot takes a Raft snapshot now (and lets raft compact the log).
func (c *Cluster) Snapshot() error {
	return c.raft.Snapshot().Error()
}
