package server

import (
	"errors"
	"net/http"
	"strings"

	"github.com/scaleout/scaleout/api"
	"github.com/scaleout/scaleout/catalog"
)

// Reports bound to the worker (docs/SECURITY.md). A worker reports the
// events and the result of the attempts it was leased; the leader accepts
// such a report only from the worker that holds the attempt. Who reports
// is the worker a worker certificate names (TLS verified it, directly or
// through a server that forwarded it), else the worker the request names
// in api.WorkerHeader (a worker sends it on every request: its agent's own
// worker behind the internal token, or an agent with acl_agent_token).
// Renewals ride on the worker's polls, which are bound to the worker
// already (workerCertMatches, and the lease table keyed by worker).

// reportingWorker returns the worker a report comes from ("" when the
// request names none: a client of an older version) or a 403 when a
// worker certificate and the header disagree.
func reportingWorker(r *http.Request) (string, error) {
	claimed := strings.TrimSpace(r.Header.Get(api.WorkerHeader))
	if id, ok := IdentityFrom(r.Context()); ok && id.Role == "worker" {
		if claimed != "" && claimed != id.Name {
			return "", codedErr(http.StatusForbidden, "permission denied: the worker certificate of %q cannot report as worker %q", id.Name, claimed)
		}
		return id.Name, nil
	}
	if len(claimed) > 256 {
		return "", codedErr(http.StatusBadRequest, "%s is %d bytes, over the limit of 256", api.WorkerHeader, len(claimed))
	}
	return claimed, nil
}

// reporterHolds refuses a report about attempt of execution id from a
// worker that does not hold that attempt, before anything is recorded. An
// unknown execution or attempt passes: the service refuses it with its
// own error (404, or a superseded attempt).
func (s *srv) reporterHolds(r *http.Request, id uint64, attempt int) error {
	who, err := reportingWorker(r)
	if err != nil || who == "" || s.svc.Executions == nil || !s.svc.Router.HasState() {
		return err
	}
	e, err := s.svc.Executions.Execution(id)
	if errors.Is(err, catalog.ErrNotFound) {
		return nil
	} else if err != nil {
		return err
	}
	for _, a := range e.Attempts {
		if a.N == attempt && a.Worker != who {
			return codedErr(http.StatusForbidden, "permission denied: attempt %d of execution %d is held by worker %q, not by %q, "+
				"which reported on it; nothing was recorded", attempt, id, a.Worker, who)
		}
	}
	return nil
}
