package server

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/scaleout/scaleout/api"
	"github.com/scaleout/scaleout/catalog"
)

// pagerMock is an execMock that pages: it records the options it got.
type pagerMock struct {
	*execMock
	got  catalog.ListOptions
	next uint64
}

func (p *pagerMock) ExecutionsPage(o catalog.ListOptions) (catalog.ListResult, error) {
	p.got = o
	return catalog.ListResult{Executions: []*catalog.Execution{{ID: 9, Status: catalog.StatusFailed}}, NextBefore: p.next}, nil
}

func TestListExecutions_FiltersAndNextBefore(t *testing.T) {
	pm := &pagerMock{execMock: newExecMock(), next: 9}
	ts := newTestServer(t, Services{Executions: pm}, 1<<20)
	c, err := api.NewClient(api.Config{Address: ts.URL})
	if err != nil {
		t.Fatal(err)
	}
	since := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	page, err := c.Executions().ListPage(context.Background(), &api.ListOptions{Folder: "F", Project: "P", Package: "load",
		Worker: "w1", Caller: "ann", Since: since, Until: since.Add(time.Hour), Limit: 20, BeforeID: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Executions) != 1 || page.Executions[0].ID != 9 || page.NextBefore != 9 {
		t.Errorf("page = %+v", page)
	}
	o := pm.got
	if o.Folder != "F" || o.Project != "P" || o.Package != "load" || o.Worker != "w1" || o.Caller != "ann" ||
		!o.Since.Equal(since) || !o.Until.Equal(since.Add(time.Hour)) || o.Limit != 20 || o.BeforeID != 100 || o.MaxScan != MaxListScan {
		t.Errorf("options = %+v", o)
	}
	// A status alone scans on, as before the filters existed.
	if _, err := c.Executions().ListPage(context.Background(), &api.ListOptions{Status: "failed"}); err != nil || pm.got.MaxScan != 0 {
		t.Errorf("status only: MaxScan %d, %v", pm.got.MaxScan, err)
	}
	pm.next = 0
	if page, _ = c.Executions().ListPage(context.Background(), nil); page.NextBefore != 0 {
		t.Errorf("no cursor at the end: %d", page.NextBefore)
	}
	for _, q := range []string{"since=yesterday", "until=2026-13-01T00:00:00Z", "since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z", "status=lost"} {
		if code, body := do(t, ts, http.MethodGet, "/v1/executions?"+q, ""); code != http.StatusBadRequest {
			t.Errorf("%s: %d %s, want 400", q, code, body)
		}
	}
}
