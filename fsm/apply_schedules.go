package fsm

import (
	"errors"
	"fmt"
	"time"

	"github.com/scaleout/scaleout/catalog"
)

func init() {
	register(SchedulePutType, applySchedulePut)
	register(ScheduleDeleteType, applyScheduleDelete)
	register(SchedulePauseType, applySchedulePause)
	register(ScheduleFireType, applyScheduleFire)
	register(RunAdvanceType, applyRunAdvance)
	register(RunDeliveredType, applyRunDelivered)
	register(RunPurgeType, applyRunPurge)
}

// storeErr turns a store error into the applier's response: business
// errors (not found) as they are, anything else as a fatalError.
func storeErr(err error) any {
	if errors.Is(err, catalog.ErrNotFound) || errors.Is(err, catalog.ErrInvalid) || errors.Is(err, catalog.ErrExists) {
		return err
	}
	return fatalError{err}
}

func applySchedulePut(tx *catalog.Tx, req *SchedulePutRequest) any {
	s := req.Schedule
	if err := catalog.CheckSchedule(&s); err != nil {
		return err
	}
	old, err := tx.Schedule(s.Name)
	switch {
	case err == nil && !req.Replace:
		return fmt.Errorf("schedule %q: %w", s.Name, catalog.ErrExists)
	case err == nil:
		s.Created, s.State, s.Paused = old.Created, old.State, old.Paused
	case !errors.Is(err, catalog.ErrNotFound):
		return storeErr(err)
	case req.Replace:
		return err
	default:
		s.Created, s.State = req.Time, catalog.SchedState{}
	}
	s.Updated = req.Time
	if err := tx.PutSchedule(&s); err != nil {
		return fatalError{err}
	}
	return nil
}

func applyScheduleDelete(tx *catalog.Tx, req *ScheduleDeleteRequest) any {
	if err := tx.DeleteSchedule(req.Name); err != nil {
		return storeErr(err)
	}
	return nil
}

func applySchedulePause(tx *catalog.Tx, req *SchedulePauseRequest) any {
	s, err := tx.Schedule(req.Name)
	if err != nil {
		return storeErr(err)
	}
	s.Paused, s.Updated = req.Paused, req.Time
	if err := tx.PutSchedule(s); err != nil {
		return fatalError{err}
	}
	return nil
}

// previousRunning reports whether the schedule's latest run still runs.
func previousRunning(tx *catalog.Tx, s *catalog.Schedule) (bool, error) {
	if s.State.LastRun == 0 {
		return false, nil
	}
	r, err := tx.Run(s.State.LastRun)
	if errors.Is(err, catalog.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return r.Status == catalog.RunRunning, nil
}

func applyScheduleFire(tx *catalog.Tx, req *ScheduleFireRequest) any {
	s, err := tx.Schedule(req.Name)
	if err != nil {
		return storeErr(err)
	}
	if !req.Manual {
		if s.Paused {
			return fmt.Errorf("%w: schedule %s is paused", catalog.ErrInvalid, s.Name)
		}
		if !req.Tick.After(s.State.LastTick) {
			return fmt.Errorf("schedule %s tick %s: %w (last tick %s)", s.Name, req.Tick.Format("2006-01-02T15:04:05.000Z07:00"), catalog.ErrExists, s.State.LastTick.Format("2006-01-02T15:04:05.000Z07:00"))
		}
	}
	if req.NoRun {
		if req.Manual || req.Spec != nil || req.Error != "" {
			return fmt.Errorf("%w: a fire without a run carries no spec and is not manual", catalog.ErrInvalid)
		}
		s.State.LastTick, s.State.Missed = req.Tick, s.State.Missed+req.Missed
		if err := tx.PutSchedule(s); err != nil {
			return fatalError{err}
		}
		return &FireResponse{}
	}
	if (req.Spec == nil) == (req.Error == "") {
		return fmt.Errorf("%w: a fire carries exactly one of a spec and an error", catalog.ErrInvalid)
	}
	busy, err := previousRunning(tx, s)
	if err != nil {
		return fatalError{err}
	}
	if busy && s.Overlap == "queue" && !req.Manual {
		return fmt.Errorf("%w: schedule %s: the previous run %d still runs (overlap queue)", catalog.ErrInvalid, s.Name, s.State.LastRun)
	}
	r := &catalog.Run{Schedule: s.Name, Tick: req.Tick, Manual: req.Manual, Status: catalog.RunRunning, Step: 1, Try: 1,
		Created: req.Time, Job: runJob(s.Steps), Notify: s.Notify}
	resp := &FireResponse{}
	if busy && s.Overlap == "skip" && !req.Manual {
		t := req.Time
		r.Status, r.Message, r.Ended, r.Step, r.Try = catalog.RunSkipped, fmt.Sprintf("skipped: run %d still runs (overlap skip)", s.State.LastRun), &t, 0, 0
		s.State.Skipped++
		resp.Skipped = true
	} else if err := startStep(tx, r, 1, 1, req.Spec, req.Error, req.Time); err != nil {
		return err
	}
	if err := tx.NewRun(r); err != nil {
		return fatalError{err}
	}
	if !req.Manual {
		s.State.LastTick = req.Tick
		s.State.Missed += req.Missed
	}
	s.State.Fires++
	if !resp.Skipped {
		s.State.LastRun = r.ID
	}
	if err := tx.PutSchedule(s); err != nil {
		return fatalError{err}
	}
	resp.Run = r.ID
	if c := r.Current(); c != nil {
		resp.Execution = c.Execution
	}
	return resp
}

// runJob is the copy of a schedule's steps a run keeps, so that an update
// or a delete of the schedule does not change a run under way. A job of one
// step without retries never creates another execution after its fire: its
// package source and values are left out of the copy.
func runJob(steps []catalog.JobStep) []catalog.JobStep {
	job := append([]catalog.JobStep(nil), steps...)
	if len(job) == 1 && job[0].RetryCount == 0 {
		job[0].Source, job[0].Params = "", nil
	}
	return job
}

// startStep records try (step, try) on r and creates its execution from
// spec; when there is no spec (errMsg) or the execution cannot be created,
// the try is recorded as failed with the reason, to be advanced like any
// failed step. Only a storage error is returned (a fatalError).
func startStep(tx *catalog.Tx, r *catalog.Run, step, try int, spec *catalog.ExecutionSpec, errMsg string, now time.Time) error {
	r.Step, r.Try = step, try
	sr := catalog.StepRun{Step: step, Try: try, Started: now}
	if spec != nil {
		id, err := createExecution(tx, *spec, "schedule:"+r.Schedule, now)
		if fe, ok := err.(fatalError); ok {
			return fe
		}
		if err != nil {
			errMsg = err.Error()
		}
		sr.Execution = id
	}
	if sr.Execution == 0 {
		t := now
		sr.Status, sr.Message, sr.Ended = catalog.StatusFailed, cut(errMsg), &t
	}
	r.Steps = append(r.Steps, sr)
	return nil
}

func cut(s string) string {
	if len(s) > catalog.MaxEventMessageBytes {
		return s[:catalog.MaxEventMessageBytes]
	}
	return s
}

func applyRunAdvance(tx *catalog.Tx, req *RunAdvanceRequest) any {
	r, err := tx.Run(req.Run)
	if err != nil {
		return storeErr(err)
	}
	if r.Status != catalog.RunRunning || r.Step != req.Step || r.Try != req.Try {
		return fmt.Errorf("run %d step %d try %d: %w (the run is %s at step %d try %d)", r.ID, req.Step, req.Try, catalog.ErrExists, r.Status, r.Step, r.Try)
	}
	end, ok, ended, err := tx.StepEnd(r)
	if err != nil {
		return storeErr(err)
	}
	if !ended {
		return fmt.Errorf("%w: run %d step %d try %d has not ended", catalog.ErrInvalid, r.ID, r.Step, r.Try)
	}
	cur := r.Current()
	if cur.Execution != 0 {
		e, err := tx.Execution(cur.Execution)
		if err != nil {
			return storeErr(err)
		}
		cur.Status, cur.Message, cur.Ended = e.Status, cut(e.Message), &end
	}
	step, try, final, err := r.Next(ok)
	if err != nil {
		final = catalog.RunFailed
		r.Message = err.Error()
	}
	if final != "" {
		if req.NextStep != 0 {
			return fmt.Errorf("%w: run %d ends (%s), the leader expected step %d", catalog.ErrInvalid, r.ID, final, req.NextStep)
		}
		t := req.Time
		r.Status, r.Ended = final, &t
		if r.Message == "" {
			r.Message = fmt.Sprintf("step %d try %d %s", cur.Step, cur.Try, cur.Status)
		}
	} else {
		if req.NextStep != step || req.NextTry != try {
			return fmt.Errorf("%w: run %d goes on with step %d try %d, not %d/%d", catalog.ErrInvalid, r.ID, step, try, req.NextStep, req.NextTry)
		}
		if try > 1 && req.Time.Before(end.Add(r.Job[step-1].RetryInterval)) {
			return fmt.Errorf("%w: run %d step %d: the retry interval has not passed", catalog.ErrInvalid, r.ID, step)
		}
		if (req.Spec == nil) == (req.Error == "") {
			return fmt.Errorf("%w: an advance to a step carries exactly one of a spec and an error", catalog.ErrInvalid)
		}
		if err := startStep(tx, r, step, try, req.Spec, req.Error, req.Time); err != nil {
			return err
		}
	}
	if err := tx.PutRun(r); err != nil {
		return fatalError{err}
	}
	return nil
}

func applyRunDelivered(tx *catalog.Tx, req *RunDeliveredRequest) any {
	r, err := tx.Run(req.Run)
	if err != nil {
		return storeErr(err)
	}
	if !r.NeedsDelivery() {
		return fmt.Errorf("run %d notification: %w", r.ID, catalog.ErrExists)
	}
	d := req.Delivery
	d.Error = cut(d.Error)
	r.Delivery = &d
	if err := tx.PutRun(r); err != nil {
		return fatalError{err}
	}
	return nil
}

func applyRunPurge(tx *catalog.Tx, req *RunPurgeRequest) any {
	if len(req.IDs) > 10_000 {
		return fmt.Errorf("%w: %d runs in one purge (at most 10000)", catalog.ErrInvalid, len(req.IDs))
	}
	n := 0
	for _, id := range req.IDs {
		ok, err := tx.DeleteExpiredRun(id, req.Before)
		if err != nil {
			return fatalError{err}
		}
		if ok {
			n++
		}
	}
	return n
}
