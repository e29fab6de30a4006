package fsm

import (
	"errors"
	"fmt"
	"time"

	"github.com/scaleout/scaleout/catalog"
)

func init() {
	register(ExecutionSubmitType, applyExecutionSubmit)
	register(ExecutionLeaseType, applyExecutionLease)
	register(ExecutionEventsType, applyExecutionEvents)
	register(ExecutionFinishType, applyExecutionFinish)
	register(ExecutionExpireType, applyExecutionExpire)
	register(ExecutionStopType, applyExecutionStop)
	register(ExecutionStopsType, applyExecutionStops)
}

func applyExecutionSubmit(tx *catalog.Tx, req *ExecutionSubmitRequest) any {
	count := len(req.Executions)
	resp := &SubmitResponse{IDs: make([]uint64, count), ItemsResponse: ItemsResponse{Errors: make([]error, count)}}
	if req.Atomic {
		// All or none: check every execution before creating any.
		for i := range req.Executions {
			s := &req.Executions[i].ExecutionSpec
			if s.IdempotencyKey != "" {
				if _, err := tx.IdempotentExecution(s.IdempotencyKey, s.RequestHash, req.Time); errors.Is(err, catalog.ErrKeyReused) {
					return fmt.Errorf("execution %d of the request: %w", i, err)
				} else if err != nil {
					return fatalError{err}
				}
			}
			if err := checkSpec(tx, s); err != nil {
				if fe, ok := err.(fatalError); ok {
					return fe
				}
				return fmt.Errorf("execution %d of the request: %w", i, err)
			}
		}
	}
	for i, n := range req.Executions {
		caller := req.Caller
		if n.Caller != "" {
			caller = n.Caller
		}
		id, err := createExecution(tx, n.ExecutionSpec, caller, req.Time)
		if fe, ok := err.(fatalError); ok {
			return fe
		}
		resp.IDs[i], resp.Errors[i] = id, err
	}
	return resp
}

// checkSpec checks a spec against the rules and, for a deployed package,
// against the catalog as of this log position: the leader resolved it
// against its state, and the version may have gone since.
func checkSpec(tx *catalog.Tx, s *catalog.ExecutionSpec) error {
	if err := s.Check(); err != nil {
		return err
	}
	if !s.FromProject() {
		return nil
	}
	pv, err := tx.ProjectVersion(s.Folder, s.Project, s.ProjectVersion)
	if err != nil {
		return classify(err)
	}
	if pv.Hash != s.ArchiveHash {
		return fmt.Errorf("%w: version %d of %s/%s has archive %s, not %s", catalog.ErrInvalid, pv.Version, s.Folder, s.Project, pv.Hash, s.ArchiveHash)
	}
	pkg := pv.Package(s.PackageName)
	if pkg == nil {
		return fmt.Errorf("package %q in version %d of %s/%s: %w", s.PackageName, pv.Version, s.Folder, s.Project, catalog.ErrNotFound)
	}
	if !pkg.EntryPoint {
		return fmt.Errorf("%w: package %q is not an entry point (entry_point: false)", catalog.ErrInvalid, s.PackageName)
	}
	if pkg.File != s.PackageFile {
		return fmt.Errorf("%w: package %q is file %s in version %d of %s/%s, not %s", catalog.ErrInvalid, s.PackageName, pkg.File, pv.Version, s.Folder, s.Project, s.PackageFile)
	}
	return nil
}

// createExecution is the one way an execution comes to exist: the spec is
// checked, an id assigned, and the execution queued as pending. A business
// error leaves nothing written; a storage error comes back as a
// fatalError.
func createExecution(tx *catalog.Tx, spec catalog.ExecutionSpec, caller string, now time.Time) (uint64, error) {
	if spec.IdempotencyKey != "" {
		// A retried submission: the execution exists already.
		id, err := tx.IdempotentExecution(spec.IdempotencyKey, spec.RequestHash, now)
		if errors.Is(err, catalog.ErrKeyReused) {
			return 0, err
		} else if err != nil {
			return 0, fatalError{err}
		}
		if id != 0 {
			return id, nil
		}
	}
	if err := checkSpec(tx, &spec); err != nil {
		return 0, err
	}
	if err := catalog.CheckCaller(caller); err != nil {
		return 0, err
	}
	id, err := tx.NextExecutionID()
	if err != nil {
		return 0, fatalError{err}
	}
	if spec.IdempotencyKey != "" {
		if err := tx.PutIdempotencyKey(spec.IdempotencyKey, spec.RequestHash, id, now); err != nil {
			return 0, fatalError{err}
		}
	}
	e := &catalog.Execution{ID: id, Status: catalog.StatusPending, ExecutionSpec: spec, Caller: caller, CreatedAt: now, QueuedAt: &now}
	msg := "created -> pending"
	if spec.Unstarted {
		e.Status, e.QueuedAt, msg = catalog.StatusCreated, nil, "created (not started)"
	}
	if spec.FromProject() {
		msg += fmt.Sprintf(": %s/%s version %d, package %s", spec.Folder, spec.Project, spec.ProjectVersion, spec.PackageName)
		if spec.Environment != "" {
			msg += ", environment " + spec.Environment
		}
	}
	ev := []catalog.Event{{Time: now, Type: catalog.EventStatusChange, Message: msg}}
	if err := tx.AppendEvents(e, ev); err != nil {
		return 0, fatalError{err}
	}
	if err := tx.PutExecution(e); err != nil {
		return 0, fatalError{err}
	}
	return id, nil
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

// maxPollToken bounds the poll token recorded on an attempt; a longer one
// (a bad or hostile leader) is not recorded: the attempt is then expired,
// not handed again, if its worker misses the answer.
const maxPollToken = 64

func applyExecutionLease(tx *catalog.Tx, req *ExecutionLeaseRequest) any {
	return applyItems(tx, len(req.Items), func(i int) uint64 { return req.Items[i].ID },
		func(i int, e *catalog.Execution) ([]catalog.Event, error) {
			// The caps hold here, in log order, whatever leases the leader
			// decided at once: an earlier item of this batch counts.
			if e.Status == catalog.StatusPending {
				if hit := tx.CapBlocked(&e.ExecutionSpec, nil); hit != nil {
					return nil, fmt.Errorf("%w: execution %d waits: %s", catalog.ErrNotPending, e.ID, hit)
				}
			}
			tr, err := e.Lease(req.Worker, req.Items[i].Attempt, req.Time)
			if err == nil && len(req.Poll) <= maxPollToken {
				e.Attempts[len(e.Attempts)-1].Poll = req.Poll
			}
			return tr.Events, err
		})
}

// reportedEvents checks that a report comes from e's current attempt,
// drops the events of a numbered batch (first > 0) that were applied
// before, and fills in the attempt and a missing time on the others.
func reportedEvents(e *catalog.Execution, attempt int, first uint64, evs []catalog.Event, now time.Time) ([]catalog.Event, error) {
	if err := e.CheckReport(attempt); err != nil {
		return nil, err
	}
	evs = e.NewEvents(first, evs)
	for i := range evs {
		evs[i].Attempt = attempt
		if evs[i].Time.IsZero() {
			evs[i].Time = now
		}
	}
	return evs, nil
}

func applyExecutionEvents(tx *catalog.Tx, req *ExecutionEventsRequest) any {
	return applyItems(tx, len(req.Items), func(i int) uint64 { return req.Items[i].ID },
		func(i int, e *catalog.Execution) ([]catalog.Event, error) {
			it := req.Items[i]
			return reportedEvents(e, it.Attempt, it.First, it.Events, req.Time)
		})
}

func applyExecutionFinish(tx *catalog.Tx, req *ExecutionFinishRequest) any {
	return applyItems(tx, len(req.Items), func(i int) uint64 { return req.Items[i].ID },
		func(i int, e *catalog.Execution) ([]catalog.Event, error) {
			it := req.Items[i]
			evs, err := reportedEvents(e, it.Attempt, it.First, it.Events, req.Time)
			if err != nil {
				return nil, err
			}
			tr, err := e.Finish(it.Attempt, it.Status, catalog.ClipMessage(it.Message), req.Time)
			if err != nil {
				return nil, err
			}
			return append(evs, tr.Events...), nil
		})
}

func applyExecutionExpire(tx *catalog.Tx, req *ExecutionExpireRequest) any {
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
			tr, err := rule(it.Attempt, catalog.ClipMessage(it.Reason), req.Time)
			return tr.Events, err
		})
}

func applyExecutionStops(tx *catalog.Tx, req *ExecutionStopsRequest) any {
	return applyItems(tx, len(req.Items), func(i int) uint64 { return req.Items[i].ID },
		func(i int, e *catalog.Execution) ([]catalog.Event, error) {
			tr, err := e.Stop(req.Items[i].Caller, req.Time)
			return tr.Events, err
		})
}

func applyExecutionStop(tx *catalog.Tx, req *ExecutionStopRequest) any {
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
