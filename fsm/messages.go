package fsm

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/scaleout/scaleout/catalog"
)

// MessageType identifies a Raft command. Numbers are explicit and
// append-only: never reuse or renumber one, or old logs will replay wrongly.
type MessageType uint8

// Command types.
const (
	ExecutionSubmitType MessageType = 1
	ExecutionLeaseType  MessageType = 2
	ExecutionEventsType MessageType = 3
	ExecutionFinishType MessageType = 4
	ExecutionExpireType MessageType = 5
	ExecutionStopType   MessageType = 6
	WorkerRegisterType  MessageType = 7
	WorkerEnableType    MessageType = 8
	WorkerRemoveType    MessageType = 9
	ExecutionStopsType  MessageType = 10

	// ExecutionSubmitLeaseType creates executions and leases some of them
	// in the same entry to workers whose polls wait idle on the leader, so
	// that on an idle cluster a submission costs one Raft commit before its
	// attempt starts instead of two (apply_submitlease.go). Leaders write
	// it only once every server applies it (the cluster's ops gate).
	ExecutionSubmitLeaseType MessageType = 70

	// IgnoreUnknownTypeFlag marks a command that a server which does not
	// know its type may skip instead of stopping.
	IgnoreUnknownTypeFlag MessageType = 128
)

// typeNames names every command type, for logs and errors. A type without
// a name here is a programming error (TestMessageType_Names checks it).
var typeNames = map[MessageType]string{
	ExecutionSubmitType: "ExecutionSubmit", ExecutionLeaseType: "ExecutionLease",
	ExecutionEventsType: "ExecutionEvents", ExecutionFinishType: "ExecutionFinish",
	ExecutionExpireType: "ExecutionExpire", ExecutionStopType: "ExecutionStop (one; replayed from old logs)",
	ExecutionStopsType: "ExecutionStops", ExecutionSubmitLeaseType: "ExecutionSubmitLease",
	WorkerRegisterType: "WorkerRegister", WorkerEnableType: "WorkerEnable", WorkerRemoveType: "WorkerRemove",
	FolderCreateType: "FolderCreate", FolderRenameType: "FolderRename", FolderDeleteType: "FolderDelete",
	ArchiveChunkType: "ArchiveChunk", ProjectDeployType: "ProjectDeploy", ProjectRestoreType: "ProjectRestore",
	ProjectDeleteType: "ProjectDelete", ProjectSetValueType: "ProjectSetValue", ProjectEnvRefType: "ProjectEnvRef",
	EnvironmentCreateType: "EnvironmentCreate", EnvironmentDeleteType: "EnvironmentDelete",
	EnvironmentSetVariableType: "EnvironmentSetVariable", ExecutionCreateType: "ExecutionCreate (retired)",
	ExecutionPurgeType: "ExecutionPurge",
	ExecutionStartType: "ExecutionStart", ExecutionSetSpecType: "ExecutionSetSpec", CapSetType: "CapSet",
	SchedulePutType: "SchedulePut", ScheduleDeleteType: "ScheduleDelete", SchedulePauseType: "SchedulePause",
	ScheduleFireType: "ScheduleFire", RunAdvanceType: "RunAdvance", RunDeliveredType: "RunDelivered", RunPurgeType: "RunPurge",
	ExecutionNotifiedType: "ExecutionNotified",
}

// String returns the command's name, or MessageType(N) for an unknown one.
func (t MessageType) String() string {
	if n, ok := typeNames[t&^IgnoreUnknownTypeFlag]; ok {
		return n
	}
	return fmt.Sprintf("MessageType(%d)", uint8(t))
}

// Encode produces a Raft log entry: one type byte followed by the JSON payload.
func Encode(t MessageType, msg any) ([]byte, error) {
	body, err := json.Marshal(msg)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", t, err)
	}
	buf := make([]byte, 1, 1+len(body))
	buf[0] = byte(t)
	return append(buf, body...), nil
}

// Decode reads the payload of an entry produced by Encode into out.
func Decode(buf []byte, out any) error {
	if len(buf) < 1 {
		return fmt.Errorf("empty command")
	}
	return json.Unmarshal(buf[1:], out)
}

// NewExecution is one execution to create: its spec, resolved and checked
// by the leader, and who asked for it.
type NewExecution struct {
	catalog.ExecutionSpec
	// Caller overrides the request's Caller for this execution (the leader
	// coalesces submissions of different callers into one command).
	Caller string `json:"caller,omitempty"`
}

// ExecutionSubmitRequest creates executions, queued as pending: inline
// packages and deployed ones alike. One command may carry many executions
// (a bulk submission, or single submissions coalesced by the leader). The
// response is a *SubmitResponse.
type ExecutionSubmitRequest struct {
	Time       time.Time      `json:"time"`
	Caller     string         `json:"caller,omitempty"`
	Executions []NewExecution `json:"executions"`
	// Atomic creates all the executions or none: the first one that cannot
	// be created fails the whole command (a bulk submission). Otherwise
	// each execution succeeds or fails on its own (coalesced submissions
	// of different callers).
	Atomic bool `json:"atomic,omitempty"`
}

// SubmitResponse holds the ids given to the executions of a submit command,
// in request order, and one error (or nil) per execution; a failed
// execution has id 0.
type SubmitResponse struct {
	IDs []uint64
	ItemsResponse
	// Leased holds one error (or nil) per lease of an
	// ExecutionSubmitLeaseRequest; nil for other submissions.
	Leased *ItemsResponse
}

// LeaseItem names one attempt.
type LeaseItem struct {
	ID      uint64 `json:"id"`
	Attempt int    `json:"attempt"`
}

// ExecutionLeaseRequest gives attempts of pending executions to a worker. The
// response is an *ItemsResponse.
type ExecutionLeaseRequest struct {
	Time   time.Time   `json:"time"`
	Worker string      `json:"worker"`
	Items  []LeaseItem `json:"items"`
	// Poll is the token of the worker's poll that leases (recorded on
	// each attempt as catalog.Attempt.Poll); empty from older leaders.
	Poll string `json:"poll,omitempty"`
}

// EventsItem is a batch of events from one attempt.
type EventsItem struct {
	ID      uint64          `json:"id"`
	Attempt int             `json:"attempt"`
	Events  []catalog.Event `json:"events"`
	// First numbers Events[0] among the attempt's reported events (0: not
	// numbered); events applied before are skipped (a batch sent again).
	First uint64 `json:"first,omitempty"`
}

// ExecutionEventsRequest appends events reported by workers.
type ExecutionEventsRequest = ItemsRequest[EventsItem]

// FinishItem is the result of one attempt, with its last events.
type FinishItem struct {
	ID      uint64          `json:"id"`
	Attempt int             `json:"attempt"`
	Status  catalog.Status  `json:"status"`
	Message string          `json:"message,omitempty"`
	Events  []catalog.Event `json:"events,omitempty"`
	First   uint64          `json:"first,omitempty"` // as EventsItem.First
}

// ExecutionFinishRequest records attempt results.
type ExecutionFinishRequest = ItemsRequest[FinishItem]

// ExpireItem ends an attempt whose worker was lost.
type ExpireItem struct {
	ID      uint64 `json:"id"`
	Attempt int    `json:"attempt"`
	Reason  string `json:"reason"`
	// Interrupted means the worker gave the attempt back on purpose
	// (shutdown): with no retries left the execution ends canceled.
	Interrupted bool `json:"interrupted,omitempty"`
	// HandBack means a draining worker gave it back: it is retried without
	// using up a retry.
	HandBack bool `json:"hand_back,omitempty"`
}

// ExecutionExpireRequest ends lost attempts, decided by the leader.
type ExecutionExpireRequest = ItemsRequest[ExpireItem]

// ExecutionStopRequest asks for an execution to end. The response is nil or
// an error.
type ExecutionStopRequest struct {
	Time   time.Time `json:"time"`
	ID     uint64    `json:"id"`
	Caller string    `json:"caller,omitempty"`
}

// StopItem asks one execution to end, on behalf of Caller.
type StopItem struct {
	ID     uint64 `json:"id"`
	Caller string `json:"caller,omitempty"`
}

// ExecutionStopsRequest stops several executions (coalesced stop requests).
// The response is an *ItemsResponse.
type ExecutionStopsRequest = ItemsRequest[StopItem]

// WorkerRegisterRequest registers or updates a worker. The response is nil or
// an error.
type WorkerRegisterRequest struct {
	Time   time.Time      `json:"time"`
	Worker catalog.Worker `json:"worker"`
}

// ItemsRequest is a command of independent items (attempts of executions)
// stamped with one time. The response is an *ItemsResponse.
type ItemsRequest[T any] struct {
	Time  time.Time `json:"time"`
	Items []T       `json:"items"`
}

// ItemsResponse carries one error (or nil) per item of a multi-item command,
// in request order: a stale attempt in a batch does not fail its neighbours.
type ItemsResponse struct {
	Errors []error
}

// Err returns the error of item i.
func (r *ItemsResponse) Err(i int) error {
	if r == nil || i >= len(r.Errors) {
		return nil
	}
	return r.Errors[i]
}

// WorkerEnableRequest enables or disables a worker; a disabled worker gets
// no new tasks. The response is nil or an error.
type WorkerEnableRequest struct {
	Time    time.Time `json:"time"`
	ID      string    `json:"id"`
	Enabled bool      `json:"enabled"`
}

// WorkerRemoveRequest forgets a worker. The response is nil or an error.
type WorkerRemoveRequest struct {
	Time time.Time `json:"time"`
	ID   string    `json:"id"`
}
