package worker

import (
	"github.com/scaleout/scaleout/api"
	"github.com/scaleout/scaleout/executor"
)

// Job is what the worker writes to a child's stdin: the task the master
// leased, exactly as it came, and where to run it. It is the only
// description of an attempt between the master and the package process.
type Job struct {
	api.Task
	// WorkDir is the attempt's scratch directory; for a deployed package it
	// holds the extracted project and is also ProjectDir.
	WorkDir    string `json:"work_dir"`
	ProjectDir string `json:"project_dir,omitempty"`
	// KillGraceMS is how long a stopped task gets between SIGTERM and
	// SIGKILL.
	KillGraceMS int `json:"kill_grace_ms"`
	// FenceMS is how long the child may run the attempt without hearing
	// from the worker (a Renew line); then it stops the run itself, because
	// a worker that cannot renew (frozen, cut off) can no longer stop it
	// before the master gives the execution to another worker. Zero: no
	// fence.
	FenceMS int `json:"fence_ms,omitempty"`
	// AllowRoots are the directories the worker permits a package's
	// allow_paths to open (Config.TaskAllowPaths); executor.Options.PermittedPaths.
	AllowRoots []string `json:"allow_roots,omitempty"`
}

// Renew is the other line a worker writes to a child's stdin: the attempt
// it runs may go on for RenewMS from now.
type Renew struct {
	RenewMS int `json:"renew_ms"`
}

// Message is one line a child writes to its stdout; exactly one field is set.
type Message struct {
	Ready  *Ready          `json:"ready,omitempty"`
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

// Ready says the child waits for a job: its first line, and again after a
// result when it can run another attempt (a child that cannot exits).
type Ready struct {
	PID int `json:"pid"`
}

// ChildResult is the package's result as the child saw it.
type ChildResult struct {
	Status  string `json:"status"`
	Message string `json:"message,omitempty"`
	// Fenced: the child stopped the run because the worker stopped
	// renewing it. The worker reports nothing (as for an attempt it
	// dropped): the master expires the attempt as lost.
	Fenced bool `json:"fenced,omitempty"`
}
