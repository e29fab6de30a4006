package raftbench

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	bolt "go.etcd.io/bbolt"
)

// Config configures one baseline run.
type Config struct {
	// Dir holds the servers' data; it must exist and is left for the caller
	// to remove.
	Dir string
	// Concurrency is the number of goroutines calling Apply at once.
	Concurrency int
	// Duration is how long Apply is hammered after a short warm-up.
	Duration time.Duration
	// CommandBytes is the size of each command (default 200).
	CommandBytes int
}

// Result is what one run measured.
type Result struct {
	Concurrency int           `json:"concurrency"`
	Applies     int64         `json:"applies"`
	PerSecond   float64       `json:"per_second"`
	P50         time.Duration `json:"p50_ns"`
	P99         time.Duration `json:"p99_ns"`
}

// Cluster is three Raft servers on loopback.
type Cluster struct {
	nodes []*node
}

type node struct {
	raft  *raft.Raft
	trans *raft.NetworkTransport
	logs  *raftboltdb.BoltStore
	fsm   *fsm
}

// Start forms a three-server cluster under dir and waits for a leader.
func Start(dir string) (*Cluster, error) {
	c := &Cluster{}
	var servers []raft.Server
	for i := range 3 {
		n, err := startNode(filepath.Join(dir, fmt.Sprintf("n%d", i)), fmt.Sprintf("n%d", i))
		if err != nil {
			c.Stop()
			return nil, err
		}
		c.nodes = append(c.nodes, n)
		servers = append(servers, raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(fmt.Sprintf("n%d", i)), Address: n.trans.LocalAddr()})
	}
	if err := c.nodes[0].raft.BootstrapCluster(raft.Configuration{Servers: servers}).Error(); err != nil {
		c.Stop()
		return nil, fmt.Errorf("bootstrap: %w", err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for c.leader() == nil {
		if time.Now().After(deadline) {
			c.Stop()
			return nil, errors.New("no leader after 20s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return c, nil
}

// startNode uses the settings of cluster.startRaft: default timings,
// BatchApplyCh, MaxAppendEntries 256, raft-boltdb log and stable store,
// TCP transport with a pool of 3.
func startNode(dir, id string) (*node, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	n := &node{}
	var err error
	if n.fsm, err = openFSM(filepath.Join(dir, "fsm.db")); err != nil {
		return nil, err
	}
	if n.logs, err = raftboltdb.New(raftboltdb.Options{Path: filepath.Join(dir, "raft.db")}); err != nil {
		return nil, err
	}
	snaps, err := raft.NewFileSnapshotStoreWithLogger(dir, 2, hclog.NewNullLogger())
	if err != nil {
		return nil, err
	}
	n.trans, err = raft.NewTCPTransportWithLogger("127.0.0.1:0", nil, 3, 10*time.Second, hclog.NewNullLogger())
	if err != nil {
		return nil, err
	}
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(id)
	rc.HeartbeatTimeout = time.Second
	rc.ElectionTimeout = time.Second
	rc.LeaderLeaseTimeout = 500 * time.Millisecond
	rc.CommitTimeout = 20 * time.Millisecond
	rc.SnapshotThreshold = 1 << 40 // no snapshots during a run
	rc.BatchApplyCh = true
	rc.MaxAppendEntries = 256
	rc.Logger = hclog.NewNullLogger()
	if n.raft, err = raft.NewRaft(rc, n.fsm, n.logs, n.logs, snaps, n.trans); err != nil {
		return nil, err
	}
	return n, nil
}

func (c *Cluster) leader() *raft.Raft {
	for _, n := range c.nodes {
		if n.raft.State() == raft.Leader {
			return n.raft
		}
	}
	return nil
}

// Run hammers the leader's Apply with cfg.Concurrency goroutines for
// cfg.Duration and reports applies per second and latency percentiles.
func (c *Cluster) Run(ctx context.Context, cfg Config) (Result, error) {
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 1
	}
	if cfg.CommandBytes <= 0 {
		cfg.CommandBytes = 200
	}
	r := c.leader()
	if r == nil {
		return Result{}, errors.New("no leader")
	}
	cmd := make([]byte, cfg.CommandBytes)
	cmd[0] = 1
	warm := time.Now().Add(300 * time.Millisecond)
	end := warm.Add(cfg.Duration)
	var count atomic.Int64
	lat := make([][]time.Duration, cfg.Concurrency)
	var wg sync.WaitGroup
	var firstErr error
	var errOnce sync.Once
	for g := range cfg.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				t0 := time.Now()
				if t0.After(end) {
					return
				}
				if err := r.Apply(cmd, 10*time.Second).Error(); err != nil {
					errOnce.Do(func() { firstErr = err })
					return
				}
				if t0.After(warm) {
					count.Add(1)
					lat[g] = append(lat[g], time.Since(t0))
				}
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return Result{}, fmt.Errorf("apply: %w", firstErr)
	}
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	slices.Sort(all)
	res := Result{Concurrency: cfg.Concurrency, Applies: count.Load(), PerSecond: float64(count.Load()) / cfg.Duration.Seconds()}
	if len(all) > 0 {
		res.P50 = all[len(all)*50/100]
		res.P99 = all[min(len(all)-1, len(all)*99/100)]
	}
	return res, nil
}

// Stop shuts every server down.
func (c *Cluster) Stop() {
	for _, n := range c.nodes {
		if n.raft != nil {
			_ = n.raft.Shutdown().Error()
		}
		if n.trans != nil {
			_ = n.trans.Close()
		}
		if n.logs != nil {
			_ = n.logs.Close()
		}
		if n.fsm != nil {
			_ = n.fsm.db.Close()
		}
	}
}

// fsm is the trivial state machine: per batch, one bbolt transaction (no
// fsync, like the catalog) that stores the last applied index and a counter.
type fsm struct {
	db *bolt.DB
}

var bucket = []byte("meta")

func openFSM(path string) (*fsm, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second, NoSync: true})
	if err != nil {
		return nil, err
	}
	err = db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucketIfNotExists(bucket); return err })
	return &fsm{db: db}, err
}

func (f *fsm) Apply(l *raft.Log) any { return f.ApplyBatch([]*raft.Log{l})[0] }

func (f *fsm) ApplyBatch(logs []*raft.Log) []any {
	err := f.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucket)
		var v [8]byte
		binary.BigEndian.PutUint64(v[:], logs[len(logs)-1].Index)
		if err := b.Put([]byte("applied"), v[:]); err != nil {
			return err
		}
		binary.BigEndian.PutUint64(v[:], uint64(len(logs)))
		return b.Put([]byte("count"), v[:])
	})
	if err != nil {
		panic(err)
	}
	return make([]any, len(logs))
}

func (f *fsm) Snapshot() (raft.FSMSnapshot, error) { return noSnapshot{}, nil }

func (f *fsm) Restore(rc io.ReadCloser) error { return rc.Close() }

type noSnapshot struct{}

func (noSnapshot) Persist(sink raft.SnapshotSink) error { return sink.Close() }
func (noSnapshot) Release()                             {}

var _ raft.BatchingFSM = (*fsm)(nil)
