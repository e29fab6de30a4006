package fsm

import (
	"fmt"

	"github.com/scaleout/scaleout/catalog"
)

func init() {
	register(ExecutionCreateType, (*FSM).applyExecutionCreate)
	register(ExecutionPurgeType, (*FSM).applyExecutionPurge)
}

func (f *FSM) applyExecutionCreate(tx *catalog.Tx, _ uint64, buf []byte) any {
	var req ExecutionCreateRequest
	mustDecode(buf, &req)
	n := req.Execution
	if n.Retries < 0 {
		return fmt.Errorf("%w: negative retry count %d", catalog.ErrInvalid, n.Retries)
	}
	// The leader resolved against its state; check that what it resolved
	// against still exists when the command is applied.
	pv, err := tx.ProjectVersion(n.Folder, n.Project, n.ProjectVersion)
	if err != nil {
		return bizOnly(err)
	}
	if pv.Hash != n.ArchiveHash {
		return fmt.Errorf("%w: version %d of %s/%s has archive %s, not %s", catalog.ErrInvalid, pv.Version, n.Folder, n.Project, pv.Hash, n.ArchiveHash)
	}
	pkg := pv.Package(n.PackageName)
	if pkg == nil {
		return fmt.Errorf("package %q in version %d of %s/%s: %w", n.PackageName, pv.Version, n.Folder, n.Project, catalog.ErrNotFound)
	}
	if !pkg.EntryPoint {
		return fmt.Errorf("%w: package %q is not an entry point (entry_point: false)", catalog.ErrInvalid, n.PackageName)
	}
	id, err := tx.NextExecutionID()
	if err != nil {
		return fatalError{err}
	}
	e := n
	e.ID = id
	e.Status = catalog.StatusPending
	e.Caller = req.Caller
	e.CreatedAt = req.Time
	e.PackageFile = pkg.File
	e.Source = ""
	e.Attempt, e.Worker, e.Message = 0, "", ""
	e.StartedAt, e.EndedAt, e.Attempts = nil, nil, nil
	e.EventCount, e.Truncated = 0, false
	msg := fmt.Sprintf("created -> pending: %s/%s version %d, package %s", e.Folder, e.Project, e.ProjectVersion, e.PackageName)
	if e.Environment != "" {
		msg += ", environment " + e.Environment
	}
	ev := []catalog.Event{{Time: req.Time, Type: catalog.EventStatusChange, Message: msg}}
	if err := tx.AppendEvents(&e, ev); err != nil {
		return fatalError{err}
	}
	if err := tx.PutExecution(&e); err != nil {
		return fatalError{err}
	}
	return &SubmitResponse{IDs: []uint64{id}}
}

func (f *FSM) applyExecutionPurge(tx *catalog.Tx, _ uint64, buf []byte) any {
	var req ExecutionPurgeRequest
	mustDecode(buf, &req)
	resp := &PurgeResponse{}
	for _, id := range req.IDs {
		e, err := tx.Execution(id)
		if err != nil || !e.Expired(req.Before) {
			continue // already gone, or not expired on this log position
		}
		if err := tx.DeleteExecution(id); err != nil {
			return fatalError{err}
		}
		resp.Executions++
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
