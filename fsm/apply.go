package fsm

import (
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	"github.com/hashicorp/raft"
	"github.com/scaleout/scaleout/catalog"
	bolt "go.etcd.io/bbolt"
)

// What can go wrong while a batch is applied, and what the FSM does:
//
//   - A business error (unknown object, stale attempt, a limit): the applier
//     returns it as the response; the command changes nothing.
//   - A refusal of the store that depends only on the command and the state
//     (bbolt's "key too large", a value JSON cannot encode), an undecodable
//     payload, an empty command, or a panic inside an applier: the command is
//     a rejection. The batch's transaction is rolled back and the batch is
//     applied again without it, so the outcome is the same as if every entry
//     had its own transaction: every server reaches the same state, whatever
//     its batch boundaries, and the log moves on.
//   - Anything else (the disk is full or failing, the commit fails, a command
//     type this version does not know): the node cannot follow the log. It
//     does not panic (a restart would replay the same entry and fail again):
//     the apply loop retries the batch with backoff, reports itself unhealthy
//     (Health; GET /v1/status/health; the log) and resumes by itself when the
//     disk works again. Nothing is acknowledged until it is applied.

// maxBackoff caps the wait between retries of a batch the store failed.
const maxBackoff = 5 * time.Second

// health is the FSM's view of its store.
type health struct {
	mu      sync.Mutex
	err     error     // the failure that blocks applying, nil when healthy
	since   time.Time // when err began
	retries int       // failed attempts since
	closed  chan struct{}
	// failing is closed when the store starts failing; recovered replaces
	// it with a new one.
	failing chan struct{}
	once    sync.Once
	gaveUp  bool // Close ended a retry loop: the store is behind what raft thinks is applied
}

// Health is the state of the FSM's store.
type Health struct {
	// Err is the failure that keeps the FSM from applying (nil: healthy).
	Err error
	// Since is when the failure began; Retries counts the failed attempts.
	Since   time.Time
	Retries int
}

// Health reports whether the FSM can apply committed entries.
func (f *FSM) Health() Health {
	f.health.mu.Lock()
	defer f.health.mu.Unlock()
	return Health{Err: f.health.err, Since: f.health.since, Retries: f.health.retries}
}

// Close ends a retry loop blocked on a failing store (the node is shutting
// down). The entries of that batch, and of every batch after it, are
// answered with ErrStorage but are not applied; the FSM refuses to
// snapshot from then on, so the next start replays them from the log.
func (f *FSM) Close() {
	f.health.once.Do(func() { close(f.health.closed) })
}

// givenUp is ErrStorage once Close ended a retry loop, else nil.
func (f *FSM) givenUp() error {
	f.health.mu.Lock()
	defer f.health.mu.Unlock()
	if f.health.gaveUp {
		return fmt.Errorf("%w: the FSM stopped behind the log at shutdown; restart the agent", catalog.ErrStorage)
	}
	return nil
}

func (f *FSM) snapshotBlocked() error {
	f.health.mu.Lock()
	defer f.health.mu.Unlock()
	if f.health.gaveUp {
		return fmt.Errorf("%w: the FSM stopped behind the log; restart the agent", catalog.ErrStorage)
	}
	if f.health.err != nil {
		return fmt.Errorf("%w: %v", catalog.ErrStorage, f.health.err)
	}
	return nil
}

// Failing returns a channel that is closed when the store starts failing
// (Health reports an error from then on). A write waiting for its entry
// to be applied selects on it: an entry this server cannot apply is not
// answered until the disk recovers, and the writer is told at once
// instead (cluster.Apply).
func (f *FSM) Failing() <-chan struct{} {
	f.health.mu.Lock()
	defer f.health.mu.Unlock()
	return f.health.failing
}

// SetUpdateHook replaces the function that runs a batch's transaction
// (store.Update): tests inject disk failures with it, also while the FSM
// applies.
func (f *FSM) SetUpdateHook(update func(fn func(tx *catalog.Tx) error) error) {
	f.update.Store(&update)
}

// rejection is a command that fails the same way on every server; it aborts
// the batch's transaction so that the batch can be applied without it.
type rejection struct {
	i   int
	err error
}

func (r *rejection) Error() string { return r.err.Error() }

// errUnknownType marks a command type this version does not know.
var errUnknownType = errors.New("unknown command type")

func (f *FSM) applyBatch(logs []*raft.Log) []any {
	if err := f.givenUp(); err != nil {
		// A batch raft hands over after Close gave up on an earlier one
		// (it is shutting down): applying it would advance the applied
		// index past the entries given up on, and they would never
		// replay.
		resps := make([]any, len(logs))
		for i := range resps {
			resps[i] = err
		}
		return resps
	}
	rejected := map[int]error{}
	backoff := 50 * time.Millisecond
	for {
		resps, err := f.applyOnce(logs, rejected)
		var rej *rejection
		switch {
		case err == nil:
			f.recovered()
			f.setApplied(logs[len(logs)-1].Index)
			f.notify()
			return resps
		case errors.As(err, &rej):
			f.logger.Error("command rejected", "index", logs[rej.i].Index, "type", MessageType(logs[rej.i].Data[0]), "error", rej.err)
			rejected[rej.i] = rej.err
			continue // at most once per entry
		}
		f.failed(err, logs)
		select {
		case <-f.health.closed:
			f.health.mu.Lock()
			f.health.gaveUp = true
			f.health.mu.Unlock()
			for i := range resps {
				resps[i] = fmt.Errorf("%w: %v", catalog.ErrStorage, err)
			}
			return resps
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// applyOnce applies logs in one transaction, answering the entries in
// rejected with their error.
func (f *FSM) applyOnce(logs []*raft.Log, rejected map[int]error) ([]any, error) {
	resps := make([]any, len(logs))
	err := (*f.update.Load())(func(tx *catalog.Tx) error {
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
			if err, ok := rejected[i]; ok {
				resps[i] = err
				continue
			}
			r := f.applyCommand(tx, l)
			if fe, ok := r.(fatalError); ok {
				if deterministic(fe.err) {
					return &rejection{i: i, err: fmt.Errorf("%w: %s command refused by the catalog store: %v", catalog.ErrInvalid, MessageType(l.Data[0]), fe.err)}
				}
				return fe.err
			}
			resps[i] = r
		}
		if last == nil {
			return nil
		}
		return tx.SetApplied(last.Index, last.Term)
	})
	return resps, err
}

// applyCommand applies one entry; a panic of its applier becomes a
// rejection of the command instead of a crash loop.
func (f *FSM) applyCommand(tx *catalog.Tx, l *raft.Log) (resp any) {
	if len(l.Data) == 0 {
		return fmt.Errorf("%w: empty command at index %d", catalog.ErrInvalid, l.Index)
	}
	t := MessageType(l.Data[0])
	fn, ok := appliers[t&^IgnoreUnknownTypeFlag]
	if !ok {
		if t&IgnoreUnknownTypeFlag != 0 {
			f.logger.Warn("skipping unknown command", "type", t, "index", l.Index)
			return nil
		}
		// A newer server wrote it: applying anything after it would
		// diverge from the servers that know it. Stop here (unhealthy)
		// until this server is upgraded.
		return fatalError{fmt.Errorf("%w %d at index %d (written by a newer server? upgrade this one)", errUnknownType, uint8(t), l.Index)}
	}
	defer func() {
		if p := recover(); p != nil {
			f.logger.Error("applier panicked", "type", t, "index", l.Index, "panic", p, "stack", string(debug.Stack()))
			resp = fatalError{panicError{fmt.Errorf("%s applier panicked: %v", t, p)}}
		}
	}()
	return fn(tx, l.Data)
}

// panicError is a panic of an applier: the same code panics on the same
// command on every server, so it is a rejection.
type panicError struct{ error }

// deterministic reports whether a store error depends only on the command
// and the replicated state, so that every server gets it: then the command
// is rejected. Anything else is taken for a failing disk.
func deterministic(err error) bool {
	var (
		ute *json.UnsupportedTypeError
		uve *json.UnsupportedValueError
		me  *json.MarshalerError
		se  *json.SyntaxError
		te  *json.UnmarshalTypeError
		pe  panicError
	)
	switch {
	case errors.Is(err, bolt.ErrKeyTooLarge), errors.Is(err, bolt.ErrValueTooLarge), errors.Is(err, bolt.ErrKeyRequired),
		errors.Is(err, bolt.ErrIncompatibleValue), errors.Is(err, bolt.ErrBucketExists), errors.Is(err, bolt.ErrBucketNotFound),
		errors.Is(err, bolt.ErrBucketNameRequired):
		return true
	case errors.As(err, &ute), errors.As(err, &uve), errors.As(err, &me), errors.As(err, &se), errors.As(err, &te), errors.As(err, &pe):
		return true
	}
	return false
}

func (f *FSM) failed(err error, logs []*raft.Log) {
	f.health.mu.Lock()
	first := f.health.err == nil
	if first {
		f.health.since = time.Now()
		close(f.health.failing)
	}
	f.health.err = err
	f.health.retries++
	n := f.health.retries
	f.health.mu.Unlock()
	if first || n%10 == 0 {
		f.logger.Error("cannot apply committed entries: catalog storage failing; retrying (this server is unhealthy and refuses writes until it recovers)",
			"first_index", logs[0].Index, "last_index", logs[len(logs)-1].Index, "retries", n, "error", err)
	}
}

func (f *FSM) recovered() {
	f.health.mu.Lock()
	was, since := f.health.err, f.health.since
	f.health.err, f.health.retries = nil, 0
	if was != nil {
		f.health.failing = make(chan struct{})
	}
	f.health.mu.Unlock()
	if was != nil {
		f.logger.Info("catalog storage works again; applying resumed", "unhealthy_for", time.Since(since).Round(time.Millisecond))
	}
}
