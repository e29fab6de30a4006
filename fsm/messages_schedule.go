package fsm

import (
	"time"

	"github.com/scaleout/scaleout/catalog"
)

// Command types of schedules, their runs (jobs of steps) and notifications.
// Schedules own numbers 50-59.
const (
	SchedulePutType    MessageType = 50
	ScheduleDeleteType MessageType = 51
	SchedulePauseType  MessageType = 52
	ScheduleFireType   MessageType = 53
	RunAdvanceType     MessageType = 54
	RunDeliveredType   MessageType = 55
	RunPurgeType       MessageType = 56
	// ExecutionNotifiedType records the delivery of a package's
	// notification (an execution's, outside schedules). The leader sends it
	// with IgnoreUnknownTypeFlag: a server that does not know it skips the
	// record, which at worst delivers the notification again (at least
	// once), never stops that server.
	ExecutionNotifiedType MessageType = 57
)

// SchedulePutRequest creates a schedule, or with Replace replaces the
// definition of an existing one (its fire state is kept).
type SchedulePutRequest struct {
	Time     time.Time        `json:"time"`
	Schedule catalog.Schedule `json:"schedule"`
	Replace  bool             `json:"replace,omitempty"`
}

// ScheduleDeleteRequest deletes a schedule; its runs are kept.
type ScheduleDeleteRequest struct {
	Name string `json:"name"`
}

// SchedulePauseRequest pauses or resumes a schedule.
type SchedulePauseRequest struct {
	Time   time.Time `json:"time"`
	Name   string    `json:"name"`
	Paused bool      `json:"paused"`
}

// ScheduleFireRequest fires one tick of a schedule: it creates the run and
// the execution of its first step (Spec, resolved by the leader, or Error
// when it could not be) in one command. A fire of a tick not after the
// schedule's last tick changes nothing (catalog.ErrExists), so each tick
// runs once whoever leads. Manual fires (run-now) are not ticks. The
// response is a *FireResponse.
type ScheduleFireRequest struct {
	Time   time.Time              `json:"time"`
	Name   string                 `json:"name"`
	Tick   time.Time              `json:"tick"`
	Manual bool                   `json:"manual,omitempty"`
	Spec   *catalog.ExecutionSpec `json:"spec,omitempty"`
	Error  string                 `json:"error,omitempty"`
	// Missed counts the ticks before this one that the catch-up policy
	// does not run.
	Missed uint64 `json:"missed,omitempty"`
	// NoRun records Tick as the last tick (and Missed) without a run: the
	// catch-up policy skips every missed tick up to it.
	NoRun bool `json:"no_run,omitempty"`
}

// FireResponse is the run a fire created (Skipped: the overlap policy
// skipped the tick) and its first execution (0 if none).
type FireResponse struct {
	Run       uint64
	Execution uint64
	Skipped   bool
}

// RunAdvanceRequest moves a run on after its current step try (Step, Try)
// ended: the FSM reads the outcome, decides the next step with
// catalog.Run.Next and creates its execution from Spec (the leader resolved
// that step), or ends the run. A request for another step try than the
// current one changes nothing (catalog.ErrExists): one advance per try.
type RunAdvanceRequest struct {
	Time time.Time `json:"time"`
	Run  uint64    `json:"run"`
	Step int       `json:"step"`
	Try  int       `json:"try"`
	// NextStep and NextTry are the step try Spec is for (0 when the
	// leader expects the run to end).
	NextStep int                    `json:"next_step,omitempty"`
	NextTry  int                    `json:"next_try,omitempty"`
	Spec     *catalog.ExecutionSpec `json:"spec,omitempty"`
	Error    string                 `json:"error,omitempty"`
}

// RunDeliveredRequest records the outcome of a run's notification.
type RunDeliveredRequest struct {
	Time     time.Time        `json:"time"`
	Run      uint64           `json:"run"`
	Delivery catalog.Delivery `json:"delivery"`
}

// RunPurgeRequest deletes runs that ended before Before (retention); the
// FSM checks each again. The response is the number deleted (int).
type RunPurgeRequest struct {
	Time   time.Time `json:"time"`
	Before time.Time `json:"before"`
	IDs    []uint64  `json:"ids"`
}

// ExecutionNotifiedRequest records the outcome of the notification of an
// ended execution (its package's notify key). A second record for the same
// execution changes nothing (catalog.ErrExists).
type ExecutionNotifiedRequest struct {
	Time     time.Time        `json:"time"`
	ID       uint64           `json:"id"`
	Delivery catalog.Delivery `json:"delivery"`
}
