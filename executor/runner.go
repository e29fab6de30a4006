package executor

import (
	"context"
	"database/sql"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/scaleout/scaleout/catalog/pkgspec"
)

func validLevel(l string) bool { return slices.Contains(pkgspec.LoggingLevels, l) }

// levelFilter reports whether an event type is kept.
type levelFilter func(typ string) bool

func levelOf(l string) levelFilter {
	switch l {
	case pkgspec.LoggingNone:
		return func(typ string) bool { return typ == EventError || typ == EventTaskFailed }
	case pkgspec.LoggingPerformance:
		return func(typ string) bool {
			switch typ {
			case EventPostExecute, EventProgress, EventWarning, EventError, EventTaskFailed:
				return true
			}
			return false
		}
	case pkgspec.LoggingVerbose:
		return func(string) bool { return true }
	}
	return func(typ string) bool { return typ != EventDiagnostic }
}

// runner holds the state of one Run call, shared by the packages it runs
// (the top one and those of package tasks).
type runner struct {
	opts  Options
	sink  Sink
	level levelFilter
	sem   *sem
	// drainTimeout is the package constant, shortened by tests.
	drainTimeout time.Duration
	// dataflowProgress is the interval of data flow progress events; 0
	// means the engine's default. Tests shorten it.
	dataflowProgress time.Duration

	mu      sync.Mutex
	secrets []string           // longest first
	dbs     map[string]*sql.DB // by driver and DSN
	// derived and derivedBytes count the secrets taint added; past
	// MaxDerivedSecrets or MaxDerivedBytes no more are tracked and
	// overflow hides every later event message instead (fail closed).
	derived, derivedBytes int
	overflow              bool
}

// Limits of taint tracking: a run that derives more values from secrets
// (a loop transforming a secret on every pass) has every later event
// message replaced by HiddenMessage, since the values it derives next
// could no longer be masked.
const (
	MaxDerivedSecrets = 1000
	MaxDerivedBytes   = 4 << 20
)

// HiddenMessage replaces event messages once taint tracking overflowed.
const HiddenMessage = "[message hidden: this run derived more values from sensitive values than are tracked for masking (1000 values or 4 MiB)]"

// minSecret is the shortest secret that is masked: masking every "1" of
// the output for a one-character secret would destroy the log and tell
// little.
const minSecret = 4

func (r *runner) addSecret(s string) {
	r.add(s, false)
}

// add adds the secret s (derived: found by taint, and counted against the
// limits) unless it is too short or known, keeping the list longest first.
func (r *runner) add(s string, derived bool) {
	if len(s) < minSecret {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.overflow && derived {
		return
	}
	i, found := slices.BinarySearchFunc(r.secrets, s, func(e, t string) int {
		if len(e) != len(t) {
			return len(t) - len(e) // longer first
		}
		return strings.Compare(e, t)
	})
	if found {
		return
	}
	if derived {
		if r.derived+1 > MaxDerivedSecrets || r.derivedBytes+len(s) > MaxDerivedBytes {
			r.overflow = true
			return
		}
		r.derived++
		r.derivedBytes += len(s)
	}
	r.secrets = slices.Insert(r.secrets, i, s)
}

// mask replaces every secret in s with Masked (or all of s with
// HiddenMessage once taint tracking overflowed).
func (r *runner) mask(s string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.overflow && s != "" {
		return HiddenMessage
	}
	for _, sec := range r.secrets {
		if strings.Contains(s, sec) {
			s = strings.ReplaceAll(s, sec, Masked)
		}
	}
	return s
}

// taint makes v, the value of an expression, a secret when one of the
// inputs the expression read holds a secret: a value derived from a
// sensitive one (upper(param.pw), "user:" + @[$Package::pw], a variable
// set from either) is masked like the value itself, and so is everything
// derived from it in turn. Booleans and nil carry too little to mask.
func (r *runner) taint(v any, inputs []any) {
	switch v.(type) {
	case nil, bool:
		return
	}
	if !r.hasSecrets() || !slices.ContainsFunc(inputs, r.holdsSecret) {
		return
	}
	r.add(format(v), true)
	if m, ok := v.(map[string]any); ok { // a derived object: its fields too
		for _, x := range m {
			r.addDerived(x)
		}
	}
	if l, ok := v.([]any); ok {
		for _, x := range l {
			r.addDerived(x)
		}
	}
}

// addDerived adds the text of x (not a boolean or nil) as a secret.
func (r *runner) addDerived(x any) {
	switch x.(type) {
	case nil, bool:
		return
	}
	r.add(format(x), true)
}

func (r *runner) hasSecrets() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.secrets) > 0
}

// holdsSecret reports whether v, or a string, element or field within it,
// contains a secret.
func (r *runner) holdsSecret(v any) bool {
	switch x := v.(type) {
	case nil, bool:
		return false
	case map[string]any:
		for _, e := range x {
			if r.holdsSecret(e) {
				return true
			}
		}
		return false
	case []any:
		return slices.ContainsFunc(x, r.holdsSecret)
	}
	s := format(v)
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, sec := range r.secrets {
		if strings.Contains(s, sec) {
			return true
		}
	}
	return false
}

// mayStart asks Options.MayStart whether a task may start now.
func (r *runner) mayStart() error {
	if r.opts.MayStart == nil {
		return nil
	}
	return r.opts.MayStart()
}

func (r *runner) emit(typ, task, msg string) {
	if r.level != nil && !r.level(typ) {
		return
	}
	r.sink.Emit(Event{Time: time.Now().UTC(), Type: typ, Task: task, Message: r.mask(msg)})
}

// sem is a FIFO counting semaphore: slots go to waiters in the order they
// enqueued, so that ready tasks start in file order.
type sem struct {
	mu    sync.Mutex
	free  int
	queue []*ticket
}

// ticket is one place in the semaphore's queue.
type ticket struct {
	s       *sem
	ch      chan struct{}
	granted bool
}

func newSem(n int) *sem { return &sem{free: n} }

// enqueue takes a place in the queue; wait on the ticket for the slot.
func (s *sem) enqueue() *ticket {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := &ticket{s: s, ch: make(chan struct{})}
	if s.free > 0 && len(s.queue) == 0 {
		s.free--
		t.granted = true
		close(t.ch)
	} else {
		s.queue = append(s.queue, t)
	}
	return t
}

// wait blocks until the ticket holds a slot (true) or ctx is done (false,
// and the slot or the place is given up).
func (t *ticket) wait(ctx context.Context) bool {
	select {
	case <-t.ch:
		if ctx.Err() == nil {
			return true
		}
	case <-ctx.Done():
	}
	s := t.s
	s.mu.Lock()
	if t.granted {
		s.mu.Unlock()
		s.release()
		return false
	}
	if i := slices.Index(s.queue, t); i >= 0 {
		s.queue = slices.Delete(s.queue, i, i+1)
	}
	s.mu.Unlock()
	return false
}

// release frees a slot, handing it to the first waiter.
func (s *sem) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.queue) > 0 {
		t := s.queue[0]
		s.queue = s.queue[1:]
		t.granted = true
		close(t.ch)
		return
	}
	s.free++
}
