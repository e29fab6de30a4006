package catalog

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"iter"
	"sort"
	"strings"
	"time"
)

// The queue: priorities, retry delays and concurrency caps.
//
// Pending executions are indexed by (priority descending, id ascending)
// in the pending bucket, so the lease scan reads them in dispatch order
// and touches only pending ones (a million ended executions are never
// read). Running executions are indexed once per cap they count against
// (the capKeys bucket: cap key + 0x00 + id), so "how many run under this
// cap" is a short prefix scan that stops at the cap. Caps themselves
// (max_concurrent of the cluster, a folder, a project, a package) are
// catalog settings in the caps bucket.

var (
	bucketCapKeys = []byte("cap_keys") // index: one key per (cap, active execution)
	bucketCaps    = []byte("caps")     // settings: cap key -> max_concurrent
	bucketCreated = []byte("created")  // index: executions in created status, by id
)

// UnstartedExecutions returns up to limit ids of executions created
// (never started) before before, oldest first.
func (t *Tx) UnstartedExecutions(before time.Time, limit int) ([]uint64, error) {
	var out []uint64
	c := t.tx.Bucket(bucketCreated).Cursor()
	for k, _ := c.First(); k != nil && len(out) < limit; k, _ = c.Next() {
		e, err := t.Execution(keyU64(k))
		if err != nil {
			return nil, err
		}
		if !e.StaleUnstarted(before) {
			break // ids grow with creation time: the rest are newer
		}
		out = append(out, e.ID)
	}
	return out, nil
}

// StaleUnstarted reports whether e is in created status and was created
// before before (a zero before: never).
func (e *Execution) StaleUnstarted(before time.Time) bool {
	return !before.IsZero() && e.Status == StatusCreated && e.CreatedAt.Before(before)
}

// Cap scopes, as the API names them.
const (
	CapCluster = "cluster"
	CapFolder  = "folder"
	CapProject = "project"
	CapPackage = "package"
	CapGroup   = "group" // an execution's own max_concurrent
)

// Cap names one concurrency cap: its scope and, below the cluster, the
// folder, project and package it applies to (Group for an execution's own).
type Cap struct {
	Scope   string `json:"scope"`
	Folder  string `json:"folder,omitempty"`
	Project string `json:"project,omitempty"`
	Package string `json:"package,omitempty"`
	Group   string `json:"group,omitempty"`
}

// CapSetting is a configured cap.
type CapSetting struct {
	Cap
	MaxConcurrent int `json:"max_concurrent"`
}

// Key is the cap's index key (names cannot hold 0x00: CheckCap).
func (c Cap) Key() string {
	switch c.Scope {
	case CapFolder:
		return "f\x00" + c.Folder
	case CapProject:
		return "p\x00" + c.Folder + "\x00" + c.Project
	case CapPackage:
		return "k\x00" + c.Folder + "\x00" + c.Project + "\x00" + c.Package
	case CapGroup:
		return "g\x00" + c.Group
	}
	return "c"
}

// String names the cap in plain words, as pending reasons show it.
func (c Cap) String() string {
	switch c.Scope {
	case CapFolder:
		return "folder " + c.Folder
	case CapProject:
		return "project " + c.Folder + "/" + c.Project
	case CapPackage:
		return "package " + c.Folder + "/" + c.Project + "/" + c.Package
	case CapGroup:
		return "concurrency group " + c.Group
	}
	return "the cluster"
}

// CheckCap checks a cap setting's names.
func CheckCap(c CapSetting) error {
	if c.MaxConcurrent < 0 {
		return fmt.Errorf("%w: max_concurrent must not be negative (got %d; 0 removes the cap)", ErrInvalid, c.MaxConcurrent)
	}
	need := map[string][]string{CapCluster: nil, CapFolder: {"folder"}, CapProject: {"folder", "project"},
		CapPackage: {"folder", "project", "package"}}
	names, ok := need[c.Scope]
	if !ok {
		return fmt.Errorf("%w: unknown cap scope %q (want cluster, folder, project or package)", ErrInvalid, c.Scope)
	}
	got := map[string]string{"folder": c.Folder, "project": c.Project, "package": c.Package}
	for _, n := range []string{"folder", "project", "package"} {
		wanted := false
		for _, w := range names {
			wanted = wanted || w == n
		}
		switch {
		case wanted && got[n] == "":
			return fmt.Errorf("%w: a %s cap needs a %s", ErrInvalid, c.Scope, n)
		case !wanted && got[n] != "":
			return fmt.Errorf("%w: a %s cap names no %s", ErrInvalid, c.Scope, n)
		}
		if err := checkCapName(n, got[n]); err != nil {
			return err
		}
	}
	if c.Group != "" {
		return fmt.Errorf("%w: a group cap is set per execution (max_concurrent), not as a setting", ErrInvalid)
	}
	return nil
}

func checkCapName(what, s string) error {
	if strings.ContainsRune(s, 0) {
		return fmt.Errorf("%w: %s name holds a NUL byte", ErrInvalid, what)
	}
	return checkBytes(what+" name", s, MaxNameBytes)
}

// checkQueue checks the queue fields of a spec (part of Check).
func (s *ExecutionSpec) checkQueue() error {
	switch {
	case s.Priority > MaxPriority || s.Priority < -MaxPriority:
		return fmt.Errorf("%w: priority %d is outside -%d..%d", ErrInvalid, s.Priority, MaxPriority, MaxPriority)
	case s.RetryDelay < 0 || s.RetryDelay > MaxRetryDelay:
		return fmt.Errorf("%w: retry delay %s is outside 0..%s", ErrInvalid, s.RetryDelay, MaxRetryDelay)
	case s.MaxConcurrent < 0:
		return fmt.Errorf("%w: max_concurrent must not be negative (got %d)", ErrInvalid, s.MaxConcurrent)
	case s.ConcurrencyGroup != "" && s.MaxConcurrent == 0:
		return fmt.Errorf("%w: concurrency group %.64q needs max_concurrent", ErrInvalid, s.ConcurrencyGroup)
	}
	return checkCapName("concurrency group", s.ConcurrencyGroup)
}

// PackageKey names the package an execution runs: folder/project/package
// for a deployed one, "inline/NAME" for an inline one.
func (s *ExecutionSpec) PackageKey() string {
	if s.FromProject() {
		return s.Folder + "/" + s.Project + "/" + s.PackageName
	}
	return "inline/" + s.PackageName
}

// CapLimit is a cap that applies to an execution, with its limit (0: none
// configured).
type CapLimit struct {
	Cap
	Max int
}

// Caps lists the caps s counts against: the cluster, and for a deployed
// package its folder, project and package, and its own group when it
// sets max_concurrent.
func (s *ExecutionSpec) Caps() []Cap {
	out := []Cap{{Scope: CapCluster}}
	if s.FromProject() {
		out = append(out, Cap{Scope: CapFolder, Folder: s.Folder},
			Cap{Scope: CapProject, Folder: s.Folder, Project: s.Project},
			Cap{Scope: CapPackage, Folder: s.Folder, Project: s.Project, Package: s.PackageName})
	}
	if s.MaxConcurrent > 0 {
		out = append(out, Cap{Scope: CapGroup, Group: s.group()})
	}
	return out
}

func (s *ExecutionSpec) group() string {
	if s.ConcurrencyGroup != "" {
		return s.ConcurrencyGroup
	}
	return s.PackageKey()
}

func capIndexKey(capKey string, id uint64) []byte {
	k := make([]byte, 0, len(capKey)+9)
	k = append(k, capKey...)
	k = append(k, 0)
	return append(k, u64key(id)...)
}

// putCapKeys indexes an active execution under every cap it counts
// against, or removes it from them.
func (t *Tx) putCapKeys(e *Execution, active bool) error {
	b := t.tx.Bucket(bucketCapKeys)
	for _, c := range e.Caps() {
		k := capIndexKey(c.Key(), e.ID)
		var err error
		if active {
			err = b.Put(k, nil)
		} else {
			err = b.Delete(k)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// RunningUnder counts the active executions under cap c, stopping at
// limit (0: counts all).
func (t *Tx) RunningUnder(c Cap, limit int) int { return t.RunningUnderKey(c.Key(), limit) }

// RunningUnderKey counts the active executions under the cap with index
// key key, stopping at limit (0: counts all).
func (t *Tx) RunningUnderKey(key string, limit int) int {
	prefix := append([]byte(key), 0)
	cur := t.tx.Bucket(bucketCapKeys).Cursor()
	n := 0
	for k, _ := cur.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) && len(k) == len(prefix)+8; k, _ = cur.Next() {
		n++
		if limit > 0 && n >= limit {
			break
		}
	}
	return n
}

// CapSetting returns the configured max_concurrent of c (0: no cap).
func (t *Tx) CapSetting(c Cap) int { return t.CapLimitOf(c.Key(), 0) }

// SetCap stores a cap setting; max_concurrent 0 removes it. The settings
// list (Caps) reads the names back from the key.
func (t *Tx) SetCap(c CapSetting) error {
	if err := CheckCap(c); err != nil {
		return err
	}
	b := t.tx.Bucket(bucketCaps)
	k := []byte(c.Key())
	if c.MaxConcurrent == 0 {
		return b.Delete(k)
	}
	return b.Put(k, u64key(uint64(c.MaxConcurrent)))
}

// CapSettings lists every configured cap, cluster first, then by key.
func (t *Tx) CapSettings() []CapSetting {
	var out []CapSetting
	c := t.tx.Bucket(bucketCaps).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if len(v) != 8 {
			continue
		}
		parts := strings.Split(string(k), "\x00")
		s := CapSetting{MaxConcurrent: int(binary.BigEndian.Uint64(v))}
		switch {
		case parts[0] == "c" && len(parts) == 1:
			s.Scope = CapCluster
		case parts[0] == "f" && len(parts) == 2:
			s.Scope, s.Folder = CapFolder, parts[1]
		case parts[0] == "p" && len(parts) == 3:
			s.Scope, s.Folder, s.Project = CapProject, parts[1], parts[2]
		case parts[0] == "k" && len(parts) == 4:
			s.Scope, s.Folder, s.Project, s.Package = CapPackage, parts[1], parts[2], parts[3]
		default:
			continue
		}
		out = append(out, s)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Scope == CapCluster && out[j].Scope != CapCluster })
	return out
}

// CapLimits returns the caps that apply to s with their limits, only those
// with a limit.
func (t *Tx) CapLimits(s *ExecutionSpec) []CapLimit {
	var out []CapLimit
	for _, c := range s.Caps() {
		max := s.MaxConcurrent
		if c.Scope != CapGroup {
			max = t.CapSetting(c)
		}
		if max > 0 {
			out = append(out, CapLimit{Cap: c, Max: max})
		}
	}
	return out
}

// CapHit is a cap that keeps an execution from starting.
type CapHit struct {
	CapLimit
	Running int
}

func (h *CapHit) String() string {
	return fmt.Sprintf("%s is at its max_concurrent of %d (%d running)", h.Cap, h.Max, h.Running)
}

// CapBlocked returns the first cap that s may not start under, or nil.
// extra counts starts decided but not yet applied, by cap key (the
// leader's lease decision); nil for none.
func (t *Tx) CapBlocked(s *ExecutionSpec, extra map[string]int) *CapHit {
	for _, l := range t.CapLimits(s) {
		n := t.RunningUnder(l.Cap, l.Max) + extra[l.Key()]
		if n >= l.Max {
			return &CapHit{CapLimit: l, Running: n}
		}
	}
	return nil
}

// PendingMeta is what the pending index holds beside each id, so that the
// lease scan skips executions that wait for a retry delay or a cap without
// decoding them. It is valid only inside the transaction that read it.
type PendingMeta struct {
	// NotBefore is the execution's retry not-before time (Unix ns, 0: none).
	NotBefore int64
	// Group is its own max_concurrent, the limit of its group cap key.
	Group int
	// caps are the keys of the caps it counts against (Cap.Key), each
	// behind a 2-byte length.
	caps []byte
}

// The pending index value: a version byte, NotBefore (8 bytes), Group
// (4 bytes), then each cap key behind its 2-byte length. A binary form
// because the lease scan may pass over hundreds of thousands of them.
const pendingMetaV1 = 1

func pendingMeta(e *Execution) []byte {
	b := make([]byte, 13, 64)
	b[0] = pendingMetaV1
	if e.NotBefore != nil {
		binary.BigEndian.PutUint64(b[1:9], uint64(e.NotBefore.UnixNano()))
	}
	binary.BigEndian.PutUint32(b[9:13], uint32(e.MaxConcurrent))
	for _, c := range e.Caps() {
		k := c.Key()
		if len(k) > 0xffff {
			continue // names are bounded far below this (MaxNameBytes)
		}
		b = binary.BigEndian.AppendUint16(b, uint16(len(k)))
		b = append(b, k...)
	}
	return b
}

func decodePendingMeta(v []byte) PendingMeta {
	if len(v) < 13 || v[0] != pendingMetaV1 {
		return PendingMeta{} // unreadable: no caps (the FSM still checks them)
	}
	return PendingMeta{NotBefore: int64(binary.BigEndian.Uint64(v[1:9])), Group: int(binary.BigEndian.Uint32(v[9:13])), caps: v[13:]}
}

// eachCap calls fn with each cap key until fn returns false.
func (m PendingMeta) eachCap(fn func(k []byte) bool) {
	for b := m.caps; len(b) >= 2; {
		n := int(binary.BigEndian.Uint16(b))
		if len(b) < 2+n {
			return
		}
		if !fn(b[2 : 2+n]) {
			return
		}
		b = b[2+n:]
	}
}

// Caps returns the cap keys of the entry.
func (m PendingMeta) Caps() []string {
	var out []string
	m.eachCap(func(k []byte) bool { out = append(out, string(k)); return true })
	return out
}

// PendingEntries yields up to limit (0: all) pending executions in
// dispatch order with their index entry.
func (t *Tx) PendingEntries(limit int) iter.Seq2[uint64, PendingMeta] {
	return func(yield func(uint64, PendingMeta) bool) {
		c := t.tx.Bucket(bucketPending).Cursor()
		n := 0
		for k, v := c.First(); k != nil && (limit <= 0 || n < limit); k, v = c.Next() {
			if len(k) != 16 {
				continue
			}
			n++
			if !yield(keyU64(k[8:]), decodePendingMeta(v)) {
				return
			}
		}
	}
}

// CapLimitOf returns the limit of the cap with index key key: the
// configured setting, or group for an execution's own group key.
func (t *Tx) CapLimitOf(key string, group int) int {
	if strings.HasPrefix(key, "g\x00") {
		return group
	}
	v := t.tx.Bucket(bucketCaps).Get([]byte(key))
	if len(v) != 8 {
		return 0
	}
	return int(binary.BigEndian.Uint64(v))
}

// pendingKey orders the pending index: priority descending, then id.
func pendingKey(priority int, id uint64) []byte {
	var k [16]byte
	// Flip the sign bit for unsigned order, then invert for descending.
	binary.BigEndian.PutUint64(k[:8], ^(uint64(int64(priority)) ^ (1 << 63)))
	binary.BigEndian.PutUint64(k[8:], id)
	return k[:]
}

// migratePendingIndex rewrites a pending index of 8-byte id keys (written
// before priorities) into pendingKey order, and indexes the running
// executions of such a store under their caps. It runs when a store opens;
// every server derives the same indexes from the same executions.
func migratePendingIndex(tx *Tx) error {
	if tx.tx.Bucket(bucketCapKeys).Stats().KeyN == 0 {
		active, err := tx.ActiveExecutions()
		if err != nil {
			return err
		}
		for _, e := range active {
			if err := tx.putCapKeys(e, true); err != nil {
				return err
			}
		}
	}
	b := tx.tx.Bucket(bucketPending)
	var old [][]byte
	c := b.Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		if len(k) == 8 {
			old = append(old, append([]byte(nil), k...))
		}
	}
	for _, k := range old {
		if err := b.Delete(k); err != nil {
			return err
		}
		e, err := tx.Execution(keyU64(k))
		if err != nil {
			continue // an index entry without its execution: drop it
		}
		if e.Status == StatusPending {
			if err := b.Put(pendingKey(e.Priority, e.ID), pendingMeta(e)); err != nil {
				return err
			}
		}
	}
	return nil
}

// queued records that e (re)entered the queue at now.
func (e *Execution) queued(now time.Time) {
	t := now
	e.QueuedAt = &t
}

// retriesLeft reports whether another attempt may start: attempts =
// retries + 1, lost and failed attempts alike; handed-back ones are free.
func (e *Execution) retriesLeft() bool { return e.Attempt-e.HandBacks < e.Retries+1 }

// retryDelayAfter returns the delay before the next attempt after a failed
// one: RetryDelay, doubled for each earlier retry with RetryBackoff, at
// most MaxRetryDelay.
func (e *Execution) retryDelayAfter() time.Duration {
	d := e.RetryDelay
	if !e.RetryBackoff || d <= 0 {
		return d
	}
	for n := e.Attempt - e.HandBacks; n > 1 && d < MaxRetryDelay; n-- {
		d *= 2
	}
	return min(d, MaxRetryDelay)
}

// retry puts a failed execution back in the queue as its next attempt.
func (e *Execution) retry(what, msg string, now time.Time, tr *Transition) {
	e.Worker = ""
	d := e.retryDelayAfter()
	e.Message = fmt.Sprintf("%s (%s); retrying as attempt %d of %d", what, msg, e.Attempt+1, e.Retries+1+e.HandBacks)
	if msg == "" {
		e.Message = fmt.Sprintf("%s; retrying as attempt %d of %d", what, e.Attempt+1, e.Retries+1+e.HandBacks)
	}
	if d > 0 {
		nb := now.Add(d)
		e.NotBefore = &nb
		e.Message += fmt.Sprintf(" after %s", d)
	}
	e.queued(now)
	e.setStatus(StatusPending, now, e.Message, tr)
}

// Start queues a created execution (SSIS start_execution).
func (e *Execution) Start(caller string, now time.Time) (Transition, error) {
	var tr Transition
	switch {
	case e.Status.Terminal():
		return tr, fmt.Errorf("%w: execution %d is %s", ErrAlreadyEnded, e.ID, e.Status)
	case e.Status != StatusCreated:
		return tr, fmt.Errorf("%w: execution %d is %s (already started)", ErrNotCreated, e.ID, e.Status)
	}
	msg := "started"
	if caller != "" {
		msg += " by " + caller
	}
	e.Unstarted = false
	e.Message = ""
	e.queued(now)
	e.setStatus(StatusPending, now, msg, &tr)
	return tr, nil
}

// SetSpec replaces the values, targets and queue settings of a created
// execution with next (resolved and sealed by the leader). What it runs
// (the package, its project version, the environment) cannot change.
func (e *Execution) SetSpec(next ExecutionSpec, what string, now time.Time) (Transition, error) {
	var tr Transition
	switch {
	case e.Status.Terminal():
		return tr, fmt.Errorf("%w: execution %d is %s", ErrAlreadyEnded, e.ID, e.Status)
	case e.Status != StatusCreated:
		return tr, fmt.Errorf("%w: execution %d is %s; values and targets change only before it starts", ErrNotCreated, e.ID, e.Status)
	}
	cur := e.ExecutionSpec
	if next.PackageName != cur.PackageName || next.PackageFile != cur.PackageFile || next.Source != cur.Source ||
		next.Folder != cur.Folder || next.Project != cur.Project || next.ProjectVersion != cur.ProjectVersion ||
		next.ArchiveHash != cur.ArchiveHash || next.Environment != cur.Environment {
		return tr, fmt.Errorf("%w: the package, project version and environment of execution %d cannot change", ErrInvalid, e.ID)
	}
	if err := next.Check(); err != nil {
		return tr, err
	}
	next.Unstarted = true
	e.ExecutionSpec = next
	tr.Events = append(tr.Events, Event{Time: now, Type: EventStatusChange, Message: "set while created: " + what})
	return tr, nil
}

// CapCounter answers "is this cap full" for one lease decision: limits and
// running counts are read once per key, and the starts decided in this
// decision (Take) count too.
type CapCounter struct {
	tx      *Tx
	limit   map[string]int
	running map[string]int
	decided map[string]int
}

// NewCapCounter returns a counter over tx.
func NewCapCounter(tx *Tx) *CapCounter {
	return &CapCounter{tx: tx, limit: map[string]int{}, running: map[string]int{}, decided: map[string]int{}}
}

func isGroupKey(k []byte) bool { return len(k) >= 2 && k[0] == 'g' && k[1] == 0 }

func (c *CapCounter) lim(k []byte, group int) int {
	if isGroupKey(k) {
		return group
	}
	l, ok := c.limit[string(k)]
	if !ok {
		l = c.tx.CapLimitOf(string(k), 0)
		c.limit[string(k)] = l
	}
	return l
}

// Full reports whether one of meta's caps has no free slot.
func (c *CapCounter) Full(meta PendingMeta) bool {
	full := false
	meta.eachCap(func(k []byte) bool {
		l := c.lim(k, meta.Group)
		if l <= 0 {
			return true
		}
		r, ok := c.running[string(k)]
		if !ok {
			r = c.tx.RunningUnderKey(string(k), l)
			c.running[string(k)] = r
		}
		full = r+c.decided[string(k)] >= l
		return !full
	})
	return full
}

// Take counts a start decided for an execution with meta.
func (c *CapCounter) Take(meta PendingMeta) {
	meta.eachCap(func(k []byte) bool {
		if c.lim(k, meta.Group) > 0 {
			c.decided[string(k)]++
		}
		return true
	})
}
