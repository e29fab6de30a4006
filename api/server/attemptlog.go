package server

import (
	"errors"
	"io"
	"io/fs"
	"net/http"
)

// AttemptLogService serves the attempt logs a worker keeps on its agent's
// disk: every event of an attempt, also those beyond the event cap, which
// never reach Raft. It is optional: the handler looks for it on the
// WorkerService (Services.Workers) and answers 501 where it is missing.
type AttemptLogService interface {
	// AttemptLog opens the log of attempt n of execution id; the caller
	// closes it. An error that matches fs.ErrNotExist means this agent's
	// worker does not have it (another agent ran it, or it was removed).
	AttemptLog(id uint64, attempt int) (rc io.ReadCloser, size int64, err error)
}

// attemptLog answers GET /v1/executions/{id}/attempts/{attempt}/log with
// the text of the log, served by the agent whose worker ran the attempt.
func (s *srv) attemptLog(w io.Writer, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	attempt, err := pathAttempt(r)
	if err != nil {
		return err
	}
	logs, ok := s.svc.Workers.(AttemptLogService)
	if !ok {
		return codedErr(http.StatusNotImplemented, "this agent keeps no attempt logs")
	}
	rc, size, err := logs.AttemptLog(id, attempt)
	if errors.Is(err, fs.ErrNotExist) {
		return codedErr(http.StatusNotFound, "%v: ask the agent whose worker ran the attempt (executions info lists it)", err)
	}
	if err != nil {
		return err
	}
	defer rc.Close()
	_, err = io.Copy(w, io.LimitReader(rc, size))
	return err
}
