package fsm

import (
	"errors"
	"fmt"
	"time"

	"github.com/scaleout/scaleout/catalog"
)

func init() {
	register(ExecutionSubmitType, (*FSM).applyExecutionSubmit)
	register(ExecutionLeaseType, (*FSM).applyExecutionLease)
	register(ExecutionEventsType, (*FSM).applyExecutionEvents)
	register(ExecutionFinishType, (*FSM).applyExecutionFinish)
	register(ExecutionExpireType, (*FSM).applyExecutionExpire)
	register(ExecutionStopType, (*FSM).applyExecutionStop)
}

func (f *FSM) applyExecutionSubmit(tx *catalog.Tx, _ uint64, buf []byte) any {
	var req ExecutionSubmitRequest
	mustDecode(buf, &req)
	for i, n := range req.Executions {
		if n.Retries < 0 {
			return fmt.Errorf("execution %d of the request: negative retry count %d", i, n.Retries)
		}
	}
	resp := &SubmitResponse{IDs: make([]uint64, 0, len(req.Executions))}
	for _, n := range req.Executions {
		caller := req.Caller
		if n.Caller != "" {
			caller = n.Caller
		}
		id, err := tx.NextExecutionID()
		if err != nil {
			return fatalError{err}
		}
		e := &catalog.Execution{
			ID:            id,
			Status:        catalog.StatusPending,
			PackageName:   n.PackageName,
			PackageFile:   n.PackageFile,
			Source:        n.Source,
			Params:        n.Params,
			Sensitive:     n.Sensitive,
			TargetWorkers: n.TargetWorkers,
			TargetLabels:  n.TargetLabels,
			Retries:       n.Retries,
			Caller:        caller,
			CreatedAt:     req.Time,
		}
		ev := []catalog.Event{{Time: req.Time, Type: catalog.EventStatusChange, Message: "created -> pending"}}
		if err := tx.AppendEvents(e, ev); err != nil {
			return fatalError{err}
		}
		if err := tx.PutExecution(e); err != nil {
			return fatalError{err}
		}
		resp.IDs = append(resp.IDs, id)
	}
	return resp
}

// applyItems runs one rule per item; a business error of one item leaves the
// others applied. rule mutates e and returns the events it produced.
func applyItems(tx *catalog.Tx, n int, id func(i int) uint64, rule func(i int, e *catalog.Execution) ([]catalog.Event, error)) any {
	resp := &ItemsResponse{Errors: make([]error, n)}
	for i := 0; i < n; i++ {
		e, err := tx.Execution(id(i))
		if errors.Is(err, catalog.ErrNotFound) {
			resp.Errors[i] = err
			continue
		} else if err != nil {
			return fatalError{err}
		}
		evs, err := rule(i, e)
		if err != nil {
			resp.Errors[i] = err
			continue
		}
		if err := tx.AppendEvents(e, evs); err != nil {
			return fatalError{err}
		}
		if err := tx.PutExecution(e); err != nil {
			return fatalError{err}
		}
	}
	return resp
}

func (f *FSM) applyExecutionLease(tx *catalog.Tx, _ uint64, buf []byte) any {
	var req ExecutionLeaseRequest
	mustDecode(buf, &req)
	return applyItems(tx, len(req.Items), func(i int) uint64 { return req.Items[i].ID },
		func(i int, e *catalog.Execution) ([]catalog.Event, error) {
			tr, err := e.Lease(req.Worker, req.Items[i].Attempt, req.Time)
			return tr.Events, err
		})
}

// stampEvents fills in the attempt and a missing time on reported events.
func stampEvents(evs []catalog.Event, attempt int, now time.Time) []catalog.Event {
	for i := range evs {
		evs[i].Attempt = attempt
		if evs[i].Time.IsZero() {
			evs[i].Time = now
		}
	}
	return evs
}

func (f *FSM) applyExecutionEvents(tx *catalog.Tx, _ uint64, buf []byte) any {
	var req ExecutionEventsRequest
	mustDecode(buf, &req)
	return applyItems(tx, len(req.Items), func(i int) uint64 { return req.Items[i].ID },
		func(i int, e *catalog.Execution) ([]catalog.Event, error) {
			it := req.Items[i]
			if err := e.CheckReport(it.Attempt); err != nil {
				return nil, err
			}
			return stampEvents(it.Events, it.Attempt, req.Time), nil
		})
}

func (f *FSM) applyExecutionFinish(tx *catalog.Tx, _ uint64, buf []byte) any {
	var req ExecutionFinishRequest
	mustDecode(buf, &req)
	return applyItems(tx, len(req.Items), func(i int) uint64 { return req.Items[i].ID },
		func(i int, e *catalog.Execution) ([]catalog.Event, error) {
			it := req.Items[i]
			if err := e.CheckReport(it.Attempt); err != nil {
				return nil, err
			}
			evs := stampEvents(it.Events, it.Attempt, req.Time)
			tr, err := e.Finish(it.Attempt, it.Status, it.Message, req.Time)
			if err != nil {
				return nil, err
			}
			return append(evs, tr.Events...), nil
		})
}

func (f *FSM) applyExecutionExpire(tx *catalog.Tx, _ uint64, buf []byte) any {
	var req ExecutionExpireRequest
	mustDecode(buf, &req)
	return applyItems(tx, len(req.Items), func(i int) uint64 { return req.Items[i].ID },
		func(i int, e *catalog.Execution) ([]catalog.Event, error) {
			it := req.Items[i]
			rule := e.Expire
			switch {
			case it.HandBack:
				rule = e.HandBack
			case it.Interrupted:
				rule = e.Interrupt
			}
			tr, err := rule(it.Attempt, it.Reason, req.Time)
			return tr.Events, err
		})
}

func (f *FSM) applyExecutionStop(tx *catalog.Tx, _ uint64, buf []byte) any {
	var req ExecutionStopRequest
	mustDecode(buf, &req)
	resp := applyItems(tx, 1, func(int) uint64 { return req.ID },
		func(_ int, e *catalog.Execution) ([]catalog.Event, error) {
			tr, err := e.Stop(req.Caller, req.Time)
			return tr.Events, err
		})
	if r, ok := resp.(*ItemsResponse); ok {
		return r.Errors[0]
	}
	return resp
}
