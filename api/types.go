package api

import (
	"net/url"
	"time"
)

// DefaultAddress is the agent API address used when none is configured.
const DefaultAddress = "http://127.0.0.1:8391"

// Execution statuses, spelled as in SSIS. created: made with start=false,
// waiting for POST /v1/executions/{id}/start.
const (
	StatusCreated           = "created"
	StatusPending           = "pending"
	StatusRunning           = "running"
	StatusStopping          = "stopping"
	StatusSucceeded         = "succeeded"
	StatusFailed            = "failed"
	StatusCanceled          = "canceled"
	StatusEndedUnexpectedly = "ended_unexpectedly"
)

// Terminal reports whether status is a final execution status.
func Terminal(status string) bool {
	switch status {
	case StatusSucceeded, StatusFailed, StatusCanceled, StatusEndedUnexpectedly:
		return true
	}
	return false
}

// Masked replaces the value of a sensitive parameter in every read.
const Masked = "******"

// MaskURL hides the password of a URL (webhook URLs may carry credentials)
// behind Masked; anything that does not parse is returned as it is.
func MaskURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), Masked)
	}
	return u.String()
}

// Leader is the answer of GET /v1/status/leader.
// Health is the answer of GET /v1/status/health.
type Health struct {
	// Status is "ok"; an unhealthy agent answers 507 with an error instead.
	Status string `json:"status"`
	// TLS is true when every TCP port of the agent speaks mutual TLS.
	TLS bool `json:"tls"`
	// Insecure is true for a non-dev agent started with --insecure (no TLS).
	Insecure bool `json:"insecure"`
	// GossipEncrypted is true when the agent encrypts gossip (gossip_key).
	GossipEncrypted bool `json:"gossip_encrypted"`
}

// Leader is the answer of GET /v1/status/leader.
type Leader struct {
	Node string `json:"node"`
	API  string `json:"api"`
	// Index is the last Raft index the answering agent has applied to its
	// catalog (0 on worker-only agents). Benchmarks read it to count the
	// Raft commands a workload needs.
	Index uint64 `json:"index,omitempty"`
}

// SubmitRequest is the body of POST /v1/executions: a package given inline.
type SubmitRequest struct {
	// Package is the package YAML.
	Package string `json:"package"`
	// File is the package's file name, used in error messages.
	File string `json:"file,omitempty"`
	// Params are parameter values as strings; the server checks names and
	// types against the package.
	Params map[string]string `json:"params,omitempty"`
	// Retries is the number of times a failed or lost attempt is retried.
	Retries int `json:"retries,omitempty"`
	// Workers, if set, restricts the execution to these worker ids.
	Workers []string `json:"workers,omitempty"`
	// Labels, if set, restricts the execution to workers that have all of
	// these labels.
	Labels map[string]string `json:"labels,omitempty"`
	QueueOptions
}

// QueueOptions are the queue settings of a new execution, the same for
// inline and deployed packages (docs/executions.md).
type QueueOptions struct {
	// Start false creates the execution in status created: its values and
	// targets may change until POST /v1/executions/{id}/start queues it.
	// Absent or true queues it at once.
	Start *bool `json:"start,omitempty"`
	// Priority orders pending executions: higher first, FIFO within one
	// priority (-1000000..1000000, default 0).
	Priority int `json:"priority,omitempty"`
	// RetryDelay spaces the retry of a failed attempt (a Go duration such
	// as "30s"); RetryBackoff doubles it for each further retry.
	RetryDelay   string `json:"retry_delay,omitempty"`
	RetryBackoff bool   `json:"retry_backoff,omitempty"`
	// MaxConcurrent > 0 lets at most this many executions of
	// ConcurrencyGroup (default: this execution's package) run at once.
	MaxConcurrent    int    `json:"max_concurrent,omitempty"`
	ConcurrencyGroup string `json:"concurrency_group,omitempty"`
	// WaitForWorker accepts targets that no registered worker matches
	// (refused with 400 otherwise): the execution waits for such a worker.
	WaitForWorker bool `json:"wait_for_worker,omitempty"`
	// IdempotencyKey makes the submission safe to retry: within 24 hours
	// the same key creates no second execution and answers with the first
	// one's id (also the Idempotency-Key header). Up to 255 printable
	// ASCII characters; a key used again for a different request is 409.
	IdempotencyKey string `json:"idempotency_key,omitempty"`
}

// IdempotencyHeader carries a submission's idempotency key, as the body's
// idempotency_key does; a request with both must give the same key (400
// otherwise).
const IdempotencyHeader = "Idempotency-Key"

// SetExecutionRequest is the body of POST /v1/executions/{id}/values: it
// changes a created execution before it starts. Params are set one by one
// over the execution's values ("NAME", or "project.NAME" for a deployed
// package's project parameter), checked and sealed as at creation; a nil
// Workers/Labels/Priority leaves that setting as it is.
type SetExecutionRequest struct {
	Params   map[string]string  `json:"params,omitempty"`
	Workers  *[]string          `json:"workers,omitempty"`
	Labels   *map[string]string `json:"labels,omitempty"`
	Priority *int               `json:"priority,omitempty"`
}

// Cap is a concurrency cap (GET/PUT /v1/caps): scope cluster, folder,
// project or package, the names it needs, and MaxConcurrent (0 removes it).
type Cap struct {
	Scope         string `json:"scope"`
	Folder        string `json:"folder,omitempty"`
	Project       string `json:"project,omitempty"`
	Package       string `json:"package,omitempty"`
	MaxConcurrent int    `json:"max_concurrent"`
}

// CapStatus is a configured cap with the executions running under it.
type CapStatus struct {
	Cap
	Running int `json:"running"`
}

// SubmitResponse is the answer of POST /v1/executions.
type SubmitResponse struct {
	ID uint64 `json:"id"`
}

// BulkSubmitRequest is the body of POST /v1/executions/bulk: many
// executions created by one Raft command. Either all are created or none
// (a validation error names the index of the first bad one).
type BulkSubmitRequest struct {
	Executions []SubmitRequest `json:"executions"`
	// IdempotencyKey (or the Idempotency-Key header) makes the whole bulk
	// idempotent: execution i gets the key "KEY/i" unless it has its own.
	IdempotencyKey string `json:"idempotency_key,omitempty"`
}

// BulkSubmitResponse is the answer of POST /v1/executions/bulk: the ids in
// request order.
type BulkSubmitResponse struct {
	IDs []uint64 `json:"ids"`
}

// Attempt is one lease of an execution to a worker.
type Attempt struct {
	N         int        `json:"n"`
	Worker    string     `json:"worker"`
	StartedAt time.Time  `json:"started_at"`
	EndedAt   *time.Time `json:"ended_at,omitempty"`
	Result    string     `json:"result,omitempty"`
}

// Execution is an execution as the API shows it.
type Execution struct {
	ID          uint64            `json:"id"`
	Status      string            `json:"status"`
	PackageName string            `json:"package_name"`
	PackageFile string            `json:"package_file,omitempty"`
	Params      map[string]string `json:"params,omitempty"`
	Retries     int               `json:"retries"`
	Attempt     int               `json:"attempt"`
	Worker      string            `json:"worker,omitempty"`
	Message     string            `json:"message,omitempty"`
	Caller      string            `json:"caller,omitempty"`
	CreatedAt   time.Time         `json:"created_at"`
	StartedAt   *time.Time        `json:"started_at,omitempty"`
	EndedAt     *time.Time        `json:"ended_at,omitempty"`
	Attempts    []Attempt         `json:"attempts,omitempty"`
	EventCount  uint64            `json:"event_count"`
	// PendingReason says why a pending execution is not running yet.
	PendingReason string `json:"pending_reason,omitempty"`

	// Set for executions of a deployed project's package (see catalog.go).
	Folder         string            `json:"folder,omitempty"`
	Project        string            `json:"project,omitempty"`
	ProjectVersion uint64            `json:"project_version,omitempty"`
	Environment    string            `json:"environment,omitempty"`
	ProjectParams  map[string]string `json:"project_params,omitempty"`
	LoggingLevel   string            `json:"logging_level,omitempty"`
	// TargetWorkers and TargetLabels restrict where the execution may run.
	TargetWorkers []string          `json:"target_workers,omitempty"`
	TargetLabels  map[string]string `json:"target_labels,omitempty"`
	Truncated     bool              `json:"truncated,omitempty"`

	// The queue settings (QueueOptions) and state: QueuedAt is when it
	// last entered the queue, NotBefore when a retry may start.
	Priority         int        `json:"priority,omitempty"`
	RetryDelay       string     `json:"retry_delay,omitempty"`
	RetryBackoff     bool       `json:"retry_backoff,omitempty"`
	MaxConcurrent    int        `json:"max_concurrent,omitempty"`
	ConcurrencyGroup string     `json:"concurrency_group,omitempty"`
	QueuedAt         *time.Time `json:"queued_at,omitempty"`
	NotBefore        *time.Time `json:"not_before,omitempty"`

	// Notify is the package's notify key (header values Masked, a webhook
	// password Masked); Notification the recorded outcome of its delivery.
	Notify       *Notify   `json:"notify,omitempty"`
	Notification *Delivery `json:"notification,omitempty"`
}

// Event is one event message of an execution.
type Event struct {
	Seq     uint64    `json:"seq"`
	Time    time.Time `json:"time"`
	Type    string    `json:"type"`
	Attempt int       `json:"attempt,omitempty"`
	Task    string    `json:"task,omitempty"`
	Message string    `json:"message"`
}

// EventsResponse is the answer of GET /v1/executions/{id}/events. Next is the
// value of `after` that continues where this page ended; Ended is true when
// the execution is terminal and every event has been returned.
type EventsResponse struct {
	Events []Event `json:"events"`
	Next   uint64  `json:"next"`
	Status string  `json:"status"`
	Ended  bool    `json:"ended"`
}

// StopResponse is the answer of POST /v1/executions/{id}/stop.
type StopResponse struct {
	Status string `json:"status"`
}

// BulkStopRequest is the body of POST /v1/executions/stop.
type BulkStopRequest struct {
	IDs []uint64 `json:"ids"`
}

// BulkStopResponse answers a bulk stop: one result per id, in request
// order.
type BulkStopResponse struct {
	Results []StopResult `json:"results"`
}

// StopResult is the outcome of stopping one execution: its status
// afterwards, or why it could not be stopped (not found, already ended).
type StopResult struct {
	ID     uint64 `json:"id"`
	Status string `json:"status,omitempty"`
	Error  string `json:"error,omitempty"`
}

// Worker is a registered worker.
type Worker struct {
	ID           string            `json:"id"`
	Node         string            `json:"node"`
	Labels       map[string]string `json:"labels,omitempty"`
	MaxTasks     int               `json:"max_tasks"`
	Enabled      bool              `json:"enabled"`
	RegisteredAt time.Time         `json:"registered_at"`
	// Unapproved: the worker waits for 'scaleout workers approve' and
	// gets no work (set by the leader; a worker never sends it).
	Unapproved bool `json:"unapproved,omitempty"`
	// LastSeen is the leader's last contact with the worker (nil: none
	// since this leader was elected); Running counts its leased attempts.
	LastSeen *time.Time `json:"last_seen,omitempty"`
	Running  int        `json:"running"`
}

// AttemptRef names one attempt of one execution.
type AttemptRef struct {
	ID      uint64 `json:"id"`
	Attempt int    `json:"attempt"`
	// Stopping is set by a worker on an attempt it is already stopping, so
	// that the master does not answer the poll with the same stop again.
	Stopping bool `json:"stopping,omitempty"`
	// Ending is set on an attempt whose package process has exited and
	// whose result is being reported: its lease is renewed, nothing else.
	Ending bool `json:"ending,omitempty"`
}

// PollRequest is a worker's long-poll to the master (POST
// /v1/workers/{id}/poll). It renews the leases of Running and asks for at most
// Slots new tasks; the master answers as soon as it has work or a stop for
// this worker, or after Wait.
type PollRequest struct {
	Slots   int          `json:"slots"`
	Running []AttemptRef `json:"running"`
	WaitMS  int          `json:"wait_ms"`
	// Token names this poll, unique per worker process (boot id and a
	// counter). Unanswered lists the tokens of this process's recent polls
	// whose answer it did not receive (an error, a timeout, a dropped
	// connection): an attempt leased by one of them never started, and the
	// master hands it over again instead of expiring it.
	Token      string   `json:"token,omitempty"`
	Unanswered []string `json:"unanswered,omitempty"`
}

// AcceptsUnknownFields marks the worker protocol's messages: a leader skips
// fields it does not know in them (a newer worker during a rolling
// upgrade) instead of refusing the request.
func (*PollRequest) AcceptsUnknownFields() {}

// AcceptsUnknownFields: see PollRequest.
func (*EventsReport) AcceptsUnknownFields() {}

// AcceptsUnknownFields: see PollRequest.
func (*ResultReport) AcceptsUnknownFields() {}

// Poll tokens: at most MaxPollToken bytes each, at most MaxUnanswered of
// them in one poll.
const (
	MaxPollToken  = 64
	MaxUnanswered = 64
)

// Task is one attempt leased to a worker, complete: everything the package
// process needs, with the execution's sensitive values opened for this
// attempt only. The worker passes it on to the child process unchanged
// (with its local directories); nothing is fetched or resolved again but
// the project archive, by hash.
type Task struct {
	ID          uint64 `json:"id"`
	Attempt     int    `json:"attempt"`
	PackageName string `json:"package_name"`
	// PackageFile is the inline package's file name (for messages), or the
	// package's path inside the project archive.
	PackageFile string `json:"package_file,omitempty"`
	// Package is the YAML of an inline package; empty when ArchiveHash is
	// set.
	Package string `json:"package,omitempty"`
	// ArchiveHash is the SHA-256 of the deployed project version's archive
	// (GET /v1/archives/{hash}); empty for inline packages.
	ArchiveHash string            `json:"archive_hash,omitempty"`
	Params      map[string]string `json:"params,omitempty"`
	// ProjectParams are the project parameter values (deployed packages).
	ProjectParams map[string]string `json:"project_params,omitempty"`
	// Connections are the project's connections, ${project.X} resolved.
	Connections []Connection `json:"connections,omitempty"`
	// LoggingLevel selects the events the package process emits (empty:
	// basic).
	LoggingLevel string `json:"logging_level,omitempty"`
	// Secrets are the clear sensitive values of this attempt; they must
	// never appear in an event.
	Secrets []string `json:"secrets,omitempty"`
}

// PollResponse tells a worker what to start and what to stop. Stop lists
// attempts whose execution was asked to stop (end them and report canceled);
// Drop lists attempts the master no longer accepts (kill them, report nothing).
type PollResponse struct {
	Tasks []Task       `json:"tasks"`
	Stop  []AttemptRef `json:"stop,omitempty"`
	Drop  []AttemptRef `json:"drop,omitempty"`
}

// EventsReport is a batch of events a worker sends for one attempt (POST
// /v1/executions/{id}/attempts/{n}/events).
type EventsReport struct {
	Events []Event `json:"events"`
	// First numbers the first event of the batch among the attempt's
	// events (1, 2, ...); 0: not numbered. A batch sent again after its
	// answer was lost is then applied once.
	First uint64 `json:"first,omitempty"`
}

// Results a worker may report for an attempt besides succeeded, failed and
// canceled.
const (
	// ResultInterrupted means the worker stopped the attempt because it is
	// shutting down; the execution is retried if it has retries left, else
	// canceled.
	ResultInterrupted = "interrupted"
	// ResultHandedBack means a draining worker gives the attempt back for
	// another worker; it does not use up a retry.
	ResultHandedBack = "handed_back"
)

// ResultReport ends an attempt (POST /v1/executions/{id}/attempts/{n}/result).
// Status is succeeded, failed or canceled; Events are the attempt's last
// events, committed with the result.
type ResultReport struct {
	Status  string  `json:"status"`
	Message string  `json:"message,omitempty"`
	Events  []Event `json:"events,omitempty"`
	// First numbers Events[0] as EventsReport.First does.
	First uint64 `json:"first,omitempty"`
}

// ErrorResponse is the body of every error answer.
type ErrorResponse struct {
	Error string `json:"error"`
}

// Peer is a server in the Raft configuration (GET /v1/status/peers).
type Peer struct {
	ID       string `json:"id"`
	Address  string `json:"address"`
	Suffrage string `json:"suffrage"` // voter or nonvoter
	Leader   bool   `json:"leader"`
}

// Member is an agent as gossip sees it (GET /v1/members).
type Member struct {
	Name    string            `json:"name"`
	Addr    string            `json:"addr"`
	Role    string            `json:"role"` // server or worker
	Status  string            `json:"status"`
	API     string            `json:"api,omitempty"`
	Raft    string            `json:"raft,omitempty"`
	Version string            `json:"version,omitempty"`
	Labels  map[string]string `json:"labels,omitempty"`
	Leader  bool              `json:"leader"`
}

// RemovePeerRequest is the body of POST /v1/operator/raft/remove-peer.
type RemovePeerRequest struct {
	ID string `json:"id"`
}
