package server

import (
	"context"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/scaleout/scaleout/api"
	"github.com/scaleout/scaleout/catalog"
)

// reportProbe is a WorkerService that records the reports it was given.
type reportProbe struct {
	workerMock
	mu      sync.Mutex
	reports []string
}

func (p *reportProbe) ReportEvents(_ context.Context, id uint64, attempt int, _ uint64, _ []catalog.Event) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.reports = append(p.reports, "events")
	return nil
}
func (p *reportProbe) ReportResult(_ context.Context, id uint64, attempt int, r *api.ResultReport, _ []catalog.Event) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.reports = append(p.reports, "result "+r.Status)
	return nil
}

// TestReports_BoundToTheWorker: the events and the result of an attempt
// are accepted only from the worker that holds it, named by its
// certificate (directly or forwarded) or by the worker header; another
// worker gets 403 and nothing is recorded.
func TestReports_BoundToTheWorker(t *testing.T) {
	execs := newExecMock()
	execs.execs[7] = &catalog.Execution{ID: 7, Status: catalog.StatusRunning, Attempt: 2, Worker: "w1",
		Attempts: []catalog.Attempt{{N: 1, Worker: "w2"}, {N: 2, Worker: "w1"}}}
	probe := &reportProbe{}
	h := New(DefaultConfig(), Services{Executions: execs, Workers: probe, Router: &routerMock{}})
	for _, c := range []struct {
		name, role, certName, header, path, body string
		want                                     int
	}{
		{"forged result, worker certificate", "worker", "w2", "", "/v1/executions/7/attempts/2/result", `{"status":"succeeded"}`, 403},
		{"forged events, worker certificate", "worker", "w2", "", "/v1/executions/7/attempts/2/events", `{"events":[]}`, 403},
		{"certificate and header disagree", "worker", "w2", "w1", "/v1/executions/7/attempts/2/result", `{"status":"succeeded"}`, 403},
		{"forged result, header", "", "", "w2", "/v1/executions/7/attempts/2/result", `{"status":"failed"}`, 403},
		{"forged result, server certificate and header", "server", "s1", "w2", "/v1/executions/7/attempts/2/result", `{"status":"failed"}`, 403},
		{"the holder's events", "worker", "w1", "w1", "/v1/executions/7/attempts/2/events", `{"events":[]}`, 200},
		{"the holder's result", "worker", "w1", "", "/v1/executions/7/attempts/2/result", `{"status":"succeeded"}`, 200},
		{"an earlier attempt's holder", "worker", "w2", "", "/v1/executions/7/attempts/1/result", `{"status":"failed"}`, 200},
		{"an older worker that names none", "", "", "", "/v1/executions/7/attempts/2/events", `{"events":[]}`, 200},
	} {
		req := httptest.NewRequest("POST", c.path, strings.NewReader(c.body))
		if c.role != "" {
			req = req.WithContext(WithIdentity(req.Context(), Identity{Role: c.role, Name: c.certName}))
		}
		if c.header != "" {
			req.Header.Set(api.WorkerHeader, c.header)
		}
		probe.mu.Lock()
		before := len(probe.reports)
		probe.mu.Unlock()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != c.want {
			t.Errorf("%s: %d %s, want %d", c.name, rec.Code, rec.Body, c.want)
		}
		probe.mu.Lock()
		recorded := len(probe.reports) - before
		probe.mu.Unlock()
		if c.want == 403 {
			if recorded != 0 {
				t.Errorf("%s: refused, yet %d report(s) reached the service", c.name, recorded)
			}
			if !strings.Contains(rec.Body.String(), "permission denied") {
				t.Errorf("%s: the refusal does not name the problem: %s", c.name, rec.Body)
			}
		}
	}
	if len(probe.reports) != 4 {
		t.Errorf("reports recorded = %v, want the 4 accepted ones", probe.reports)
	}
}
