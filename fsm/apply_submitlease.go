package fsm

import (
	"fmt"

	"github.com/scaleout/scaleout/catalog"
)

// SubmitLease leases the execution at Index (into the request's
// Executions) to Worker as its first attempt, for the poll with token Poll.
type SubmitLease struct {
	Index  int    `json:"index"`
	Worker string `json:"worker"`
	Poll   string `json:"poll,omitempty"`
}

// ExecutionSubmitLeaseRequest is an ExecutionSubmitRequest whose Leases are
// applied right after the executions are created. A lease that cannot be
// applied (the execution failed to be created, is not pending, a cap is
// full) leaves the execution as the submission alone would have: pending.
// The response is a *SubmitResponse with Leased set.
type ExecutionSubmitLeaseRequest struct {
	ExecutionSubmitRequest
	Leases []SubmitLease `json:"leases"`
}

func init() {
	register(ExecutionSubmitLeaseType, applyExecutionSubmitLease)
	describe(ExecutionSubmitLeaseType, func(r *ExecutionSubmitLeaseRequest) []opItem {
		return describeSubmit(&r.ExecutionSubmitRequest)
	})
}

func applyExecutionSubmitLease(tx *catalog.Tx, req *ExecutionSubmitLeaseRequest) any {
	resp := applyExecutionSubmit(tx, &req.ExecutionSubmitRequest)
	sr, ok := resp.(*SubmitResponse)
	if !ok {
		return resp // the whole command failed (atomic), or a fatal error
	}
	sr.Leased = &ItemsResponse{Errors: make([]error, len(req.Leases))}
	for i, l := range req.Leases {
		if l.Index < 0 || l.Index >= len(sr.IDs) || sr.IDs[l.Index] == 0 {
			sr.Leased.Errors[i] = fmt.Errorf("%w: lease of execution %d of the submission, which was not created", catalog.ErrInvalid, l.Index)
			continue
		}
		lr := applyExecutionLease(tx, &ExecutionLeaseRequest{Time: req.Time, Worker: l.Worker, Poll: l.Poll,
			Items: []LeaseItem{{ID: sr.IDs[l.Index], Attempt: 1}}})
		ir, ok := lr.(*ItemsResponse)
		if !ok {
			return lr // fatal
		}
		sr.Leased.Errors[i] = ir.Err(0)
	}
	return sr
}
