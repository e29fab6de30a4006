package fsm

import (
	"errors"
	"fmt"

	"github.com/scaleout/scaleout/catalog"
)

func init() {
	register(ExecutionStartType, applyExecutionStart)
	register(ExecutionSetSpecType, applyExecutionSetSpec)
	register(CapSetType, applyCapSet)
}

func applyExecutionStart(tx *catalog.Tx, req *ExecutionStartRequest) any {
	return applyItems(tx, len(req.Items), func(i int) uint64 { return req.Items[i].ID },
		func(i int, e *catalog.Execution) ([]catalog.Event, error) {
			if err := catalog.CheckCaller(req.Items[i].Caller); err != nil {
				return nil, err
			}
			tr, err := e.Start(req.Items[i].Caller, req.Time)
			return tr.Events, err
		})
}

func applyExecutionSetSpec(tx *catalog.Tx, req *ExecutionSetSpecRequest) any {
	e, err := tx.Execution(req.ID)
	if errors.Is(err, catalog.ErrNotFound) {
		return err
	} else if err != nil {
		return fatalError{err}
	}
	if e.EventCount != req.ExpectEvents && e.Status == catalog.StatusCreated {
		return fmt.Errorf("%w: execution %d changed while this change was prepared; try again", catalog.ErrNotCreated, e.ID)
	}
	if err := checkSpec(tx, &req.Spec); err != nil {
		return err
	}
	tr, err := e.SetSpec(req.Spec, catalog.ClipMessage(req.What), req.Time)
	if err != nil {
		return err
	}
	if err := tx.AppendEvents(e, tr.Events); err != nil {
		return fatalError{err}
	}
	if err := tx.PutExecution(e); err != nil {
		return fatalError{err}
	}
	return nil
}

func applyCapSet(tx *catalog.Tx, req *CapSetRequest) any {
	if err := catalog.CheckCap(req.Setting); err != nil {
		return err
	}
	if err := tx.SetCap(req.Setting); err != nil {
		return fatalError{err}
	}
	return nil
}
