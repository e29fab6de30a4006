package fsm

import (
	"fmt"

	"github.com/scaleout/scaleout/catalog"
)

func init() {
	register(ExecutionNotifiedType, applyExecutionNotified)
}

// applyExecutionNotified records the delivery of an ended execution's
// notification on the execution and as an event; the execution leaves the
// notify index (catalog.Tx.PutExecution).
func applyExecutionNotified(tx *catalog.Tx, req *ExecutionNotifiedRequest) any {
	d := req.Delivery
	if d.Attempts < 0 || (d.Delivered && d.Attempts == 0) {
		return fmt.Errorf("%w: a delivery of %d attempts (delivered %t)", catalog.ErrInvalid, d.Attempts, d.Delivered)
	}
	e, err := tx.Execution(req.ID)
	if err != nil {
		return storeErr(err)
	}
	if !e.NeedsNotify() {
		return fmt.Errorf("execution %d notification: %w", e.ID, catalog.ErrExists)
	}
	d.Error = cut(d.Error)
	e.Notified = &d
	msg := fmt.Sprintf("notification delivered (attempt %d)", d.Attempts)
	if !d.Delivered {
		msg = fmt.Sprintf("notification not delivered after %d attempts: %s", d.Attempts, d.Error)
	}
	if err := tx.AppendEvents(e, []catalog.Event{{Time: req.Time, Type: catalog.EventNotification, Attempt: e.Attempt, Message: msg}}); err != nil {
		return fatalError{err}
	}
	if err := tx.PutExecution(e); err != nil {
		return fatalError{err}
	}
	return nil
}
