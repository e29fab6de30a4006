package cluster

import "time"

// Leave prepares a graceful exit: a leader hands leadership to another
// server first; then the agent announces in gossip that it is leaving,
// waits (up to timeout) until the leader has removed it from the Raft
// configuration, and leaves gossip.
func (c *Cluster) Leave(timeout time.Duration) {
	if c.IsLeader() {
		if err := c.raft.LeadershipTransfer().Error(); err != nil {
			c.logger.Warn("leadership transfer before leaving failed", "error", err)
		} else {
			c.logger.Info("leadership transferred before leaving")
		}
	}
	c.mem.announceLeaving(timeout)
	if c.inRaft() {
		// Wait for the leader to take this server out of Raft on its
		// announcement, so that the removal does not depend on which of the
		// metadata and the leave message reaches the leader first (a leave
		// taken for a failure keeps the server in Raft for the dead-server
		// grace).
		deadline := time.Now().Add(timeout)
		for c.inRaft() && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond) // polling the local configuration; raft has no event for it
		}
		if c.inRaft() {
			c.logger.Warn("the leader did not remove this server from Raft before it left; it will once the leave reaches it", "waited", timeout)
		} else {
			c.logger.Info("removed from Raft before leaving")
		}
	} else {
		// Give the metadata a few gossip rounds before the leave message.
		time.Sleep(500 * time.Millisecond)
	}
	if err := c.mem.leave(timeout); err != nil {
		c.logger.Warn("gossip leave", "error", err)
	}
}

// inRaft reports whether this server is in its own copy of the Raft
// configuration.
func (c *Cluster) inRaft() bool {
	if c.raft == nil {
		return false
	}
	conf, err := c.configuration()
	if err != nil {
		return false
	}
	for _, s := range conf.Servers {
		if string(s.ID) == c.cfg.NodeName {
			return true
		}
	}
	return false
}
