package catalog

import (
	"errors"
	"fmt"
	"github.com/scaleout/scaleout/catalog/pkgspec"
	"slices"
	"time"
)

// Status is the status of an execution, spelled as in SSIS.
type Status string

// Execution statuses. created was made with start=false and waits for a
// start (its values and targets may still change); pending waits for a
// worker; running and stopping have a current attempt on a worker; the
// last four are terminal.
const (
	StatusCreated           Status = "created"
	StatusPending           Status = "pending"
	StatusRunning           Status = "running"
	StatusStopping          Status = "stopping"
	StatusSucceeded         Status = "succeeded"
	StatusFailed            Status = "failed"
	StatusCanceled          Status = "canceled"
	StatusEndedUnexpectedly Status = "ended_unexpectedly"
)

// Terminal reports whether s is a final status.
func (s Status) Terminal() bool {
	switch s {
	case StatusSucceeded, StatusFailed, StatusCanceled, StatusEndedUnexpectedly:
		return true
	}
	return false
}

// Active reports whether s means an attempt holds a lease on a worker.
func (s Status) Active() bool { return s == StatusRunning || s == StatusStopping }

// Valid reports whether s is one of the defined statuses.
func (s Status) Valid() bool {
	switch s {
	case StatusCreated, StatusPending, StatusRunning, StatusStopping,
		StatusSucceeded, StatusFailed, StatusCanceled, StatusEndedUnexpectedly:
		return true
	}
	return false
}

// Sentinel errors returned by the transition rules and the store. They are
// deterministic: every server applying the same command gets the same error.
var (
	// ErrNotFound means the object does not exist.
	ErrNotFound = errors.New("not found")
	// ErrAlreadyEnded means the execution is in a terminal status.
	ErrAlreadyEnded = errors.New("execution already ended")
	// ErrStaleAttempt means a report names an attempt that is not the
	// execution's current attempt, or the execution is not in a state that
	// accepts it; it changes nothing.
	ErrStaleAttempt = errors.New("stale attempt")
	// ErrNotPending means a lease was requested for an execution that is not
	// waiting for a worker.
	ErrNotPending = errors.New("execution is not pending")
	// ErrNotCreated means a start or a change of values was asked of an
	// execution that is not (or no longer) in created status.
	ErrNotCreated = errors.New("execution is not in created status")
)

// ExecutionSpec is what an execution runs, resolved and frozen when it is
// created, as SSIS freezes an execution's parameter values at
// start_execution: the package (inline source, or a deployed project
// version's package), every parameter value (sensitive ones sealed, see
// Cipher), the project's connections with ${project.X} already substituted,
// the logging level, retries and targeting. It is the one payload that
// creates an execution (fsm.ExecutionSubmit) and the only source of what a
// worker is told to run; nothing is looked up again at dispatch.
//
// Its JSON fields are inlined into Execution's, so records written before
// the spec had its own type read unchanged.
type ExecutionSpec struct {
	PackageName string `json:"package_name"`
	// PackageFile is the package's file name for messages (inline), or its
	// path inside the project archive (deployed packages).
	PackageFile string `json:"package_file,omitempty"`
	// Source is the package YAML of an inline execution; empty for a
	// deployed package, which the worker reads from the archive.
	Source    string            `json:"source,omitempty"`
	Params    map[string]string `json:"params,omitempty"`    // resolved values
	Sensitive []string          `json:"sensitive,omitempty"` // names of sensitive parameters: masked by read APIs
	Retries   int               `json:"retries"`             // attempts = retries + 1
	// TargetWorkers and TargetLabels restrict where the execution may run:
	// a worker must be one of TargetWorkers (if any) and carry every label
	// of TargetLabels.
	TargetWorkers []string          `json:"target_workers,omitempty"`
	TargetLabels  map[string]string `json:"target_labels,omitempty"`

	// Folder, Project and ProjectVersion name the deployed project version
	// an execution of a catalog package runs; ArchiveHash is the content
	// hash of that version's archive, which the worker fetches. All four are
	// empty for inline packages (see FromProject).
	Folder         string `json:"folder,omitempty"`
	Project        string `json:"project,omitempty"`
	ProjectVersion uint64 `json:"project_version,omitempty"`
	ArchiveHash    string `json:"archive_hash,omitempty"`
	// Environment is the environment reference used, as "folder/name".
	Environment string `json:"environment,omitempty"`
	// ProjectParams are the resolved project parameter values;
	// ProjectSensitive names the sensitive ones.
	ProjectParams    map[string]string `json:"project_params,omitempty"`
	ProjectSensitive []string          `json:"project_sensitive,omitempty"`
	// Connections are the project's connections with ${project.NAME}
	// references resolved; a property that took a sensitive value is sealed.
	Connections []pkgspec.ConnectionManager `json:"connections,omitempty"`
	// LoggingLevel decides which events are kept (KeepEvent); empty keeps
	// all.
	LoggingLevel string `json:"logging_level,omitempty"`
	// MaxEvents caps the event log (0: no cap).
	MaxEvents uint64 `json:"max_events,omitempty"`

	// The queue (queue.go). Priority orders pending executions (higher
	// first, FIFO within a priority). RetryDelay spaces the retry of a
	// failed attempt (doubled per retry with RetryBackoff).
	// MaxConcurrent > 0 caps the running executions of ConcurrencyGroup
	// (empty: this execution's package). Unstarted creates the execution
	// in created status (SSIS create_execution without start_execution).
	// WaitForWorker lets an execution target workers no registered worker
	// matches (the master refuses it otherwise).
	Priority         int           `json:"priority,omitempty"`
	RetryDelay       time.Duration `json:"retry_delay,omitempty"`
	RetryBackoff     bool          `json:"retry_backoff,omitempty"`
	MaxConcurrent    int           `json:"max_concurrent,omitempty"`
	ConcurrencyGroup string        `json:"concurrency_group,omitempty"`
	Unstarted        bool          `json:"unstarted,omitempty"`
	WaitForWorker    bool          `json:"wait_for_worker,omitempty"`

	// IdempotencyKey, if set, makes the creation idempotent: the FSM
	// creates no second execution for a key it saw within IdempotencyTTL
	// and answers with the first one's id (idempotency.go). RequestHash
	// fingerprints the client's request, so that a key reused for another
	// request is refused.
	IdempotencyKey string `json:"idempotency_key,omitempty"`
	RequestHash    string `json:"request_hash,omitempty"`

	// Notify is the package's notify key (header values sealed): the
	// leader calls its webhook when the execution ends that way
	// (NeedsNotify).
	Notify *Notify `json:"notify,omitempty"`
}

// FromProject reports whether the spec runs a deployed project's package
// rather than an inline one. Check guarantees that exactly one is named.
func (s *ExecutionSpec) FromProject() bool { return s.Project != "" }

// Check reports the first rule s breaks. It is deterministic (the FSM runs
// it on every server); the master checks the same before proposing.
func (s *ExecutionSpec) Check() error {
	if err := s.checkLimits(); err != nil {
		return err
	}
	switch {
	case s.PackageName == "":
		return fmt.Errorf("%w: package name is empty", ErrInvalid)
	case s.Retries < 0:
		return fmt.Errorf("%w: negative retry count %d", ErrInvalid, s.Retries)
	case s.Retries > MaxRetries:
		return fmt.Errorf("%w: retry count %d is over the limit of %d", ErrInvalid, s.Retries, MaxRetries)
	case s.LoggingLevel != "" && !ValidLoggingLevel(s.LoggingLevel):
		return fmt.Errorf("%w: unknown logging level %q", ErrInvalid, s.LoggingLevel)
	}
	if s.FromProject() {
		if s.Source != "" {
			return fmt.Errorf("%w: an execution of a deployed package carries no package source", ErrInvalid)
		}
		if s.Folder == "" || s.ProjectVersion == 0 || s.ArchiveHash == "" || s.PackageFile == "" {
			return fmt.Errorf("%w: an execution of a deployed package needs folder, project version, archive hash and package file", ErrInvalid)
		}
	} else {
		if s.Source == "" {
			return fmt.Errorf("%w: package %q has no source", ErrInvalid, s.PackageName)
		}
		if s.Folder != "" || s.ArchiveHash != "" || s.ProjectVersion != 0 || len(s.ProjectParams) > 0 || len(s.Connections) > 0 || s.Environment != "" {
			return fmt.Errorf("%w: an inline package names no project, environment or project values", ErrInvalid)
		}
	}
	if err := CheckIdempotencyKey(s.IdempotencyKey); err != nil {
		return err
	}
	if err := s.checkQueue(); err != nil {
		return err
	}
	if s.Notify != nil {
		if err := CheckNotify(s.Notify); err != nil {
			return err
		}
	}
	for _, w := range s.TargetWorkers {
		if w == "" {
			return fmt.Errorf("%w: target worker id is empty", ErrInvalid)
		}
	}
	for k := range s.TargetLabels {
		if k == "" {
			return fmt.Errorf("%w: target label name is empty", ErrInvalid)
		}
	}
	return nil
}

// Execution is one run of a package: its frozen spec, its status and the
// history of its attempts.
type Execution struct {
	// ID, Status and Attempt come first in the stored JSON, so that
	// Tx.ExecutionState reads them without scanning the spec.
	ID      uint64 `json:"id"`
	Status  Status `json:"status"`
	Attempt int    `json:"attempt"` // current (last) attempt number, 0 before the first lease
	ExecutionSpec
	// HandBacks counts attempts that draining workers gave back; they do
	// not use up retries.
	HandBacks int       `json:"hand_backs,omitempty"`
	Caller    string    `json:"caller,omitempty"`
	Worker    string    `json:"worker,omitempty"`
	Message   string    `json:"message,omitempty"` // why it ended, or why it waits
	CreatedAt time.Time `json:"created_at"`
	// QueuedAt is when it was last queued: created, started or retried.
	QueuedAt *time.Time `json:"queued_at,omitempty"`
	// NotBefore delays the next lease of a pending execution (a retry
	// delay); the leader stamps it from its clock, lease compares it with
	// the time the leader stamped on the lease.
	NotBefore  *time.Time `json:"not_before,omitempty"`
	StartedAt  *time.Time `json:"started_at,omitempty"`
	EndedAt    *time.Time `json:"ended_at,omitempty"`
	Attempts   []Attempt  `json:"attempts,omitempty"`
	EventCount uint64     `json:"event_count"` // sequence number of the last event
	// Truncated is set once MaxEvents was reached and the truncation event
	// written.
	Truncated bool `json:"truncated,omitempty"`
	// Notified is the outcome of the package's notification, once recorded.
	Notified *Delivery `json:"notified,omitempty"`
}

// NeedsNotify reports whether e has ended in a way its package's notify
// wants and the delivery is not recorded yet. Failure means failed or
// ended_unexpectedly; a canceled execution is notified on completion only.
func (e *Execution) NeedsNotify() bool {
	return e.Notify != nil && e.Notified == nil && e.Status.Terminal() &&
		e.Notify.Wants(e.Status == StatusSucceeded, e.Status == StatusFailed || e.Status == StatusEndedUnexpectedly)
}

// Attempt records one lease of an execution to a worker.
type Attempt struct {
	N         int        `json:"n"`
	Worker    string     `json:"worker"`
	StartedAt time.Time  `json:"started_at"`
	EndedAt   *time.Time `json:"ended_at,omitempty"`
	Result    string     `json:"result,omitempty"`
	// Poll names the worker's poll whose answer leased this attempt
	// (api.PollRequest.Token). A worker that did not receive that answer
	// says so in a later poll, and any leader hands it the same attempt
	// again instead of expiring an attempt that never started.
	Poll string `json:"poll,omitempty"`
	// Reported counts the numbered events of this attempt applied so far
	// (see NewEvents).
	Reported uint64 `json:"reported,omitempty"`
}

// Event is one event message of an execution (SSIS: operation messages).
type Event struct {
	Seq     uint64    `json:"seq"`
	Time    time.Time `json:"time"`
	Type    string    `json:"type"`
	Attempt int       `json:"attempt,omitempty"`
	Task    string    `json:"task,omitempty"`
	Message string    `json:"message"`
}

// EventStatusChange is the event type the catalog records on every status
// transition.
const EventStatusChange = "status_change"

// Worker is a registered Scale Out Worker.
type Worker struct {
	ID           string            `json:"id"`
	Node         string            `json:"node"`
	Labels       map[string]string `json:"labels,omitempty"`
	MaxTasks     int               `json:"max_tasks"`
	Enabled      bool              `json:"enabled"`
	RegisteredAt time.Time         `json:"registered_at"`
	// Unapproved: the worker waits for an admin's 'workers approve' and
	// gets no work (catalog.SettingAutoApproveWorkers).
	Unapproved bool `json:"unapproved,omitempty"`
	// Certificate: the worker registered over a connection that presented
	// a server or worker certificate of the cluster CA (set by the API
	// from the verified certificate, never by the worker's word).
	Certificate bool `json:"certificate,omitempty"`
}

// MaxHandBacks bounds how often an execution may be handed back by draining
// workers before it ends ended_unexpectedly, so that it cannot bounce forever.
const MaxHandBacks = 10

// Matches reports whether worker w may run an execution of s.
func (s *ExecutionSpec) Matches(w *Worker) bool {
	if len(s.TargetWorkers) > 0 && !slices.Contains(s.TargetWorkers, w.ID) {
		return false
	}
	for k, v := range s.TargetLabels {
		if w.Labels[k] != v {
			return false
		}
	}
	return true
}

// Transition is the outcome of a status rule: the events it produced. The
// caller stores the execution and appends the events.
type Transition struct {
	Events []Event
}

func (e *Execution) setStatus(to Status, now time.Time, msg string, tr *Transition) {
	from := e.Status
	e.Status = to
	text := fmt.Sprintf("%s -> %s", from, to)
	if msg != "" {
		text += ": " + msg
	}
	tr.Events = append(tr.Events, Event{Time: now, Type: EventStatusChange, Attempt: e.Attempt, Message: text})
	if to.Terminal() {
		t := now
		e.EndedAt = &t
	}
}

func (e *Execution) endAttempt(now time.Time, result string) {
	if n := len(e.Attempts); n > 0 && e.Attempts[n-1].EndedAt == nil {
		t := now
		e.Attempts[n-1].EndedAt = &t
		e.Attempts[n-1].Result = result
	}
}

// NewEvents returns the events of a numbered batch (first: the number of
// evs[0] among the current attempt's events, from 1) that the attempt has
// not had yet, and counts them: a batch the worker sent again because the
// answer was lost (the leader died after committing it) is applied once.
// A batch that is not numbered (first 0: an older worker) is returned
// whole. A gap (a batch that never arrived) is accepted as it is.
func (e *Execution) NewEvents(first uint64, evs []Event) []Event {
	n := len(e.Attempts)
	if first == 0 || n == 0 {
		return evs
	}
	a := &e.Attempts[n-1]
	if had := a.Reported; first-1 < had {
		skip := had - (first - 1)
		if skip >= uint64(len(evs)) {
			return evs[:0]
		}
		evs, first = evs[skip:], first+skip
	}
	a.Reported = first - 1 + uint64(len(evs))
	return evs
}

// Lease gives attempt number attempt of a pending execution to worker. The
// attempt must be the next one (current + 1), so that two concurrent lease
// decisions for the same execution cannot both succeed.
func (e *Execution) Lease(worker string, attempt int, now time.Time) (Transition, error) {
	var tr Transition
	if e.Status.Terminal() {
		return tr, ErrAlreadyEnded
	}
	if e.Status != StatusPending {
		return tr, ErrNotPending
	}
	if attempt != e.Attempt+1 {
		return tr, fmt.Errorf("%w: lease for attempt %d, next is %d", ErrStaleAttempt, attempt, e.Attempt+1)
	}
	if e.NotBefore != nil && now.Before(*e.NotBefore) {
		return tr, fmt.Errorf("%w: execution %d waits for its retry delay until %s", ErrNotPending, e.ID, e.NotBefore.Format(time.RFC3339Nano))
	}
	e.NotBefore = nil
	e.Attempt = attempt
	e.Worker = worker
	e.Message = ""
	if e.StartedAt == nil {
		t := now
		e.StartedAt = &t
	}
	e.Attempts = append(e.Attempts, Attempt{N: attempt, Worker: worker, StartedAt: now})
	e.setStatus(StatusRunning, now, fmt.Sprintf("attempt %d on worker %s", attempt, worker), &tr)
	return tr, nil
}

// checkCurrent verifies that a report about attempt comes from the current,
// active attempt.
func (e *Execution) checkCurrent(attempt int) error {
	return ExecutionState{ID: e.ID, Status: e.Status, Attempt: e.Attempt}.CheckReport(attempt)
}

// ExecutionState is the part of an execution that says whether an attempt
// is current: what a worker's every poll checks for each attempt it runs.
// Tx.ExecutionState reads it without decoding the rest of the record (the
// spec: package source, values, connections), the bulk of it.
type ExecutionState struct {
	ID      uint64 `json:"id"`
	Status  Status `json:"status"`
	Attempt int    `json:"attempt"`
}

// CheckReport returns nil if events or results from attempt may be
// accepted: the execution is active and attempt is its current one.
func (s ExecutionState) CheckReport(attempt int) error {
	if s.Status.Terminal() {
		return fmt.Errorf("%w: execution %d is %s", ErrStaleAttempt, s.ID, s.Status)
	}
	if !s.Status.Active() || attempt != s.Attempt {
		return fmt.Errorf("%w: execution %d attempt %d is not current (current %d, %s)", ErrStaleAttempt, s.ID, attempt, s.Attempt, s.Status)
	}
	return nil
}

// CheckReport returns nil if events or results from attempt may be accepted.
func (e *Execution) CheckReport(attempt int) error { return e.checkCurrent(attempt) }

// Finish records the result a worker reported for attempt: succeeded,
// failed or canceled.
func (e *Execution) Finish(attempt int, result Status, msg string, now time.Time) (Transition, error) {
	var tr Transition
	if err := e.checkCurrent(attempt); err != nil {
		return tr, err
	}
	switch result {
	case StatusSucceeded, StatusFailed, StatusCanceled:
	default:
		return tr, fmt.Errorf("invalid result %q", result)
	}
	e.endAttempt(now, string(result))
	if result == StatusFailed && e.Status == StatusRunning && e.retriesLeft() {
		e.retry(fmt.Sprintf("attempt %d failed", e.Attempt), msg, now, &tr)
		return tr, nil
	}
	e.Message = msg
	e.setStatus(result, now, msg, &tr)
	return tr, nil
}

// Expire ends attempt because its worker stopped heartbeating or died. If a
// stop was requested the execution is canceled; otherwise it is retried while
// attempts remain (attempts = retries + 1), else it ends ended_unexpectedly.
func (e *Execution) Expire(attempt int, reason string, now time.Time) (Transition, error) {
	return e.expire(attempt, reason, StatusEndedUnexpectedly, now)
}

// Interrupt ends attempt because its worker stopped it on purpose (agent
// shutdown). Like Expire it retries while attempts remain, but with none left
// the execution is recorded as canceled, not as ended unexpectedly.
func (e *Execution) Interrupt(attempt int, reason string, now time.Time) (Transition, error) {
	return e.expire(attempt, reason, StatusCanceled, now)
}

// HandBack ends attempt because its worker is draining (graceful leave): the
// execution goes back to pending without using up a retry, at most
// MaxHandBacks times; a stopping execution is canceled instead.
func (e *Execution) HandBack(attempt int, reason string, now time.Time) (Transition, error) {
	var tr Transition
	if err := e.checkCurrent(attempt); err != nil {
		return tr, err
	}
	if e.Status == StatusStopping || e.HandBacks >= MaxHandBacks {
		return e.expire(attempt, reason, StatusEndedUnexpectedly, now)
	}
	e.endAttempt(now, "handed back: "+reason)
	e.HandBacks++
	e.Worker = ""
	e.queued(now)
	e.Message = fmt.Sprintf("attempt %d handed back (%s)", e.Attempt, reason)
	e.setStatus(StatusPending, now, e.Message, &tr)
	return tr, nil
}

func (e *Execution) expire(attempt int, reason string, final Status, now time.Time) (Transition, error) {
	var tr Transition
	if err := e.checkCurrent(attempt); err != nil {
		return tr, err
	}
	e.endAttempt(now, "lost: "+reason)
	switch {
	case e.Status == StatusStopping:
		e.Message = reason
		e.setStatus(StatusCanceled, now, reason, &tr)
	case e.retriesLeft():
		e.Message = fmt.Sprintf("attempt %d lost (%s); retrying", e.Attempt, reason)
		e.Worker = ""
		e.queued(now)
		e.setStatus(StatusPending, now, e.Message, &tr)
	default:
		e.Message = fmt.Sprintf("attempt %d lost (%s); no retries left", e.Attempt, reason)
		e.setStatus(final, now, e.Message, &tr)
	}
	return tr, nil
}

// Stop asks for the execution to end: one that waits for a worker is
// canceled at once, a running one moves to stopping until its worker reports.
func (e *Execution) Stop(caller string, now time.Time) (Transition, error) {
	var tr Transition
	msg := "stop requested"
	if caller != "" {
		msg += " by " + caller
	}
	switch e.Status {
	case StatusPending, StatusCreated:
		e.Message = msg
		e.setStatus(StatusCanceled, now, msg, &tr)
	case StatusRunning:
		e.setStatus(StatusStopping, now, msg, &tr)
	case StatusStopping:
		// already stopping: idempotent
	default:
		return tr, fmt.Errorf("%w: execution %d is %s", ErrAlreadyEnded, e.ID, e.Status)
	}
	return tr, nil
}
