package fsm

import (
	"time"

	"github.com/scaleout/scaleout/catalog"
)

// Command types of the execution queue (create then start, values set
// while created, concurrency caps). The queue owns numbers 11-19.
const (
	ExecutionStartType   MessageType = 11
	ExecutionSetSpecType MessageType = 12
	CapSetType           MessageType = 13
)

// StartItem starts one created execution on behalf of Caller.
type StartItem struct {
	ID     uint64 `json:"id"`
	Caller string `json:"caller,omitempty"`
}

// ExecutionStartRequest queues created executions (created -> pending).
// The response is an *ItemsResponse.
type ExecutionStartRequest = ItemsRequest[StartItem]

// ExecutionSetSpecRequest replaces the spec of a created execution: the
// leader resolved and sealed the new values from the execution it read at
// event count ExpectEvents; if the execution changed since (another set,
// a start), the command is refused instead of overwriting that change.
// The response is nil or an error.
type ExecutionSetSpecRequest struct {
	Time         time.Time             `json:"time"`
	ID           uint64                `json:"id"`
	ExpectEvents uint64                `json:"expect_events"`
	Spec         catalog.ExecutionSpec `json:"spec"`
	// What says what changed, for the execution's event log.
	What string `json:"what"`
}

// CapSetRequest sets (max_concurrent > 0) or removes (0) a concurrency
// cap. The response is nil or an error.
type CapSetRequest struct {
	Time    time.Time          `json:"time"`
	Setting catalog.CapSetting `json:"setting"`
}
