package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/scaleout/scaleout/catalog/service"
	"github.com/scaleout/scaleout/fsm"
)

// encode encodes a command; one that the operations log records is
// wrapped in an fsm.OperationRequest naming the caller (service.CallerFrom)
// and the time, so that the change and its log entry are one apply.
func (c *Cluster) encode(ctx context.Context, t fsm.MessageType, msg any) ([]byte, error) {
	if !fsm.Logged(t) {
		return fsm.Encode(t, msg)
	}
	payload, err := json.Marshal(msg)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", t, err)
	}
	now := time.Now().UTC()
	op := &fsm.OperationRequest{Time: now, Caller: service.CallerFrom(ctx), Type: t, Payload: payload}
	if c.cfg.OperationRetention > 0 {
		op.PruneBefore = now.Add(-c.cfg.OperationRetention)
	}
	return fsm.Encode(fsm.OperationType, op)
}

// RecordOperation appends an operation that is no command of its own (a
// snapshot restore) to the operations log.
func (c *Cluster) RecordOperation(ctx context.Context, kind, object string) error {
	_, _, err := c.Apply(ctx, fsm.OperationType, &fsm.OperationRequest{Time: time.Now().UTC(),
		Caller: service.CallerFrom(ctx), Kind: kind, Object: object})
	return err
}
