package agent

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/scaleout/scaleout/api"
	"github.com/scaleout/scaleout/api/console"
	"github.com/scaleout/scaleout/api/server"
	"github.com/scaleout/scaleout/catalog"
	"github.com/scaleout/scaleout/cluster"
	"github.com/scaleout/scaleout/cluster/master"
	"github.com/scaleout/scaleout/cluster/metrics"
	"github.com/scaleout/scaleout/fsm"
)

// The agent's side of the metrics (metrics.Source) and of readiness; the
// metrics package and api/server know nothing of the services.

// metricsSource reads the agent's state at scrape time.
type metricsSource struct{ a *Agent }

func (s metricsSource) Raft() metrics.RaftState {
	r := s.a.cluster.RaftStats()
	_, err := s.a.cluster.Leader()
	return metrics.RaftState{Server: r.Server, State: r.State, HasLeader: err == nil, Term: r.Term,
		LastIndex: r.LastIndex, CommitIndex: r.CommitIndex, AppliedIndex: r.AppliedIndex, LastContact: r.LastContact}
}

func (s metricsSource) Queue() (metrics.Queue, error) {
	st := s.a.cluster.Store()
	if st == nil {
		return metrics.Queue{}, errors.New("no catalog on this agent")
	}
	var q metrics.Queue
	err := st.View(func(tx *catalog.Tx) error {
		for range tx.Pending(0) {
			q.Pending++
		}
		active, err := tx.ActiveExecutions()
		for _, e := range active {
			switch e.Status {
			case catalog.StatusRunning:
				q.Running++
			case catalog.StatusStopping:
				q.Stopping++
			}
		}
		return err
	})
	return q, err
}

func (s metricsSource) Slots() metrics.Slots {
	w := s.a.logs.Load()
	if w == nil {
		return metrics.Slots{Total: s.a.cfg.MaxTasks}
	}
	return metrics.Slots{Used: w.Running(), Total: s.a.cfg.MaxTasks}
}

// newMetrics creates the agent's registry; the cluster's apply hook is set
// before the cluster starts.
func (a *Agent) newMetrics() {
	a.metrics = metrics.New(metricsSource{a})
}

func (a *Agent) observeApply(t fsm.MessageType, d time.Duration) {
	a.metrics.RaftApplied(t.String(), d)
}

// metricsHandler serves the agent's registry in Prometheus text format.
func (a *Agent) metricsHandler() http.Handler {
	return promhttp.HandlerFor(a.metrics.Registry(), promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// readiness is the readiness of GET /v1/health/ready beyond what
// api/server checks itself (a leader known, a working store): a server must
// have applied the commit index it knew when asked.
type readiness struct{ c *cluster.Cluster }

func (r readiness) Ready(ctx context.Context) error { return r.c.WaitCaughtUp(ctx) }

// executionService counts created executions for the metrics.
type executionService struct {
	*master.Master
	a *Agent
}

func (s executionService) Submit(ctx context.Context, req *api.SubmitRequest, caller string) (uint64, error) {
	id, err := s.Master.Submit(ctx, req, caller)
	if err == nil {
		s.a.metrics.Submitted(1)
	}
	return id, err
}

func (s executionService) SubmitBulk(ctx context.Context, reqs []api.SubmitRequest, caller string) ([]uint64, error) {
	ids, err := s.Master.SubmitBulk(ctx, reqs, caller)
	if err == nil {
		s.a.metrics.Submitted(len(ids))
	}
	return ids, err
}

func (s executionService) Stop(ctx context.Context, id uint64, caller string) (catalog.Status, error) {
	st, err := s.Master.Stop(ctx, id, caller)
	if err == nil {
		go s.a.observeEnd(id)
	}
	return st, err
}

// catalogService counts executions of deployed packages.
type catalogService struct {
	*master.Catalog
	a *Agent
}

func (s catalogService) CreateExecution(ctx context.Context, folder, project, pkg string, req *api.CreateExecutionRequest, caller string) (uint64, error) {
	id, err := s.Catalog.CreateExecution(ctx, folder, project, pkg, req, caller)
	if err == nil {
		s.a.metrics.Submitted(1)
	}
	return id, err
}

// Poll records the attempts the leader leases: the wait of first attempts,
// and retries.
func (s workerService) Poll(ctx context.Context, workerID string, req *api.PollRequest) (*api.PollResponse, error) {
	resp, err := s.Master.Poll(ctx, workerID, req)
	if err != nil || resp == nil || len(resp.Tasks) == 0 {
		return resp, err
	}
	// Recorded off the poll's path: the worker gets its tasks at once.
	tasks := make([]api.AttemptRef, 0, len(resp.Tasks))
	for _, t := range resp.Tasks {
		tasks = append(tasks, api.AttemptRef{ID: t.ID, Attempt: t.Attempt})
	}
	go s.a.observeLeases(tasks)
	return resp, nil
}

// observeLeases records leased attempts: the wait of first attempts (from
// creation to the start the leader stamped), and retries.
func (a *Agent) observeLeases(tasks []api.AttemptRef) {
	for _, t := range tasks {
		created, started := time.Time{}, time.Time{}
		if e, err := a.master.Execution(t.ID); err == nil {
			created = e.CreatedAt
			if e.StartedAt != nil {
				started = *e.StartedAt
			}
		}
		if started.IsZero() {
			started = time.Now()
		}
		a.metrics.Leased(t.Attempt, created, started)
	}
}

func (s workerService) ReportEvents(ctx context.Context, id uint64, attempt int, first uint64, evs []catalog.Event) error {
	err := s.Master.ReportEvents(ctx, id, attempt, first, evs)
	if err == nil {
		s.a.metrics.EventsWritten(len(evs))
	}
	return err
}

func (s workerService) ReportResult(ctx context.Context, id uint64, attempt int, r *api.ResultReport, evs []catalog.Event) error {
	err := s.Master.ReportResult(ctx, id, attempt, r, evs)
	if err == nil {
		s.a.metrics.EventsWritten(len(evs))
		go s.a.observeEnd(id) // off the report's path
	}
	return err
}

// observeEnd records an execution that a result or a stop ended (a stop of
// a running one ends later, through its worker's result).
func (a *Agent) observeEnd(id uint64) {
	e, err := a.master.Execution(id)
	if err != nil || !e.Status.Terminal() {
		return
	}
	ran := time.Duration(-1)
	if e.StartedAt != nil && e.EndedAt != nil {
		ran = e.EndedAt.Sub(*e.StartedAt)
	}
	a.metrics.Finished(e.PackageName, string(e.Status), ran)
}

// ExecutionsPage lists executions from the local catalog with where the
// listing continues (server.ExecutionPager).
func (s executionService) ExecutionsPage(o catalog.ListOptions) (catalog.ListResult, error) {
	st := s.a.cluster.Store()
	if st == nil {
		return catalog.ListResult{}, errors.New("no catalog on this agent")
	}
	return catalog.Read(st, func(tx *catalog.Tx) (catalog.ListResult, error) { return tx.ListExecutionsPage(o) })
}

// console returns the web console, which reads and writes through this
// agent's own API (nil, logged, if it cannot be built: the API still serves):
// with the ACLs on (acl), as the person whose token it was given.
func (a *Agent) console(acl server.ACLService) http.Handler {
	client, err := api.NewClient(api.Config{Address: a.apiURL, Caller: "console@" + a.cfg.Node, HTTPClient: a.ownClient(), TLS: noEnvTLS, Token: a.ownToken()})
	if err == nil {
		var c *console.Console
		cfg := console.Config{Client: client, Node: a.cfg.Node, Version: a.cfg.Version, NeedsToken: acl.ACLEnabled}
		if c, err = console.New(cfg); err == nil {
			return c
		}
	}
	a.logger.Error("web console not served", "error", err)
	return nil
}
