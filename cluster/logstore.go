package cluster

import (
	"fmt"
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
	// fault, if set, fails every write (tests).
	fault atomic.Pointer[error]
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

// Set and SetUint64 (term and vote) are recorded too. raft panics when it
// cannot persist its term: that is left as it is (a node that cannot
// record its term must not vote), the fault hook does not fail them.
func (s *logStore) Set(k, v []byte) error {
	err := s.BoltStore.Set(k, v)
	if err != nil {
		return s.note(err)
	}
	return nil
}

func (s *logStore) SetUint64(k []byte, v uint64) error {
	err := s.BoltStore.SetUint64(k, v)
	if err != nil {
		return s.note(err)
	}
	return nil
}
