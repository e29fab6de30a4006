package worker

import (
	"github.com/scaleout/scaleout/executor"
)

// Job is what the worker writes to a child's stdin: one attempt to run.
type Job struct {
	ExecutionID uint64            `json:"execution_id"`
	Attempt     int               `json:"attempt"`
	PackageFile string            `json:"package_file"`
	Package     string            `json:"package"`
	Params      map[string]string `json:"params"`
	WorkDir     string            `json:"work_dir"`
	ProjectDir  string            `json:"project_dir,omitempty"` // extracted project (catalog executions)
	KillGraceMS int               `json:"kill_grace_ms"`
	// LoggingLevel selects the events the executor emits (empty: basic).
	LoggingLevel string `json:"logging_level,omitempty"`
	// Secrets are clear sensitive values the executor masks in every event.
	Secrets []string `json:"secrets,omitempty"`
	// Connections are the project's connections, resolved.
	Connections map[string]executor.Connection `json:"connections,omitempty"`
}

// Message is one line a child writes to its stdout; exactly one field is set.
type Message struct {
	Event  *executor.Event `json:"event,omitempty"`
	Proc   *Proc           `json:"proc,omitempty"`
	Result *ChildResult    `json:"result,omitempty"`
}

// Proc announces a task process group (Running) and its end (!Running), so
// that the worker can kill orphans if the child itself dies.
type Proc struct {
	PGID    int  `json:"pgid"`
	Running bool `json:"running"`
}

// ChildResult is the package's result as the child saw it.
type ChildResult struct {
	Status  string `json:"status"`
	Message string `json:"message,omitempty"`
}
