package fsm

import (
	"fmt"
	"io"
	"sync"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	"github.com/scaleout/scaleout/catalog"
)

// applyFunc applies one command inside the batch's transaction. It returns
// the response for the caller of raft.Apply: a value or a deterministic
// business error. An error that means the transaction is broken (I/O) must
// be returned as a fatalError, which aborts the process.
type applyFunc func(tx *catalog.Tx, buf []byte) any

var appliers = map[MessageType]applyFunc{}

// register adds the applier of t, which gets the command's payload decoded
// into a T (see mustDecode); a duplicate is a programming error.
func register[T any](t MessageType, fn func(tx *catalog.Tx, req *T) any) {
	if _, dup := appliers[t]; dup {
		panic(fmt.Sprintf("fsm: applier for %s registered twice", t))
	}
	appliers[t] = func(tx *catalog.Tx, buf []byte) any {
		var req T
		mustDecode(buf, &req)
		return fn(tx, &req)
	}
}

// fatalError wraps a storage error that must abort the apply.
type fatalError struct{ err error }

func (f fatalError) Error() string { return "storage failure: " + f.err.Error() }

// FSM applies committed Raft entries to the catalog store. It implements
// raft.BatchingFSM: every batch of entries is applied in one bbolt
// transaction, which also records the index of the last entry, so a replay
// after restart skips what is already applied.
type FSM struct {
	store  *catalog.Store
	logger hclog.Logger

	mu      sync.Mutex
	changed chan struct{}
}

var _ raft.BatchingFSM = (*FSM)(nil)

// New returns an FSM over store.
func New(store *catalog.Store, logger hclog.Logger) *FSM {
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	return &FSM{store: store, logger: logger.Named("fsm"), changed: make(chan struct{})}
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

// ApplyBatch applies entries in one transaction.
func (f *FSM) ApplyBatch(logs []*raft.Log) []any {
	resps := make([]any, len(logs))
	if len(logs) == 0 {
		return resps
	}
	err := f.store.Update(func(tx *catalog.Tx) error {
		applied, _ := tx.Applied()
		var last *raft.Log
		for i, l := range logs {
			if l.Index <= applied {
				continue // already applied before a restart
			}
			last = l
			if l.Type != raft.LogCommand {
				continue
			}
			r := f.applyCommand(tx, l)
			if fe, ok := r.(fatalError); ok {
				return fe.err
			}
			resps[i] = r
		}
		if last == nil {
			return nil
		}
		return tx.SetApplied(last.Index, last.Term)
	})
	if err != nil {
		// The store can no longer follow the log; continuing would let this
		// server diverge from the others.
		f.logger.Error("apply failed", "error", err)
		panic(fmt.Sprintf("fsm: apply batch ending at index %d: %v", logs[len(logs)-1].Index, err))
	}
	f.notify()
	return resps
}

func (f *FSM) applyCommand(tx *catalog.Tx, l *raft.Log) any {
	if len(l.Data) == 0 {
		panic(fmt.Sprintf("fsm: empty command at index %d", l.Index))
	}
	t := MessageType(l.Data[0])
	fn, ok := appliers[t&^IgnoreUnknownTypeFlag]
	if !ok {
		if t&IgnoreUnknownTypeFlag != 0 {
			f.logger.Warn("skipping unknown command", "type", t, "index", l.Index)
			return nil
		}
		panic(fmt.Sprintf("fsm: unknown command type %d at index %d (a newer server wrote it?)", t, l.Index))
	}
	return fn(tx, l.Data)
}

// mustDecode decodes a command payload; a payload this version cannot read
// would make servers diverge, so it stops the process.
func mustDecode(buf []byte, out any) {
	if err := Decode(buf, out); err != nil {
		panic(fmt.Sprintf("fsm: decode %s: %v", MessageType(buf[0]), err))
	}
}

// Snapshot opens a consistent read of the store.
func (f *FSM) Snapshot() (raft.FSMSnapshot, error) {
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
