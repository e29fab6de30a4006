package server

import (
	"errors"
	"maps"
	"net/http"
	"strconv"
	"time"

	"github.com/scaleout/scaleout/api"
	"github.com/scaleout/scaleout/catalog"
	"github.com/scaleout/scaleout/catalog/service"
)

func (s *srv) leader(r *http.Request) (any, error) {
	l, err := s.svc.Status.Leader()
	if err != nil {
		return nil, err
	}
	return api.Leader{Node: l.Node, API: l.API, Index: l.Index}, nil
}

// health answers whether this agent can apply the log (its catalog store
// works): 200 {"status": "ok"}, else the storage error (507).
func (s *srv) health(*http.Request) (any, error) {
	if hc, ok := s.svc.Status.(HealthChecker); ok {
		if err := hc.Health(); err != nil {
			return nil, err
		}
	}
	sec := s.cfg.Security
	return api.Health{Status: "ok", TLS: sec.TLS, Insecure: sec.Insecure, GossipEncrypted: sec.GossipEncrypted}, nil
}

// idempotencyKey merges the Idempotency-Key header into the body's key.
func idempotencyKey(r *http.Request, body *string) error {
	h := r.Header.Get(api.IdempotencyHeader)
	switch {
	case h == "":
	case *body == "":
		*body = h
	case *body != h:
		return codedErr(http.StatusBadRequest, "the %s header and the body's idempotency_key differ", api.IdempotencyHeader)
	}
	return nil
}

func (s *srv) submit(r *http.Request) (any, error) {
	return withBody(r, func(req *api.SubmitRequest) (any, error) {
		if err := idempotencyKey(r, &req.IdempotencyKey); err != nil {
			return nil, err
		}
		id, err := s.svc.Executions.Submit(r.Context(), req, caller(r))
		if err != nil {
			return nil, err
		}
		return api.SubmitResponse{ID: id}, nil
	})
}

func (s *srv) submitBulk(r *http.Request) (any, error) {
	return withBody(r, func(req *api.BulkSubmitRequest) (any, error) {
		if len(req.Executions) == 0 {
			return nil, codedErr(http.StatusBadRequest, "no executions in the request")
		}
		if err := idempotencyKey(r, &req.IdempotencyKey); err != nil {
			return nil, err
		}
		if req.IdempotencyKey != "" {
			for i := range req.Executions {
				if req.Executions[i].IdempotencyKey == "" {
					req.Executions[i].IdempotencyKey = req.IdempotencyKey + "/" + strconv.Itoa(i)
				}
			}
		}
		ids, err := s.svc.Executions.SubmitBulk(r.Context(), req.Executions, caller(r))
		if err != nil {
			return nil, err
		}
		return api.BulkSubmitResponse{IDs: ids}, nil
	})
}

func (s *srv) listExecutions(r *http.Request) (any, error) {
	o, err := listOptions(r)
	if err != nil {
		return nil, err
	}
	pager, ok := s.svc.Executions.(ExecutionPager)
	if !ok {
		list, err := s.svc.Executions.Executions(o)
		return apiList(toAPIExecution)(readable(r, list, err))
	}
	page, err := pager.ExecutionsPage(o)
	if err != nil {
		return nil, err
	}
	page.Executions, _ = readable(r, page.Executions, nil)
	if page.NextBefore > 0 {
		if w, ok := r.Context().Value(responseKey{}).(http.ResponseWriter); ok {
			w.Header().Set(api.NextBeforeHeader, strconv.FormatUint(page.NextBefore, 10))
		}
	}
	return apiList(toAPIExecution)(page.Executions, nil)
}

func (s *srv) execution(r *http.Request) (any, error) {
	return withID(r, func(id uint64) (any, error) {
		e, err := s.svc.Executions.Execution(id)
		if err != nil {
			return nil, err
		}
		out := toAPIExecution(e)
		if e.Status == catalog.StatusCreated {
			out.PendingReason = "created: waiting for POST /v1/executions/" + r.PathValue("id") + "/start (scaleout executions start)"
		}
		if e.Status == catalog.StatusPending {
			out.PendingReason = s.svc.Executions.PendingReason(e)
		}
		return out, nil
	})
}

// events answers a page of events after `after`. With `wait`, it blocks until
// there is a new event, the execution has ended, or the wait has passed.
func (s *srv) events(r *http.Request) (any, error) {
	return withID(r, func(id uint64) (any, error) {
		after, err := queryUint(r, "after")
		if err != nil {
			return nil, err
		}
		limit, err := queryInt(r, "limit", 10000)
		if err != nil {
			return nil, err
		}
		var wait time.Duration
		if raw := r.URL.Query().Get("wait"); raw != "" {
			if wait, err = time.ParseDuration(raw); err != nil || wait < 0 {
				return nil, codedErr(http.StatusBadRequest, "invalid wait %q: want a duration such as 30s", raw)
			}
			if wait > s.cfg.MaxEventsWait {
				wait = s.cfg.MaxEventsWait
			}
		}
		timer := time.NewTimer(wait)
		defer timer.Stop()
		for {
			changed := s.svc.Executions.Changed()
			evs, e, err := s.svc.Executions.Events(id, after, limit)
			if err != nil {
				return nil, err
			}
			if len(evs) > 0 || e.Status.Terminal() || wait == 0 {
				return eventsResponse(evs, after, e), nil
			}
			select {
			case <-changed:
			case <-timer.C:
				return eventsResponse(evs, after, e), nil
			case <-r.Context().Done():
				return nil, r.Context().Err()
			}
		}
	})
}

func eventsResponse(evs []catalog.Event, after uint64, e *catalog.Execution) api.EventsResponse {
	out := api.EventsResponse{Events: make([]api.Event, 0, len(evs)), Next: after, Status: string(e.Status)}
	for _, ev := range evs {
		out.Events = append(out.Events, toAPIEvent(ev))
		out.Next = ev.Seq
	}
	out.Ended = e.Status.Terminal() && out.Next >= e.EventCount
	return out
}

func (s *srv) stop(r *http.Request) (any, error) {
	return withID(r, func(id uint64) (any, error) {
		st, err := s.svc.Executions.Stop(r.Context(), id, caller(r))
		if err != nil {
			return nil, err
		}
		return api.StopResponse{Status: string(st)}, nil
	})
}

func (s *srv) stopBulk(r *http.Request) (any, error) {
	return withBody(r, func(req *api.BulkStopRequest) (any, error) {
		if len(req.IDs) == 0 {
			return nil, codedErr(http.StatusBadRequest, "no ids in the request")
		}
		for _, id := range req.IDs {
			if err := s.execAllowed(r, id, catalog.PermExecute); err != nil && !errors.Is(err, catalog.ErrNotFound) {
				return nil, err
			}
		}
		sts, errs, err := s.svc.Executions.StopMany(r.Context(), req.IDs, caller(r))
		if err != nil {
			return nil, err
		}
		out := api.BulkStopResponse{Results: make([]api.StopResult, len(req.IDs))}
		for i, id := range req.IDs {
			out.Results[i] = api.StopResult{ID: id, Status: string(sts[i])}
			if errs[i] != nil {
				out.Results[i].Error = errs[i].Error()
			}
		}
		return out, nil
	})
}

func (s *srv) reportEvents(r *http.Request) (any, error) {
	return forAttempt(r, func(id uint64, attempt int, rep *api.EventsReport) error {
		if err := s.reporterHolds(r, id, attempt); err != nil {
			return err
		}
		return s.svc.Workers.ReportEvents(r.Context(), id, attempt, rep.First, fromAPIEvents(rep.Events))
	})
}

func (s *srv) reportResult(r *http.Request) (any, error) {
	return forAttempt(r, func(id uint64, attempt int, rep *api.ResultReport) error {
		if err := s.reporterHolds(r, id, attempt); err != nil {
			return err
		}
		return s.svc.Workers.ReportResult(r.Context(), id, attempt, rep, fromAPIEvents(rep.Events))
	})
}

func (s *srv) registerWorker(r *http.Request) (any, error) {
	return withBody(r, func(w *api.Worker) (any, error) {
		// Whether the worker holds a certificate of the cluster CA is what
		// TLS verified, never what the worker says.
		if err := workerCertMatches(r, w.ID); err != nil {
			return nil, err
		}
		id, ok := IdentityFrom(r.Context())
		cert := ok && (id.Role == "server" || id.Role == "worker")
		return nil, s.svc.Workers.RegisterWorker(r.Context(), &catalog.Worker{ID: w.ID, Node: w.Node, Labels: w.Labels, MaxTasks: w.MaxTasks, Certificate: cert})
	})
}

func (s *srv) listWorkers(r *http.Request) (any, error) {
	return apiList(toAPIWorker)(s.svc.Workers.Workers())
}

func toAPIWorker(w service.WorkerStatus) api.Worker {
	out := api.Worker{ID: w.ID, Node: w.Node, Labels: w.Labels, MaxTasks: w.MaxTasks, Enabled: w.Enabled,
		RegisteredAt: w.RegisteredAt, Running: w.Running, Unapproved: w.Unapproved}
	if !w.LastSeen.IsZero() {
		t := w.LastSeen
		out.LastSeen = &t
	}
	return out
}

func (s *srv) poll(r *http.Request) (any, error) {
	return withBody(r, func(req *api.PollRequest) (any, error) {
		if req.Slots < 0 {
			return nil, codedErr(http.StatusBadRequest, "slots must not be negative")
		}
		if len(req.Token) > api.MaxPollToken || len(req.Unanswered) > api.MaxUnanswered {
			return nil, codedErr(http.StatusBadRequest, "poll token over %d bytes or over %d unanswered tokens", api.MaxPollToken, api.MaxUnanswered)
		}
		return s.svc.Workers.Poll(r.Context(), r.PathValue("id"), req)
	})
}

func toAPIExecution(e *catalog.Execution) api.Execution {
	out := api.Execution{
		ID: e.ID, Status: string(e.Status), PackageName: e.PackageName, PackageFile: e.PackageFile,
		Params: e.Params, Retries: e.Retries, Attempt: e.Attempt, Worker: e.Worker, Message: e.Message,
		Caller: e.Caller, CreatedAt: e.CreatedAt, StartedAt: e.StartedAt, EndedAt: e.EndedAt, EventCount: e.EventCount,
		TargetWorkers: e.TargetWorkers, TargetLabels: e.TargetLabels,
		Priority: e.Priority, RetryBackoff: e.RetryBackoff, MaxConcurrent: e.MaxConcurrent,
		ConcurrencyGroup: e.ConcurrencyGroup, QueuedAt: e.QueuedAt, NotBefore: e.NotBefore,
	}
	if e.RetryDelay > 0 {
		out.RetryDelay = e.RetryDelay.String()
	}
	if len(e.Sensitive) > 0 {
		out.Params = maps.Clone(e.Params)
		for _, name := range e.Sensitive {
			if _, ok := out.Params[name]; ok {
				out.Params[name] = api.Masked
			}
		}
	}
	addCatalogFields(&out, e)
	out.Notify = toAPINotify(e.Notify)
	if d := e.Notified; d != nil {
		out.Notification = &api.Delivery{Delivered: d.Delivered, Attempts: d.Attempts, Error: d.Error, Time: d.Time}
	}
	for _, a := range e.Attempts {
		out.Attempts = append(out.Attempts, api.Attempt{N: a.N, Worker: a.Worker, StartedAt: a.StartedAt, EndedAt: a.EndedAt, Result: a.Result})
	}
	return out
}

func toAPIEvent(ev catalog.Event) api.Event {
	return api.Event{Seq: ev.Seq, Time: ev.Time, Type: ev.Type, Attempt: ev.Attempt, Task: ev.Task, Message: ev.Message}
}

func fromAPIEvents(evs []api.Event) []catalog.Event {
	out := make([]catalog.Event, 0, len(evs))
	for _, ev := range evs {
		out = append(out, catalog.Event{Time: ev.Time, Type: ev.Type, Task: ev.Task, Message: ev.Message})
	}
	return out
}

func (s *srv) peers(r *http.Request) (any, error) {
	return s.svc.Status.Peers()
}

func (s *srv) members(r *http.Request) (any, error) {
	return s.svc.Status.Members(), nil
}

func (s *srv) removePeer(r *http.Request) (any, error) {
	return withBody(r, func(req *api.RemovePeerRequest) (any, error) {
		if req.ID == "" {
			return nil, codedErr(http.StatusBadRequest, "peer id is empty")
		}
		return nil, s.svc.Status.RemovePeer(r.Context(), req.ID)
	})
}

func (s *srv) enableWorker(r *http.Request) (any, error) {
	return nil, s.svc.Workers.SetWorkerEnabled(r.Context(), r.PathValue("id"), true)
}

func (s *srv) disableWorker(r *http.Request) (any, error) {
	return nil, s.svc.Workers.SetWorkerEnabled(r.Context(), r.PathValue("id"), false)
}

func (s *srv) removeWorker(r *http.Request) (any, error) {
	return nil, s.svc.Workers.RemoveWorker(r.Context(), r.PathValue("id"))
}

func (s *srv) start(r *http.Request) (any, error) {
	return withID(r, func(id uint64) (any, error) {
		st, err := s.svc.Queue.Start(r.Context(), id, caller(r))
		if err != nil {
			return nil, err
		}
		return api.StartResponse{Status: string(st)}, nil
	})
}

func (s *srv) setExecution(r *http.Request) (any, error) {
	return withID(r, func(id uint64) (any, error) {
		return withBody(r, func(req *api.SetExecutionRequest) (any, error) {
			return nil, s.svc.Queue.SetExecution(r.Context(), id, req)
		})
	})
}

func (s *srv) caps(*http.Request) (any, error) {
	return s.svc.Queue.Caps()
}

func (s *srv) setCap(r *http.Request) (any, error) {
	return withBody(r, func(req *api.Cap) (any, error) {
		return nil, s.svc.Queue.SetCap(r.Context(), *req)
	})
}

// readable leaves out the executions the request's token may not read
// (a token limited to folders).
func readable(r *http.Request, list []*catalog.Execution, err error) ([]*catalog.Execution, error) {
	if err != nil || principalFrom(r.Context()) == nil {
		return list, err
	}
	out := list[:0:0]
	for _, e := range list {
		if mayRead(r, e.Folder) {
			out = append(out, e)
		}
	}
	return out, nil
}
