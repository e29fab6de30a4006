package fsm

import (
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	"github.com/scaleout/scaleout/catalog"
)

// applyFunc applies one command inside the batch's transaction. It returns
// the response for the caller of raft.Apply: a value or a deterministic
// business error. An error of the store must be returned as a fatalError:
// the batch's transaction is then rolled back and the FSM decides (apply.go)
// whether the command is rejected (a deterministic refusal such as a key
// too large) or the disk is failing (retried until it works).
type applyFunc func(tx *catalog.Tx, buf []byte) any

var appliers = map[MessageType]applyFunc{}

// register adds the applier of t, which gets the command's payload decoded
// into a T; a duplicate is a programming error.
func register[T any](t MessageType, fn func(tx *catalog.Tx, req *T) any) {
	if _, dup := appliers[t]; dup {
		panic(fmt.Sprintf("fsm: applier for %s registered twice", t))
	}
	appliers[t] = func(tx *catalog.Tx, buf []byte) any {
		var req T
		if err := Decode(buf, &req); err != nil {
			// Every server decodes the same bytes the same way: a payload
			// this version cannot read is rejected by all of them alike.
			return fmt.Errorf("%w: undecodable %s command: %v", catalog.ErrInvalid, t, err)
		}
		return fn(tx, &req)
	}
}

// fatalError wraps a storage error that aborts the batch's transaction.
type fatalError struct{ err error }

func (f fatalError) Error() string { return "storage failure: " + f.err.Error() }

// FSM applies committed Raft entries to the catalog store. It implements
// raft.BatchingFSM: every batch of entries is applied in one bbolt
// transaction, which also records the index of the last entry, so a replay
// after restart skips what is already applied.
type FSM struct {
	store  *catalog.Store
	logger hclog.Logger
	// update runs a batch's transaction: store.Update, or a fault in tests
	// (SetUpdateHook, which may swap it while the FSM applies).
	update atomic.Pointer[func(fn func(tx *catalog.Tx) error) error]

	mu      sync.Mutex
	changed chan struct{}
	applied uint64 // on mu: the Raft index of the last entry applied (AppliedIndex)

	health health // apply.go
}

var _ raft.BatchingFSM = (*FSM)(nil)

// New returns an FSM over store.
func New(store *catalog.Store, logger hclog.Logger) *FSM {
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	f := &FSM{store: store, logger: logger.Named("fsm"), changed: make(chan struct{})}
	update := store.Update
	f.update.Store(&update)
	// What the store holds from before a restart is applied already.
	_ = store.View(func(tx *catalog.Tx) error {
		f.applied, _ = tx.Applied()
		return nil
	})
	f.health.closed = make(chan struct{})
	f.health.failing = make(chan struct{})
	return f
}

// Store returns the catalog store the FSM applies into.
func (f *FSM) Store() *catalog.Store { return f.store }

// Changed returns a channel that is closed the next time the FSM applies
// anything. Blocking queries wait on it.
func (f *FSM) Changed() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.changed
}

// AppliedIndex returns the Raft index of the last entry this FSM has
// applied since the process started (0 before the first): a read served
// from this replica reflects every write up to it. After a snapshot
// restore it stays at the index before the restore until the next entry,
// which errs on the side of waiting.
func (f *FSM) AppliedIndex() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.applied
}

// WaitApplied waits until AppliedIndex reaches index or ctx ends, and
// reports whether it did.
func (f *FSM) WaitApplied(ctx context.Context, index uint64) bool {
	for {
		f.mu.Lock()
		ok, ch := f.applied >= index, f.changed
		f.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return false
		}
	}
}

func (f *FSM) setApplied(index uint64) {
	f.mu.Lock()
	f.applied = max(f.applied, index)
	f.mu.Unlock()
}

func (f *FSM) notify() {
	f.mu.Lock()
	close(f.changed)
	f.changed = make(chan struct{})
	f.mu.Unlock()
}

// Apply applies one entry (raft calls ApplyBatch instead; this is kept for
// the raft.FSM contract and for tests).
func (f *FSM) Apply(l *raft.Log) any {
	return f.ApplyBatch([]*raft.Log{l})[0]
}

// ApplyBatch applies entries in one transaction. It never panics on a
// command: see apply.go for what becomes a rejection and what stops the
// node until its disk works again.
func (f *FSM) ApplyBatch(logs []*raft.Log) []any {
	if len(logs) == 0 {
		return nil
	}
	return f.applyBatch(logs)
}

// Snapshot opens a consistent read of the store.
func (f *FSM) Snapshot() (raft.FSMSnapshot, error) {
	if err := f.snapshotBlocked(); err != nil {
		return nil, err
	}
	sn, err := f.store.Snapshot()
	if err != nil {
		return nil, err
	}
	return &snapshot{sn: sn}, nil
}

// Restore replaces the store with a snapshot.
func (f *FSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	if err := f.store.Restore(rc); err != nil {
		return err
	}
	// The applied index inside the snapshot belongs to the log it was taken
	// from, which may be another cluster's (an operator restore of a
	// backup) and run ahead of this log. After a restore raft hands the FSM
	// only entries after the snapshot, so every one of them must be applied:
	// reset the index. (On the next start, a store behind the newest
	// snapshot is restored from it; see cluster.storeCoversSnapshot.)
	if err := f.store.Update(func(tx *catalog.Tx) error { return tx.SetApplied(0, 0) }); err != nil {
		return err
	}
	f.notify()
	return nil
}

type snapshot struct{ sn *catalog.Snapshot }

func (s *snapshot) Persist(sink raft.SnapshotSink) error {
	if _, err := s.sn.WriteTo(sink); err != nil {
		_ = sink.Cancel()
		return err
	}
	return sink.Close()
}

func (s *snapshot) Release() { s.sn.Release() }
