package cluster

import (
	"context"
	"fmt"
	"io"

	"github.com/hashicorp/raft"
)

// RestoreSnapshot replaces the state of the whole cluster with a snapshot
// (the catalog's snapshot format, as `scaleout operator snapshot save`
// writes it). Only the leader can do this: raft stores it as a new snapshot
// after the last log entry, restores it into the local FSM and sends it to
// the followers, so the restore is itself replicated and survives
// restarts. size is the exact length of the snapshot.
func (c *Cluster) RestoreSnapshot(ctx context.Context, r io.Reader, size int64) error {
	if c.raft == nil {
		return ErrNotServer
	}
	timeout, err := c.timeout(ctx)
	if err != nil {
		return err
	}
	if err := c.raft.Restore(&raft.SnapshotMeta{Version: raft.SnapshotVersionMax, Size: size}, r, timeout); err != nil {
		return fmt.Errorf("restore snapshot: %w", translate(err))
	}
	return nil
}
