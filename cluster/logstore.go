package cluster

import (
	"bytes"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"github.com/scaleout/scaleout/catalog"
)

// logStore is raft's log and stable store (raft.db) with its write
// failures recorded. A full disk under raft.db fails the leader's append:
// raft answers the writes of that batch with the error and steps down.
// Here that error becomes catalog.ErrStorage (507, not a 500), and until a
// write to raft.db succeeds again the server reports itself unhealthy
// (Cluster.StorageHealth) and refuses writes, as it does for a failing
// catalog (fsm.Health).
type logStore struct {
	*raftboltdb.BoltStore
	mu    sync.Mutex
	err   error // the last write's failure; nil once a write succeeds
	since time.Time
	// fault, if set, fails every log write; stableFault every term and
	// vote write (tests).
	fault, stableFault atomic.Pointer[error]
	waiting            atomic.Bool // raft's main loop waits in SetUint64
	closing            chan struct{}
	closeOnce          sync.Once
}

func newLogStore(bs *raftboltdb.BoltStore) *logStore {
	return &logStore{BoltStore: bs, closing: make(chan struct{})}
}

func (s *logStore) note(err error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err == nil {
		s.err = nil
		return nil
	}
	if s.err == nil {
		s.since = time.Now()
	}
	s.err = err
	return fmt.Errorf("%w: raft log: %v", catalog.ErrStorage, err)
}

// health returns the last write failure and since when writes fail (nil
// while they succeed).
func (s *logStore) health() (error, time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err, s.since
}

func (s *logStore) StoreLog(l *raft.Log) error { return s.StoreLogs([]*raft.Log{l}) }

func (s *logStore) StoreLogs(logs []*raft.Log) error {
	if f := s.fault.Load(); f != nil {
		return s.note(*f)
	}
	return s.note(s.BoltStore.StoreLogs(logs))
}

// Set and SetUint64 (term and vote) are recorded too. A failed vote is an
// error raft handles (it does not vote). A failed term is not: raft panics
// when it cannot persist a new term (raft.go setCurrentTerm), which takes
// the whole process down, and again at every restart while the disk fails.
// So a term that cannot be written is retried here, with backoff, until it
// can: raft's main loop waits (this node neither votes nor answers as a
// follower; the others elect among themselves), the node reports itself
// unhealthy (the failure is noted, StorageHealth), and it goes on by itself
// when the disk takes writes again. Only raft's main goroutine writes a new
// term (raft.NewRaft writes the stored one again, which needs no write; the
// cluster bootstraps through Raft.BootstrapCluster, which runs there too). A
// shutdown during the wait ends raft's main goroutine here (runtime.Goexit),
// so that raft's shutdown completes and the process exits cleanly; the term
// was never written, so nothing is lost.
func (s *logStore) Set(k, v []byte) error {
	if f := s.stableFault.Load(); f != nil {
		return s.note(*f)
	}
	err := s.BoltStore.Set(k, v)
	if err != nil {
		return s.note(err)
	}
	return nil
}

func (s *logStore) SetUint64(k []byte, v uint64) error {
	err := s.setUint64(k, v)
	if err == nil {
		return nil
	}
	if !bytes.Equal(k, keyCurrentTerm) {
		return s.note(err)
	}
	// raft.NewRaft writes the stored term again at start (in the caller's
	// goroutine): it is already on disk, so that write is not needed.
	if cur, gerr := s.BoltStore.GetUint64(k); gerr == nil && cur == v {
		return nil
	}
	s.waiting.Store(true)
	defer s.waiting.Store(false)
	wait := 50 * time.Millisecond
	for err != nil {
		_ = s.note(fmt.Errorf("cannot record Raft term %d (waiting for the disk): %w", v, err))
		select {
		case <-s.closing:
			runtime.Goexit()
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
		err = s.setUint64(k, v)
	}
	return s.note(nil)
}

func (s *logStore) setUint64(k []byte, v uint64) error {
	if f := s.stableFault.Load(); f != nil {
		return *f
	}
	return s.BoltStore.SetUint64(k, v)
}

// keyCurrentTerm is the stable store key raft keeps its term under
// (raft.go, unexported there).
var keyCurrentTerm = []byte("CurrentTerm")

// waitingForDisk reports whether raft's main loop waits for a term write:
// it answers no configuration request meanwhile (Cluster.configuration).
func (s *logStore) waitingForDisk() bool { return s.waiting.Load() }

// stopWaiting ends a wait for the disk at shutdown (before raft's
// Shutdown, whose future waits for raft's main goroutine).
func (s *logStore) stopWaiting() { s.closeOnce.Do(func() { close(s.closing) }) }
