package master

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/scaleout/scaleout/api"
	"github.com/scaleout/scaleout/catalog"
	"github.com/scaleout/scaleout/fsm"
)

// pass is one look of the leader: advance the runs whose step ended,
// deliver the notifications of ended runs and executions, fire the due
// ticks. Everything
// it decides is a Raft command keyed so that a repeat (this leader's next
// pass, or the next leader after a failover) changes nothing: a fire by
// (schedule, tick), an advance by (run, step, try), a delivery record by
// run or execution.
func (s *Scheduler) pass() {
	if s.m.requireLeader() != nil {
		return
	}
	ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
	defer cancel()
	var scheds []*catalog.Schedule
	var open []*catalog.Run
	err := s.view(func(tx *catalog.Tx) error {
		var err error
		if scheds, err = tx.Schedules(); err != nil {
			return err
		}
		open, err = tx.OpenRuns()
		return err
	})
	if err != nil {
		s.logger.Error("read schedules", "error", err)
		return
	}
	for _, r := range open {
		switch {
		case r.Status == catalog.RunRunning:
			s.advance(ctx, r)
		case r.NeedsDelivery():
			s.deliverRun(r)
		}
	}
	s.deliverExecutions()
	for _, sc := range scheds {
		if !sc.Paused {
			s.fireDue(ctx, sc)
		}
	}
	if now := s.m.now(); now.Sub(s.lastPurge) >= s.c.cfg.RetentionInterval {
		s.lastPurge = now
		for s.purgeRuns(ctx, now) {
		}
	}
}

// purgeRuns removes runs that ended (and were notified) longer ago than the
// catalog's retention, as retention removes their executions; one command
// of at most RetentionBatch runs. It reports whether a full batch went.
func (s *Scheduler) purgeRuns(ctx context.Context, now time.Time) bool {
	req := &fsm.RunPurgeRequest{Time: now, Before: now.Add(-s.c.cfg.Retention)}
	err := s.view(func(tx *catalog.Tx) error {
		var err error
		req.IDs, err = tx.ExpiredRuns(req.Before, s.c.cfg.RetentionBatch, 50*s.c.cfg.RetentionBatch)
		return err
	})
	if err != nil || len(req.IDs) == 0 || ctx.Err() != nil {
		return false
	}
	resp, err := s.m.apply(ctx, fsm.RunPurgeType, req)
	if err != nil {
		s.logger.Warn("retention: purge of runs failed", "error", err)
		return false
	}
	n, _ := resp.(int)
	s.logger.Info("retention: purged runs", "runs", n, "ended_before", req.Before)
	return n == s.c.cfg.RetentionBatch
}

// warn logs a schedule's problem once until it changes.
func (s *Scheduler) warn(name, problem string) {
	s.mu.Lock()
	same := s.warned[name] == problem
	s.warned[name] = problem
	s.mu.Unlock()
	if !same && problem != "" {
		s.logger.Warn("schedule", "name", name, "problem", problem)
	}
}

func (s *Scheduler) fireDue(ctx context.Context, sc *catalog.Schedule) {
	t, err := parseTiming(sc)
	if err != nil {
		s.warn(sc.Name, err.Error())
		return
	}
	if sc.Overlap == "queue" {
		busy := false
		_ = s.view(func(tx *catalog.Tx) error {
			if sc.State.LastRun != 0 {
				if r, err := tx.Run(sc.State.LastRun); err == nil {
					busy = r.Status == catalog.RunRunning
				}
			}
			return nil
		})
		if busy {
			return // the tick waits for the run before it
		}
	}
	last := sc.State.LastTick
	if last.IsZero() {
		last = sc.Created
	}
	now := s.m.now()
	fires, missed, mark, err := t.due(last, now, sc.Grace, sc.CatchUp)
	if err != nil {
		s.warn(sc.Name, err.Error())
		return
	}
	if !mark.IsZero() {
		if !s.fire(ctx, &fsm.ScheduleFireRequest{Time: now, Name: sc.Name, Tick: mark, Missed: missed, NoRun: true}) {
			return
		}
		missed = 0
	}
	if sc.Overlap == "queue" && len(fires) > 1 {
		fires = fires[:1] // the next ones wait for this run
	}
	for _, tk := range fires {
		req := &fsm.ScheduleFireRequest{Time: now, Name: sc.Name, Tick: tk, Missed: missed}
		missed = 0
		if spec, err := s.stepSpec(ctx, sc.Steps[0]); err != nil {
			req.Error = "step 1: " + err.Error()
		} else {
			req.Spec = &spec
		}
		if !s.fire(ctx, req) {
			return
		}
	}
}

// fire proposes one fire and reports whether the next may follow.
func (s *Scheduler) fire(ctx context.Context, req *fsm.ScheduleFireRequest) bool {
	resp, err := s.m.apply(ctx, fsm.ScheduleFireType, req)
	if err != nil {
		if errors.Is(err, catalog.ErrExists) {
			s.logger.Debug("tick already fired", "schedule", req.Name, "tick", req.Tick)
		} else {
			s.warn(req.Name, "fire: "+err.Error())
		}
		return false
	}
	s.warn(req.Name, "")
	if fr, ok := resp.(*fsm.FireResponse); ok && !req.NoRun {
		s.logger.Info("schedule fired", "schedule", req.Name, "tick", req.Tick, "run", fr.Run, "execution", fr.Execution,
			"skipped", fr.Skipped, "missed_before", req.Missed)
	}
	return true
}

// advance moves a run on once its current step try has ended, after the
// step's retry interval when it is tried again.
func (s *Scheduler) advance(ctx context.Context, r *catalog.Run) {
	var (
		end       time.Time
		ok, ended bool
	)
	err := s.view(func(tx *catalog.Tx) error {
		var err error
		end, ok, ended, err = tx.StepEnd(r)
		return err
	})
	if err != nil || !ended {
		return
	}
	now := s.m.now()
	req := &fsm.RunAdvanceRequest{Time: now, Run: r.ID, Step: r.Step, Try: r.Try}
	step, try, final, err := r.Next(ok)
	if err == nil && final == "" {
		if try > 1 && now.Before(end.Add(r.Job[step-1].RetryInterval)) {
			return
		}
		req.NextStep, req.NextTry = step, try
		if spec, err := s.stepSpec(ctx, r.Job[step-1]); err != nil {
			req.Error = fmt.Sprintf("step %d: %v", step, err)
		} else {
			req.Spec = &spec
		}
	}
	if _, err := s.m.apply(ctx, fsm.RunAdvanceType, req); err != nil && !errors.Is(err, catalog.ErrExists) {
		s.logger.Warn("advance run", "run", r.ID, "step", r.Step, "try", r.Try, "error", err)
	}
}

// Notification builds the JSON body of a run's webhook.
func Notification(r *catalog.Run) api.Notification {
	n := api.Notification{Event: "run." + string(r.Status), Schedule: r.Schedule, Run: r.ID, Tick: r.Tick, Manual: r.Manual,
		Status: string(r.Status), Message: r.Message, Steps: APISteps(r), Created: r.Created, Ended: r.Ended}
	return n
}

// APISteps converts a run's step tries for the API.
func APISteps(r *catalog.Run) []api.StepRun {
	out := make([]api.StepRun, 0, len(r.Steps))
	for _, st := range r.Steps {
		a := api.StepRun{Step: st.Step, Try: st.Try, Execution: st.Execution, Status: string(st.Status), Message: st.Message,
			Started: st.Started, Ended: st.Ended}
		if st.Step >= 1 && st.Step <= len(r.Job) {
			a.Name = r.Job[st.Step-1].Name
		}
		out = append(out, a)
	}
	return out
}

// deliverRun sends a run's notification (deliver).
func (s *Scheduler) deliverRun(r *catalog.Run) {
	s.deliver(outbound{
		key: notifyKey{id: r.ID}, notify: r.Notify,
		subject: fmt.Sprintf("scaleout: schedule %s run %d %s", r.Schedule, r.ID, r.Status),
		body:    func() ([]byte, error) { return json.Marshal(Notification(r)) },
		record: func(ctx context.Context, d *catalog.Delivery) error {
			_, err := s.m.apply(ctx, fsm.RunDeliveredType, &fsm.RunDeliveredRequest{Time: s.m.now(), Run: r.ID, Delivery: *d})
			return err
		},
		log: []any{"run", r.ID, "schedule", r.Schedule},
	})
}
