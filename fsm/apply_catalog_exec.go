package fsm

import (
	"github.com/scaleout/scaleout/catalog"
)

func init() {
	register(ExecutionCreateType, applyExecutionCreate)
	register(ExecutionPurgeType, applyExecutionPurge)
}

// applyExecutionCreate replays the retired ExecutionCreate command: the
// stored execution's spec is created exactly as ExecutionSubmit creates one.
func applyExecutionCreate(tx *catalog.Tx, req *ExecutionCreateRequest) any {
	id, err := createExecution(tx, req.Execution.ExecutionSpec, req.Caller, req.Time)
	if err != nil {
		if fe, ok := err.(fatalError); ok {
			return fe
		}
		return err
	}
	return &SubmitResponse{IDs: []uint64{id}, ItemsResponse: ItemsResponse{Errors: []error{nil}}}
}

func applyExecutionPurge(tx *catalog.Tx, req *ExecutionPurgeRequest) any {
	resp := &PurgeResponse{}
	for _, id := range req.IDs {
		e, err := tx.Execution(id)
		if err != nil || !(e.Expired(req.Before) || e.StaleUnstarted(req.UnstartedBefore)) {
			continue // already gone, or not expired on this log position
		}
		if err := tx.DeleteExecution(id); err != nil {
			return fatalError{err}
		}
		resp.Executions++
	}
	for _, k := range req.IdempotencyKeys {
		gone, err := tx.DeleteIdempotencyKey(k, req.Time)
		if err != nil {
			return fatalError{err}
		}
		if gone {
			resp.IdempotencyKeys++
		}
	}
	if len(req.Uploads) > 0 {
		stale, err := tx.StaleUploads(req.UploadsBefore, 1<<30)
		if err != nil {
			return fatalError{err}
		}
		want := map[string]bool{}
		for _, h := range req.Uploads {
			want[h] = true
		}
		for _, h := range stale {
			if want[h] {
				if err := tx.DeleteUpload(h); err != nil {
					return fatalError{err}
				}
				resp.Uploads++
			}
		}
	}
	return resp
}
