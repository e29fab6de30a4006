package fsm

import (
	"errors"

	"github.com/scaleout/scaleout/catalog"
)

func init() {
	register(WorkerRegisterType, applyWorkerRegister)
	register(WorkerEnableType, applyWorkerEnable)
	register(WorkerRemoveType, applyWorkerRemove)
}

func applyWorkerRegister(tx *catalog.Tx, req *WorkerRegisterRequest) any {
	w := req.Worker
	if err := catalog.CheckWorker(&w); err != nil {
		return err
	}
	if old, err := tx.Worker(w.ID); err == nil {
		// Re-registration keeps the operator's enable/disable choice and
		// the first registration time.
		w.Enabled = old.Enabled
		w.RegisteredAt = old.RegisteredAt
		w.Unapproved = old.Unapproved
	} else {
		w.Enabled = true
		w.RegisteredAt = req.Time
		w.Unapproved = !tx.ApprovedAtRegistration(&w)
	}
	if err := tx.PutWorker(&w); err != nil {
		return fatalError{err}
	}
	return nil
}

func applyWorkerEnable(tx *catalog.Tx, req *WorkerEnableRequest) any {
	w, err := tx.Worker(req.ID)
	if errors.Is(err, catalog.ErrNotFound) {
		return err
	} else if err != nil {
		return fatalError{err}
	}
	w.Enabled = req.Enabled
	if err := tx.PutWorker(w); err != nil {
		return fatalError{err}
	}
	return nil
}

func applyWorkerRemove(tx *catalog.Tx, req *WorkerRemoveRequest) any {
	if _, err := tx.Worker(req.ID); err != nil {
		if errors.Is(err, catalog.ErrNotFound) {
			return err
		}
		return fatalError{err}
	}
	if err := tx.DeleteWorker(req.ID); err != nil {
		return fatalError{err}
	}
	return nil
}
