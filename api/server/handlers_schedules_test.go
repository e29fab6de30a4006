package server

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/scaleout/scaleout/api"
	"github.com/scaleout/scaleout/catalog"
)

// schedMock is a ScheduleService over a map, recording what it was asked.
type schedMock struct {
	scheds map[string]*catalog.Schedule
	puts   []string
}

func (m *schedMock) Put(_ context.Context, req *api.ScheduleRequest, replace bool) error {
	if _, ok := m.scheds[req.Name]; ok && !replace {
		return fmt.Errorf("schedule %q: %w", req.Name, catalog.ErrExists)
	}
	if req.Every == "" {
		return fmt.Errorf("%w: no timing", catalog.ErrInvalid)
	}
	m.puts = append(m.puts, fmt.Sprintf("%s replace=%t", req.Name, replace))
	m.scheds[req.Name] = &catalog.Schedule{Name: req.Name, Every: time.Minute, Steps: []catalog.JobStep{{Folder: "f", Project: "p", Package: "k"}}}
	return nil
}
func (m *schedMock) Delete(context.Context, string) error                   { return nil }
func (m *schedMock) SetPaused(context.Context, string, bool) error          { return nil }
func (m *schedMock) RunNow(context.Context, string) (uint64, uint64, error) { return 1, 2, nil }
func (m *schedMock) Schedules() ([]*catalog.Schedule, error) {
	var out []*catalog.Schedule
	for _, s := range m.scheds {
		out = append(out, s)
	}
	return out, nil
}
func (m *schedMock) Schedule(name string) (*catalog.Schedule, error) {
	if s, ok := m.scheds[name]; ok {
		return s, nil
	}
	return nil, fmt.Errorf("schedule %q: %w", name, catalog.ErrNotFound)
}
func (m *schedMock) NextFires(*catalog.Schedule, int) []time.Time {
	return []time.Time{time.Unix(60, 0)}
}
func (m *schedMock) Runs(string, int) ([]*catalog.Run, error) { return nil, nil }
func (m *schedMock) Run(string, uint64) (*catalog.Run, error) {
	return nil, fmt.Errorf("run: %w", catalog.ErrNotFound)
}

func TestServer_Schedules(t *testing.T) {
	m := &schedMock{scheds: map[string]*catalog.Schedule{
		"hooked": {Name: "hooked", Every: time.Minute, Steps: []catalog.JobStep{{Source: "name: p"}},
			Notify: &catalog.Notify{On: []string{"failure"}, Webhook: "https://u:pw@hooks.example/x", Headers: map[string]string{"Authorization": "enc:v1:xyz"}}},
	}}
	ts := newTestServer(t, Services{Schedules: m}, 1<<20)
	for _, c := range []struct {
		method, path, body string
		code               int
		want               string
	}{
		{"POST", "/v1/schedules", `{"name":"a","every":"1m","package":"f/p/k"}`, 200, ""},
		{"POST", "/v1/schedules", `{"name":"a","every":"1m","package":"f/p/k"}`, 409, "exists"},
		{"POST", "/v1/schedules", `{"name":"b"}`, 400, "no timing"},
		{"POST", "/v1/schedules", `{"name":"b","nope":1}`, 400, "nope"},
		{"PUT", "/v1/schedules/a", `{"name":"other","every":"1m"}`, 400, "cannot be renamed"},
		{"PUT", "/v1/schedules/a", `{"every":"2m"}`, 200, ""},
		{"GET", "/v1/schedules/a", ``, 200, `"package":"f/p/k"`},
		{"GET", "/v1/schedules/zz", ``, 404, "not found"},
		{"GET", "/v1/schedules/hooked", ``, 200, `"Authorization":"******"`},
		{"POST", "/v1/schedules/a/run-now", ``, 200, `"execution":2`},
		{"GET", "/v1/schedules/a/runs/x", ``, 400, "run id"},
		{"GET", "/v1/schedules/a/runs/3", ``, 404, "not found"},
	} {
		code, body := do(t, ts, c.method, c.path, c.body)
		if code != c.code || !strings.Contains(body, c.want) {
			t.Errorf("%s %s: %d %s, want %d with %q", c.method, c.path, code, body, c.code, c.want)
		}
		if strings.Contains(body, ":pw@") || strings.Contains(body, "enc:v1") {
			t.Errorf("%s %s leaks a secret: %s", c.method, c.path, body)
		}
	}
	if len(m.puts) != 2 || m.puts[1] != "a replace=true" {
		t.Fatalf("puts %v", m.puts)
	}
	// Without the service: 501.
	ts2 := newTestServer(t, Services{}, 1<<20)
	if code, _ := do(t, ts2, http.MethodGet, "/v1/schedules", ""); code != http.StatusNotImplemented {
		t.Fatalf("no service: %d", code)
	}
}
