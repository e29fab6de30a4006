package catalog

import (
	"encoding/json"
	"time"
)

// ExpiredExecutions returns up to limit ids of executions that ended before
// before, oldest first, looking at no more than scan executions. Ids grow
// with creation time, so the oldest executions come first.
func (t *Tx) ExpiredExecutions(before time.Time, limit, scan int) ([]uint64, error) {
	var out []uint64
	c := t.tx.Bucket(bucketExecutions).Cursor()
	seen := 0
	for k, v := c.First(); k != nil && len(out) < limit && seen < scan; k, v = c.Next() {
		seen++
		e, err := decodeExecution(v)
		if err != nil {
			return nil, err
		}
		if e.Expired(before) {
			out = append(out, e.ID)
		}
	}
	return out, nil
}

// Expired reports whether e ended before before (and has no notification
// left to deliver).
func (e *Execution) Expired(before time.Time) bool {
	return e.Status.Terminal() && e.EndedAt != nil && e.EndedAt.Before(before) && !e.NeedsNotify()
}

// DeleteExecution removes an execution, its events and its index entries.
func (t *Tx) DeleteExecution(id uint64) error {
	k := u64key(id)
	if e, err := t.Execution(id); err == nil {
		if err := t.tx.Bucket(bucketPending).Delete(pendingKey(e.Priority, e.ID)); err != nil {
			return err
		}
		if err := t.putCapKeys(e, false); err != nil {
			return err
		}
	}
	if eb := t.tx.Bucket(bucketEvents); eb.Bucket(k) != nil {
		if err := eb.DeleteBucket(k); err != nil {
			return err
		}
	}
	for _, b := range [][]byte{bucketActive, bucketCreated, bucketNotify, bucketExecutions} {
		if err := t.tx.Bucket(b).Delete(k); err != nil {
			return err
		}
	}
	return nil
}

func decodeExecution(v []byte) (*Execution, error) {
	var e Execution
	return &e, json.Unmarshal(v, &e)
}
