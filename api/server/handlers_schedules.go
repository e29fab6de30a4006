package server

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/scaleout/scaleout/api"
	"github.com/scaleout/scaleout/catalog"
)

// ScheduleService is the schedules service (SQL Agent's jobs and
// schedules): definitions are Raft commands; runs are read from the local
// catalog.
type ScheduleService interface {
	// Put creates a schedule, or with replace replaces its definition.
	Put(ctx context.Context, req *api.ScheduleRequest, replace bool) error
	Delete(ctx context.Context, name string) error
	SetPaused(ctx context.Context, name string, paused bool) error
	RunNow(ctx context.Context, name string) (run, execution uint64, err error)
	Schedules() ([]*catalog.Schedule, error)
	Schedule(name string) (*catalog.Schedule, error)
	// NextFires returns the next n ticks (none while paused).
	NextFires(s *catalog.Schedule, n int) []time.Time
	Runs(name string, limit int) ([]*catalog.Run, error)
	Run(name string, id uint64) (*catalog.Run, error)
}

// registerSchedules adds the schedule routes.
func (s *srv) registerSchedules(h func(string, mode, bool, handlerFunc)) {
	have := s.svc.Schedules != nil
	h("GET /v1/schedules", read, have, s.listSchedules)
	h("POST /v1/schedules", leader, have, s.createSchedule)
	h("GET /v1/schedules/{name}", read, have, s.getSchedule)
	h("PUT /v1/schedules/{name}", leader, have, s.updateSchedule)
	h("DELETE /v1/schedules/{name}", leader, have, s.deleteSchedule)
	h("POST /v1/schedules/{name}/pause", leader, have, s.pauseSchedule(true))
	h("POST /v1/schedules/{name}/resume", leader, have, s.pauseSchedule(false))
	h("POST /v1/schedules/{name}/run-now", leader, have, s.runNow)
	h("GET /v1/schedules/{name}/runs", read, have, s.listRuns)
	h("GET /v1/schedules/{name}/runs/{id}", read, have, s.getRun)
}

func apiStep(st catalog.JobStep) api.JobStep {
	a := api.JobStep{Name: st.Name, Environment: st.Environment, Source: st.Source, File: st.File, Params: st.Params,
		Retries: st.Retries, LoggingLevel: st.LoggingLevel, OnSuccess: st.OnSuccess, OnFailure: st.OnFailure, RetryCount: st.RetryCount}
	if st.Project != "" {
		a.Package = st.Folder + "/" + st.Project + "/" + st.Package
	}
	if st.RetryInterval > 0 {
		a.RetryInterval = st.RetryInterval.String()
	}
	return a
}

func (s *srv) toAPISchedule(c *catalog.Schedule) api.Schedule {
	out := api.Schedule{ScheduleRequest: api.ScheduleRequest{Name: c.Name, Description: c.Description, Cron: c.Cron, At: c.At,
		TZ: c.TZ, Start: c.Start, End: c.End, CatchUp: c.CatchUp, Grace: c.Grace.String(), Overlap: c.Overlap, Paused: c.Paused},
		Created: c.Created, Updated: c.Updated, Fires: c.State.Fires, Missed: c.State.Missed, Skipped: c.State.Skipped,
		LastRun: c.State.LastRun, Next: s.svc.Schedules.NextFires(c, 3)}
	if c.Every > 0 {
		out.Every = c.Every.String()
	}
	if !c.State.LastTick.IsZero() {
		t := c.State.LastTick
		out.LastTick = &t
	}
	if len(c.Steps) == 1 && c.Steps[0].OnSuccess == "" && c.Steps[0].OnFailure == "" && c.Steps[0].RetryCount == 0 && c.Steps[0].Name == "" {
		out.JobStep = apiStep(c.Steps[0])
	} else {
		for _, st := range c.Steps {
			out.Steps = append(out.Steps, apiStep(st))
		}
	}
	out.Notify = toAPINotify(c.Notify)
	return out
}

// toAPINotify converts a notification for reading: header values and a
// webhook password masked.
func toAPINotify(c *catalog.Notify) *api.Notify {
	if c == nil {
		return nil
	}
	n := &api.Notify{On: c.On, Webhook: api.MaskURL(c.Webhook), Email: c.Email}
	if len(c.Headers) > 0 {
		n.Headers = map[string]string{}
		for k := range c.Headers {
			n.Headers[k] = api.Masked
		}
	}
	return n
}

func toAPIRun(r *catalog.Run) api.Run {
	out := api.Run{ID: r.ID, Schedule: r.Schedule, Tick: r.Tick, Manual: r.Manual, Status: string(r.Status), Message: r.Message,
		Step: r.Step, Try: r.Try, Created: r.Created, Ended: r.Ended}
	for _, st := range r.Steps {
		a := api.StepRun{Step: st.Step, Try: st.Try, Execution: st.Execution, Status: string(st.Status), Message: st.Message,
			Started: st.Started, Ended: st.Ended}
		if st.Step >= 1 && st.Step <= len(r.Job) {
			a.Name = r.Job[st.Step-1].Name
		}
		out.Steps = append(out.Steps, a)
	}
	if r.Delivery != nil {
		out.Delivery = &api.Delivery{Delivered: r.Delivery.Delivered, Attempts: r.Delivery.Attempts, Error: r.Delivery.Error, Time: r.Delivery.Time}
	}
	return out
}

func (s *srv) listSchedules(*http.Request) (any, error) {
	return apiList(s.toAPISchedule)(s.svc.Schedules.Schedules())
}

func (s *srv) getSchedule(r *http.Request) (any, error) {
	c, err := s.svc.Schedules.Schedule(r.PathValue("name"))
	if err != nil {
		return nil, err
	}
	return s.toAPISchedule(c), nil
}

func (s *srv) createSchedule(r *http.Request) (any, error) {
	return withBody(r, func(req *api.ScheduleRequest) (any, error) {
		return nil, s.svc.Schedules.Put(r.Context(), req, false)
	})
}

func (s *srv) updateSchedule(r *http.Request) (any, error) {
	return withBody(r, func(req *api.ScheduleRequest) (any, error) {
		name := r.PathValue("name")
		if req.Name == "" {
			req.Name = name
		}
		if req.Name != name {
			return nil, codedErr(http.StatusBadRequest, "the body names schedule %q, the path %q (a schedule cannot be renamed)", req.Name, name)
		}
		return nil, s.svc.Schedules.Put(r.Context(), req, true)
	})
}

func (s *srv) deleteSchedule(r *http.Request) (any, error) {
	return nil, s.svc.Schedules.Delete(r.Context(), r.PathValue("name"))
}

func (s *srv) pauseSchedule(paused bool) handlerFunc {
	return func(r *http.Request) (any, error) {
		return nil, s.svc.Schedules.SetPaused(r.Context(), r.PathValue("name"), paused)
	}
}

func (s *srv) runNow(r *http.Request) (any, error) {
	run, exec, err := s.svc.Schedules.RunNow(r.Context(), r.PathValue("name"))
	if err != nil {
		return nil, err
	}
	return api.RunNowResponse{Run: run, Execution: exec}, nil
}

func (s *srv) listRuns(r *http.Request) (any, error) {
	limit, err := queryInt(r, "limit", 10_000)
	if err != nil {
		return nil, err
	}
	if limit == 0 {
		limit = 100
	}
	return apiList(toAPIRun)(s.svc.Schedules.Runs(r.PathValue("name"), limit))
}

func (s *srv) getRun(r *http.Request) (any, error) {
	raw := r.PathValue("id")
	id, err := strconv.ParseUint(raw, 10, 64)
	if err != nil || id == 0 {
		return nil, codedErr(http.StatusBadRequest, "invalid run id %q: want a positive integer", raw)
	}
	run, err := s.svc.Schedules.Run(r.PathValue("name"), id)
	if err != nil {
		return nil, err
	}
	return toAPIRun(run), nil
}
