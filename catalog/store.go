package catalog

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"iter"
	"math"
	"runtime"
	"strconv"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Bucket names. Keys of id-keyed buckets are 8-byte big-endian integers so
// that bbolt's byte order is numeric order.
var (
	bucketMeta       = []byte("meta")
	bucketExecutions = []byte("executions")
	bucketPending    = []byte("pending") // index: executions waiting for a worker, by priority then id (queue.go)
	bucketActive     = []byte("active")  // index: executions with a leased attempt
	bucketEvents     = []byte("events")  // one nested bucket per execution, keyed by seq
	bucketWorkers    = []byte("workers")
	bucketNotify     = []byte("notify_pending") // index: ended executions whose notification is to be delivered

	keyApplied = []byte("applied")
	keyNextID  = []byte("next_execution_id")

	allBuckets = [][]byte{bucketMeta, bucketExecutions, bucketPending, bucketActive, bucketEvents, bucketWorkers,
		bucketFolders, bucketProjects, bucketVersions, bucketEnvironments, bucketArchives, bucketStaging, bucketCapKeys, bucketCaps, bucketCreated, bucketIdempotency, bucketNotify,
		bucketACLTokens, bucketACLSecrets, bucketOperations}
)

// Options configures a Store.
type Options struct {
	// NoSync skips bbolt's fsync on commit. The FSM sets it because the Raft
	// log already made every applied entry durable, and the applied index
	// stored with each change makes replay after a crash idempotent.
	NoSync bool
}

// Store is the bbolt-backed catalog. Reads may run concurrently with each
// other and with one writer; Restore swaps the database file under a lock that
// every read and write takes.
type Store struct {
	path string
	opts Options

	mu sync.RWMutex // guards db against Restore
	db *bolt.DB
}

// Open opens or creates the catalog file at path.
func Open(path string, opts Options) (*Store, error) {
	s := &Store{path: path, opts: opts}
	db, err := s.openDB(path)
	if err != nil {
		return nil, err
	}
	s.db = db
	return s, nil
}

// initialMmapSize is the address space the catalog maps at open. bbolt
// remaps the file each time it outgrows the mapping (doubling up to 1 GiB),
// and a remap waits for every open read transaction to end while new ones
// wait behind it: each remap stalls the FSM's apply and every API read for
// as long as the longest read then open. Mapped address space costs no memory until pages are read. Not on
// Windows, where bbolt grows the file itself to the mapping's size, nor on
// 32-bit platforms, whose address space is too small to reserve.
var initialMmapSize = func() int {
	if runtime.GOOS == "windows" || strconv.IntSize < 64 {
		return 0
	}
	return 1 << 30
}()

func (s *Store) openDB(path string) (*bolt.DB, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second, NoFreelistSync: true, InitialMmapSize: initialMmapSize})
	if err != nil {
		return nil, fmt.Errorf("open catalog %s: %w", path, err)
	}
	db.NoSync = s.opts.NoSync
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return migratePendingIndex(&Tx{tx: tx})
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("init catalog %s: %w", path, err)
	}
	return db, nil
}

// Path returns the file the store lives in.
func (s *Store) Path() string { return s.path }

// Close closes the database.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.db == nil {
		return nil
	}
	err := s.db.Close()
	s.db = nil
	return err
}

// Sync flushes the database file to disk (used before a clean shutdown so
// that a NoSync store does not need replay on the next start).
func (s *Store) Sync() error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.db.Sync()
}

// Update runs fn in one write transaction.
func (s *Store) Update(fn func(tx *Tx) error) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.db.Update(func(btx *bolt.Tx) error { return fn(&Tx{tx: btx}) })
}

// View runs fn in one read transaction.
func (s *Store) View(fn func(tx *Tx) error) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.db.View(func(btx *bolt.Tx) error { return fn(&Tx{tx: btx}) })
}

// Read runs fn in a read transaction and returns what it read.
func Read[T any](s *Store, fn func(tx *Tx) (T, error)) (T, error) {
	var out T
	err := s.View(func(tx *Tx) error {
		var err error
		out, err = fn(tx)
		return err
	})
	return out, err
}

// Applied returns the index and term of the last Raft entry applied.
func (s *Store) Applied() (index, term uint64, err error) {
	err = s.View(func(tx *Tx) error {
		index, term = tx.Applied()
		return nil
	})
	return
}

// Tx is a catalog transaction. Write methods may only be used inside Update.
type Tx struct {
	tx *bolt.Tx
}

func u64key(v uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], v)
	return b[:]
}

func keyU64(b []byte) uint64 { return binary.BigEndian.Uint64(b) }

// Applied returns the index and term of the last applied Raft entry.
func (t *Tx) Applied() (index, term uint64) {
	v := t.tx.Bucket(bucketMeta).Get(keyApplied)
	if len(v) != 16 {
		return 0, 0
	}
	return binary.BigEndian.Uint64(v[:8]), binary.BigEndian.Uint64(v[8:])
}

// SetApplied records the last applied Raft entry in the same transaction as
// the change it made.
func (t *Tx) SetApplied(index, term uint64) error {
	var v [16]byte
	binary.BigEndian.PutUint64(v[:8], index)
	binary.BigEndian.PutUint64(v[8:], term)
	return t.tx.Bucket(bucketMeta).Put(keyApplied, v[:])
}

// NextExecutionID allocates the next execution id. Ids increase by one from 1.
func (t *Tx) NextExecutionID() (uint64, error) {
	b := t.tx.Bucket(bucketMeta)
	var id uint64 = 1
	if v := b.Get(keyNextID); len(v) == 8 {
		id = keyU64(v)
	}
	return id, b.Put(keyNextID, u64key(id+1))
}

// Execution reads one execution.
func (t *Tx) Execution(id uint64) (*Execution, error) {
	v := t.tx.Bucket(bucketExecutions).Get(u64key(id))
	if v == nil {
		return nil, fmt.Errorf("execution %d: %w", id, ErrNotFound)
	}
	var e Execution
	if err := json.Unmarshal(v, &e); err != nil {
		return nil, fmt.Errorf("decode execution %d: %w", id, err)
	}
	return &e, nil
}

// ExecutionState reads the id, status and attempt of execution id, leaving
// the rest of the record unread.
func (t *Tx) ExecutionState(id uint64) (ExecutionState, error) {
	var st ExecutionState
	v := t.tx.Bucket(bucketExecutions).Get(u64key(id))
	if v == nil {
		return st, fmt.Errorf("execution %d: %w", id, ErrNotFound)
	}
	if leadingState(v, &st) {
		return st, nil
	}
	// A record stored before the three fields came first: read it all.
	if err := json.Unmarshal(v, &st); err != nil {
		return st, fmt.Errorf("decode execution %d: %w", id, err)
	}
	return st, nil
}

// leadingState reads id, status and attempt from the start of a stored
// execution as json.Marshal writes it (Execution declares the three first:
// `{"id":7,"status":"running","attempt":2,...`) and stops there; a JSON
// decoder would scan or buffer the whole record, spec and all. It reports
// false for anything else (an older layout, escapes, other spacing), which
// the caller then decodes in full.
func leadingState(v []byte, st *ExecutionState) bool {
	rest, ok := bytes.CutPrefix(v, []byte(`{"id":`))
	if !ok {
		return false
	}
	id, rest, ok := leadingUint(rest)
	if !ok {
		return false
	}
	if rest, ok = bytes.CutPrefix(rest, []byte(`,"status":"`)); !ok {
		return false
	}
	end := bytes.IndexByte(rest, '"')
	if end < 0 || bytes.IndexByte(rest[:end], '\\') >= 0 {
		return false
	}
	status := Status(rest[:end])
	if rest, ok = bytes.CutPrefix(rest[end+1:], []byte(`,"attempt":`)); !ok {
		return false
	}
	attempt, rest, ok := leadingUint(rest)
	if !ok || attempt > math.MaxInt32 || len(rest) == 0 || (rest[0] != ',' && rest[0] != '}') {
		return false
	}
	*st = ExecutionState{ID: id, Status: status, Attempt: int(attempt)}
	return true
}

// leadingUint reads the decimal digits at the start of b (at most 19, so
// that they fit; no leading zero but "0" itself).
func leadingUint(b []byte) (uint64, []byte, bool) {
	n := 0
	for n < len(b) && n < 20 && b[n] >= '0' && b[n] <= '9' {
		n++
	}
	if n == 0 || n > 19 || (n > 1 && b[0] == '0') {
		return 0, b, false
	}
	var u uint64
	for _, c := range b[:n] {
		u = u*10 + uint64(c-'0')
	}
	return u, b[n:], true
}

// PutExecution stores e and keeps the pending and active indexes in step
// with its status.
func (t *Tx) PutExecution(e *Execution) error {
	v, err := json.Marshal(e)
	if err != nil {
		return err
	}
	k := u64key(e.ID)
	if e.ArchiveHash != "" {
		if err := t.trackArchiveUse(k, e); err != nil {
			return err
		}
	}
	if err := t.tx.Bucket(bucketExecutions).Put(k, v); err != nil {
		return err
	}
	pending, active := t.tx.Bucket(bucketPending), t.tx.Bucket(bucketActive)
	pk := pendingKey(e.Priority, e.ID)
	if err := t.putCapKeys(e, e.Status.Active()); err != nil {
		return err
	}
	if e.Status == StatusCreated {
		if err := t.tx.Bucket(bucketCreated).Put(k, nil); err != nil {
			return err
		}
	} else if err := t.tx.Bucket(bucketCreated).Delete(k); err != nil {
		return err
	}
	if e.Notify != nil {
		// Only executions of packages with a notify key pay for the index.
		if e.NeedsNotify() {
			if err := t.tx.Bucket(bucketNotify).Put(k, nil); err != nil {
				return err
			}
		} else if err := t.tx.Bucket(bucketNotify).Delete(k); err != nil {
			return err
		}
	}
	switch {
	case e.Status == StatusPending:
		_ = active.Delete(k)
		return pending.Put(pk, pendingMeta(e))
	case e.Status.Active():
		_ = pending.Delete(pk)
		return active.Put(k, nil)
	default:
		_ = pending.Delete(pk)
		return active.Delete(k)
	}
}

// ListOptions filters and pages ListExecutions.
type ListOptions struct {
	Status   Status // only this status, if set
	BeforeID uint64 // only ids below this, for paging newest-first (0 = from the newest)
	Limit    int    // at most this many (0 = 100)
	// Filters: only executions of this folder, project, package (name),
	// worker (the last attempt's), caller, created in [Since, Until).
	Folder, Project, Package, Worker, Caller string
	Since, Until                             time.Time
	// MaxScan stops the scan after this many executions were looked at
	// (0: no bound), so a rare filter value answers fast; Scanned then
	// tells where to continue (ListResult).
	MaxScan int
}

// Filtered reports whether o has a filter other than Status.
func (o *ListOptions) Filtered() bool {
	return o.Folder != "" || o.Project != "" || o.Package != "" || o.Worker != "" || o.Caller != "" ||
		!o.Since.IsZero() || !o.Until.IsZero()
}

func (o *ListOptions) match(e *Execution) bool {
	switch {
	case o.Status != "" && e.Status != o.Status,
		o.Folder != "" && e.Folder != o.Folder,
		o.Project != "" && e.Project != o.Project,
		o.Package != "" && e.PackageName != o.Package,
		o.Worker != "" && e.Worker != o.Worker,
		o.Caller != "" && e.Caller != o.Caller,
		!o.Since.IsZero() && e.CreatedAt.Before(o.Since),
		!o.Until.IsZero() && !e.CreatedAt.Before(o.Until):
		return false
	}
	return true
}

// ListResult is a page of ListExecutionsPage: the executions, and NextBefore,
// the BeforeID that continues the scan (0: nothing older is left).
type ListResult struct {
	Executions []*Execution
	NextBefore uint64
}

// ListExecutions returns executions newest first.
func (t *Tx) ListExecutions(o ListOptions) ([]*Execution, error) {
	r, err := t.ListExecutionsPage(o)
	return r.Executions, err
}

// ListExecutionsPage returns executions newest first that match o, and
// where the next page starts: after Limit matches, or MaxScan executions
// looked at, whichever comes first.
func (t *Tx) ListExecutionsPage(o ListOptions) (ListResult, error) {
	limit := o.Limit
	if limit <= 0 {
		limit = 100
	}
	var out ListResult
	c := t.tx.Bucket(bucketExecutions).Cursor()
	var k, v []byte
	if o.BeforeID > 0 {
		k, v = c.Seek(u64key(o.BeforeID))
		if k != nil {
			k, v = c.Prev()
		} else {
			k, v = c.Last()
		}
	} else {
		k, v = c.Last()
	}
	scanned := 0
	for ; k != nil; k, v = c.Prev() {
		if len(out.Executions) >= limit || (o.MaxScan > 0 && scanned >= o.MaxScan) {
			out.NextBefore = keyU64(k) + 1
			break
		}
		scanned++
		var e Execution
		if err := json.Unmarshal(v, &e); err != nil {
			return ListResult{}, err
		}
		if !o.match(&e) {
			continue
		}
		out.Executions = append(out.Executions, &e)
	}
	return out, nil
}

// PendingIDs returns up to limit ids of executions waiting for a worker,
// in dispatch order (Pending).
func (t *Tx) PendingIDs(limit int) []uint64 {
	var out []uint64
	for id := range t.Pending(limit) {
		out = append(out, id)
	}
	return out
}

// Pending yields up to limit (0: all) ids of executions waiting for a
// worker in dispatch order (higher priority first, then oldest first),
// reading the index only as far as the caller goes.
func (t *Tx) Pending(limit int) iter.Seq[uint64] {
	return func(yield func(uint64) bool) {
		c := t.tx.Bucket(bucketPending).Cursor()
		n := 0
		for k, _ := c.First(); k != nil && (limit <= 0 || n < limit); k, _ = c.Next() {
			if len(k) != 16 {
				continue
			}
			n++
			if !yield(keyU64(k[8:])) {
				return
			}
		}
	}
}

// NotifyPending yields the ids of ended executions whose notification is
// still to be delivered, oldest first, reading the index only as far as
// the caller goes.
func (t *Tx) NotifyPending() iter.Seq[uint64] {
	return func(yield func(uint64) bool) {
		c := t.tx.Bucket(bucketNotify).Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			if len(k) == 8 && !yield(keyU64(k)) {
				return
			}
		}
	}
}

// ActiveExecutions returns every execution that has a leased attempt.
func (t *Tx) ActiveExecutions() ([]*Execution, error) {
	var out []*Execution
	c := t.tx.Bucket(bucketActive).Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		e, err := t.Execution(keyU64(k))
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// AppendEvents numbers evs after e's last event, stores them and updates
// e.EventCount. The caller stores e.
func (t *Tx) AppendEvents(e *Execution, evs []Event) error {
	ClipEvents(evs)          // bytes per event (limits.go)
	evs = e.admitEvents(evs) // logging level and event cap (events.go)
	if len(evs) == 0 {
		return nil
	}
	b, err := t.tx.Bucket(bucketEvents).CreateBucketIfNotExists(u64key(e.ID))
	if err != nil {
		return err
	}
	for i := range evs {
		e.EventCount++
		evs[i].Seq = e.EventCount
		v, err := json.Marshal(&evs[i])
		if err != nil {
			return err
		}
		if err := b.Put(u64key(evs[i].Seq), v); err != nil {
			return err
		}
	}
	return nil
}

// Events returns up to limit events of execution id with seq > after.
func (t *Tx) Events(id uint64, after uint64, limit int) ([]Event, error) {
	if limit <= 0 {
		limit = 1000
	}
	out := []Event{}
	b := t.tx.Bucket(bucketEvents).Bucket(u64key(id))
	if b == nil {
		return out, nil
	}
	c := b.Cursor()
	for k, v := c.Seek(u64key(after + 1)); k != nil && len(out) < limit; k, v = c.Next() {
		var ev Event
		if err := json.Unmarshal(v, &ev); err != nil {
			return nil, err
		}
		out = append(out, ev)
	}
	return out, nil
}

// PutWorker stores a worker registration.
func (t *Tx) PutWorker(w *Worker) error {
	return putJSON(t.tx.Bucket(bucketWorkers), []byte(w.ID), w)
}

// Worker reads one worker.
func (t *Tx) Worker(id string) (*Worker, error) {
	v := t.tx.Bucket(bucketWorkers).Get([]byte(id))
	if v == nil {
		return nil, fmt.Errorf("worker %q: %w", id, ErrNotFound)
	}
	var w Worker
	return &w, json.Unmarshal(v, &w)
}

// Workers lists every registered worker by id.
func (t *Tx) Workers() ([]*Worker, error) {
	return listJSON[Worker](t.tx.Bucket(bucketWorkers), nil, nil)
}

// DeleteWorker removes a worker registration.
func (t *Tx) DeleteWorker(id string) error {
	return t.tx.Bucket(bucketWorkers).Delete([]byte(id))
}
