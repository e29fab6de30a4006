package catalog

import (
	"encoding/json"
	"fmt"
	"time"
)

// Buckets of schedules and their runs.
var (
	bucketSchedules = []byte("schedules")
	bucketRuns      = []byte("schedule_runs")      // run id -> Run
	bucketRunsOpen  = []byte("schedule_runs_open") // index: runs running or with a notification to deliver
	bucketRunsBy    = []byte("schedule_runs_by")   // schedule \0 run id -> nil: a schedule's history
	keyNextRunID    = []byte("next_run_id")
)

func init() {
	allBuckets = append(allBuckets, bucketSchedules, bucketRuns, bucketRunsOpen, bucketRunsBy)
}

// Schedule reads one schedule.
func (t *Tx) Schedule(name string) (*Schedule, error) {
	var s Schedule
	ok, err := getJSON(t.tx.Bucket(bucketSchedules), []byte(name), &s)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("schedule %q: %w", name, ErrNotFound)
	}
	return &s, nil
}

// Schedules lists every schedule by name.
func (t *Tx) Schedules() ([]*Schedule, error) {
	return listJSON[Schedule](t.tx.Bucket(bucketSchedules), nil, nil)
}

// PutSchedule stores a schedule.
func (t *Tx) PutSchedule(s *Schedule) error {
	return putJSON(t.tx.Bucket(bucketSchedules), []byte(s.Name), s)
}

// DeleteSchedule deletes a schedule; its runs are kept (they end and are
// notified as usual) until DeleteRuns.
func (t *Tx) DeleteSchedule(name string) error {
	if _, err := t.Schedule(name); err != nil {
		return err
	}
	return t.tx.Bucket(bucketSchedules).Delete([]byte(name))
}

// NewRun allocates a run id and stores r under it.
func (t *Tx) NewRun(r *Run) error {
	b := t.tx.Bucket(bucketMeta)
	var id uint64 = 1
	if v := b.Get(keyNextRunID); len(v) == 8 {
		id = keyU64(v)
	}
	if err := b.Put(keyNextRunID, u64key(id+1)); err != nil {
		return err
	}
	r.ID = id
	if err := t.tx.Bucket(bucketRunsBy).Put(append(nameKey(r.Schedule, ""), u64key(id)...), nil); err != nil {
		return err
	}
	return t.PutRun(r)
}

// Run reads one run.
func (t *Tx) Run(id uint64) (*Run, error) {
	var r Run
	ok, err := getJSON(t.tx.Bucket(bucketRuns), u64key(id), &r)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("run %d: %w", id, ErrNotFound)
	}
	return &r, nil
}

// PutRun stores a run and keeps the open index: a run is open while it
// runs or has a notification to deliver.
func (t *Tx) PutRun(r *Run) error {
	if err := putJSON(t.tx.Bucket(bucketRuns), u64key(r.ID), r); err != nil {
		return err
	}
	open := t.tx.Bucket(bucketRunsOpen)
	if r.Status == RunRunning || r.NeedsDelivery() {
		return open.Put(u64key(r.ID), nil)
	}
	return open.Delete(u64key(r.ID))
}

// OpenRuns lists the runs that run or wait for their notification.
func (t *Tx) OpenRuns() ([]*Run, error) {
	var out []*Run
	c := t.tx.Bucket(bucketRunsOpen).Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		r, err := t.Run(keyU64(k))
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// Runs lists the newest runs of a schedule, newest first, at most limit.
func (t *Tx) Runs(schedule string, limit int) ([]*Run, error) {
	prefix := nameKey(schedule, "") // name \0
	c := t.tx.Bucket(bucketRunsBy).Cursor()
	var out []*Run
	k, _ := c.Seek(append(append([]byte{}, prefix...), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff))
	if k == nil {
		k, _ = c.Last()
	} else {
		k, _ = c.Prev()
	}
	for ; k != nil && len(out) < limit; k, _ = c.Prev() {
		if len(k) != len(prefix)+8 || string(k[:len(prefix)]) != string(prefix) {
			break
		}
		r, err := t.Run(keyU64(k[len(prefix):]))
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// StepEnd returns the end time and outcome of the run's current step try:
// the execution's, or the try's own when no execution was created. ended is
// false while the execution runs.
func (t *Tx) StepEnd(r *Run) (end time.Time, ok, ended bool, err error) {
	cur := r.Current()
	if cur == nil {
		return time.Time{}, false, false, invalidf("run %d has no step", r.ID)
	}
	if cur.Execution == 0 {
		return cur.Started, false, true, nil
	}
	e, err := t.Execution(cur.Execution)
	if err != nil {
		return time.Time{}, false, false, err
	}
	if !e.Status.Terminal() {
		return time.Time{}, false, false, nil
	}
	end = e.CreatedAt
	if e.EndedAt != nil {
		end = *e.EndedAt
	}
	return end, e.Status == StatusSucceeded, true, nil
}

// expiredRun reports whether retention may remove r: it ended before
// before and has nothing left to deliver.
func expiredRun(r *Run, before time.Time) bool {
	return r.Status != RunRunning && r.Ended != nil && r.Ended.Before(before) && !r.NeedsDelivery()
}

// ExpiredRuns returns up to limit ids of runs that ended before before,
// looking at no more than scan runs from the oldest.
func (t *Tx) ExpiredRuns(before time.Time, limit, scan int) ([]uint64, error) {
	var out []uint64
	c := t.tx.Bucket(bucketRuns).Cursor()
	for k, v := c.First(); k != nil && len(out) < limit && scan > 0; k, v = c.Next() {
		scan--
		var r Run
		if err := json.Unmarshal(v, &r); err != nil {
			return nil, err
		}
		if expiredRun(&r, before) {
			out = append(out, r.ID)
		}
	}
	return out, nil
}

// DeleteExpiredRun deletes run id if it ended before before; it reports
// whether it did.
func (t *Tx) DeleteExpiredRun(id uint64, before time.Time) (bool, error) {
	r, err := t.Run(id)
	if err != nil || !expiredRun(r, before) {
		return false, nil
	}
	if err := t.tx.Bucket(bucketRunsBy).Delete(append(nameKey(r.Schedule, ""), u64key(id)...)); err != nil {
		return false, err
	}
	if err := t.tx.Bucket(bucketRunsOpen).Delete(u64key(id)); err != nil {
		return false, err
	}
	return true, t.tx.Bucket(bucketRuns).Delete(u64key(id))
}
