package cluster

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/raft"
)

// RaftStats is a view of this server's Raft state for health checks and
// metrics. A worker-only agent has none (Server is false, the rest zero).
type RaftStats struct {
	Server bool
	// State is "leader", "follower", "candidate" or "shutdown".
	State string
	Term  uint64
	// LastIndex is the last entry in the log, CommitIndex the last one
	// known committed, AppliedIndex the last one handed to the FSM.
	LastIndex, CommitIndex, AppliedIndex uint64
	// LastContact is when a leader was last heard from (zero: never; the
	// leader reports now).
	LastContact time.Time
}

// RaftStats returns this server's Raft state. It takes no lock of Raft's
// main loop (unlike raft.Stats, which asks it for the configuration), so a
// scrape cannot slow elections or replication down.
func (c *Cluster) RaftStats() RaftStats {
	if c.raft == nil {
		return RaftStats{}
	}
	st := c.raft.State()
	s := RaftStats{Server: true, Term: c.raft.CurrentTerm(), LastIndex: c.raft.LastIndex(),
		CommitIndex: c.raft.CommitIndex(), AppliedIndex: c.raft.AppliedIndex(), LastContact: c.raft.LastContact()}
	switch st {
	case raft.Leader:
		s.State, s.LastContact = "leader", time.Now()
	case raft.Follower:
		s.State = "follower"
	case raft.Candidate:
		s.State = "candidate"
	default:
		s.State = "shutdown"
	}
	return s
}

// WaitCaughtUp returns nil once this server has applied the commit index it
// knew when called, or an error saying how far behind it is when ctx ends
// first. A worker-only agent has no log to catch up on: nil at once.
func (c *Cluster) WaitCaughtUp(ctx context.Context) error {
	if c.raft == nil {
		return nil
	}
	target := c.raft.CommitIndex()
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		applied := c.raft.AppliedIndex()
		if applied >= target {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("applied index %d is behind the commit index %d", applied, target)
		case <-t.C:
		}
	}
}
