package service

import (
	"time"

	"github.com/scaleout/scaleout/catalog"
)

// LeaderStatus names the current leader as one agent sees it.
type LeaderStatus struct {
	// Node is the leader's node name; API its HTTP API address.
	Node string
	API  string
	// Index is the last Raft index this agent has applied to its catalog
	// (0 on worker-only agents).
	Index uint64
}

// WorkerStatus is a registered worker with the leader's soft state about it.
type WorkerStatus struct {
	catalog.Worker
	// LastSeen is the leader's last poll from the worker; zero when none
	// since this leader was elected.
	LastSeen time.Time
	// Running counts the attempts leased to the worker.
	Running int
}
