package master

import (
	"context"
	"time"

	"github.com/scaleout/scaleout/catalog"
	"github.com/scaleout/scaleout/cluster/internal/tick"
	"github.com/scaleout/scaleout/fsm"
)

// retentionLoop runs on every server and acts only while this server
// leads: each interval it removes ended executions older than the retention
// window and executions created without a start longer than UnstartedTTL
// ago, RetentionBatch at a time (one small command each, until none are
// left), and uploads abandoned for longer than UploadTTL. Deciding on the
// leader and re-checking in the FSM keeps the clock out of Apply.
func (c *Catalog) retentionLoop() {
	defer close(c.loop)
	tick.Every(c.cfg.RetentionInterval, c.done, func() {
		if !c.raft.IsLeader() {
			return
		}
		for c.purgeOnce() {
			select {
			case <-c.done:
				return
			default:
			}
		}
	})
}

// purgeOnce proposes one purge command; it reports whether a full batch was
// removed (so there may be more).
func (c *Catalog) purgeOnce() bool {
	now := c.now()
	req := &fsm.ExecutionPurgeRequest{Time: now, Before: now.Add(-c.cfg.Retention), UploadsBefore: now.Add(-c.cfg.UploadTTL),
		UnstartedBefore: now.Add(-c.cfg.UnstartedTTL)}
	err := c.store.View(func(tx *catalog.Tx) error {
		var err error
		if req.IDs, err = tx.ExpiredExecutions(req.Before, c.cfg.RetentionBatch, 50*c.cfg.RetentionBatch); err != nil {
			return err
		}
		if n := c.cfg.RetentionBatch - len(req.IDs); n > 0 {
			unstarted, err := tx.UnstartedExecutions(req.UnstartedBefore, n)
			if err != nil {
				return err
			}
			req.IDs = append(req.IDs, unstarted...)
		}
		if req.Uploads, err = tx.StaleUploads(req.UploadsBefore, 16); err != nil {
			return err
		}
		req.IdempotencyKeys, err = tx.ExpiredIdempotencyKeys(now, c.cfg.RetentionBatch)
		return err
	})
	if err != nil {
		c.logger.Warn("retention: reading the catalog failed", "error", err)
		return false
	}
	if len(req.IDs) == 0 && len(req.Uploads) == 0 && len(req.IdempotencyKeys) == 0 {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := c.apply(ctx, fsm.ExecutionPurgeType, req)
	if err != nil {
		c.logger.Warn("retention: purge failed", "error", err)
		return false
	}
	pr := resp.(*fsm.PurgeResponse)
	c.logger.Info("retention: purged", "executions", pr.Executions, "uploads", pr.Uploads, "idempotency_keys", pr.IdempotencyKeys, "ended_before", req.Before)
	return pr.Executions == c.cfg.RetentionBatch || pr.IdempotencyKeys == c.cfg.RetentionBatch
}
