package cluster

import (
	"fmt"
	"time"

	"github.com/hashicorp/raft"
	"github.com/scaleout/scaleout/catalog"
)

// storageHealthy refuses a write while this server's FSM cannot apply
// (its disk is failing: fsm.Health): the write would be committed but
// not answered until the disk recovers. A leader in that state hands
// leadership to a healthy server, at most once per transferEvery.
func (c *Cluster) storageHealthy() error {
	err := c.StorageHealth()
	if err == nil {
		return nil
	}
	if c.IsLeader() && c.transferring.CompareAndSwap(false, true) {
		go func() {
			defer time.AfterFunc(transferEvery, func() { c.transferring.Store(false) })
			if err := c.raft.LeadershipTransfer().Error(); err != nil {
				c.logger.Warn("cannot hand leadership away from a server with a failing catalog store", "error", err)
			}
		}()
	}
	return fmt.Errorf("%w; writes are refused until it recovers", err)
}

// configuration returns raft's configuration. While raft's main loop waits
// for the disk to record its term (logStore.SetUint64) it would not answer:
// then the error is ErrStorage at once instead of a wait as long as the
// disk's failure (a graceful leave, GET /v1/status/peers).
func (c *Cluster) configuration() (raft.Configuration, error) {
	if c.logStore.waitingForDisk() {
		return raft.Configuration{}, fmt.Errorf("%w on server %s: raft waits for the disk to record its term", catalog.ErrStorage, c.cfg.NodeName)
	}
	f := c.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return raft.Configuration{}, err
	}
	return f.Configuration(), nil
}

// StorageHealth returns nil while this server's stores work, else the
// failure (catalog.ErrStorage): the catalog (the FSM cannot apply) or the
// Raft log (its last write failed, e.g. a full disk under raft.db).
func (c *Cluster) StorageHealth() error {
	if c.fsm == nil {
		return nil
	}
	if h := c.fsm.Health(); h.Err != nil {
		return fmt.Errorf("%w on server %s since %s (%d retries): %v",
			catalog.ErrStorage, c.cfg.NodeName, h.Since.UTC().Format(time.RFC3339), h.Retries, h.Err)
	}
	if err, since := c.logStore.health(); err != nil {
		return fmt.Errorf("%w on server %s since %s: raft log: %v",
			catalog.ErrStorage, c.cfg.NodeName, since.UTC().Format(time.RFC3339), err)
	}
	return nil
}

// transferEvery spaces the leadership transfers of an unhealthy leader.
const transferEvery = 5 * time.Second
