package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/scaleout/scaleout/api"
	"github.com/scaleout/scaleout/catalog"
)

// catalogFuzzMock answers every write of the catalog with success; the
// reads the fuzzed routes do not call come from the embedded nil interface.
type catalogFuzzMock struct{ CatalogService }

func (catalogFuzzMock) CreateFolder(context.Context, string, string) error { return nil }
func (catalogFuzzMock) RenameFolder(context.Context, string, string) error { return nil }
func (catalogFuzzMock) StartUpload(string, int64) (*api.UploadStatus, error) {
	return &api.UploadStatus{}, nil
}
func (catalogFuzzMock) PutChunk(context.Context, string, int64, int, []byte) error { return nil }
func (catalogFuzzMock) Deploy(_ context.Context, folder, name, hash, _ string) (*catalog.ProjectVersion, error) {
	return &catalog.ProjectVersion{Folder: folder, Project: name, Hash: hash, Version: 1}, nil
}
func (catalogFuzzMock) RestoreVersion(context.Context, string, string, uint64) error { return nil }
func (catalogFuzzMock) SetValue(context.Context, string, string, *api.SetValueRequest) error {
	return nil
}
func (catalogFuzzMock) SetReference(context.Context, string, string, string, bool) error { return nil }
func (catalogFuzzMock) CreateEnvironment(context.Context, string, string, string) error  { return nil }
func (catalogFuzzMock) SetVariable(context.Context, string, string, string, *api.VariableRequest, bool) error {
	return nil
}
func (catalogFuzzMock) CreateExecution(context.Context, string, string, string, *api.CreateExecutionRequest, string) (uint64, error) {
	return 1, nil
}

// queueFuzzMock and keyringFuzzMock accept every call: the fuzzed
// routes reach them only with a body that decoded and passed the handler's
// own checks.
type queueFuzzMock struct{}

func (queueFuzzMock) Start(context.Context, uint64, string) (catalog.Status, error) {
	return catalog.StatusPending, nil
}
func (queueFuzzMock) SetExecution(context.Context, uint64, *api.SetExecutionRequest) error {
	return nil
}
func (queueFuzzMock) SetCap(context.Context, api.Cap) error { return nil }
func (queueFuzzMock) Caps() ([]api.CapStatus, error)        { return nil, nil }

type keyringFuzzMock struct{}

func (keyringFuzzMock) Keyring(context.Context, string, string, bool) ([]api.KeyringNode, error) {
	return nil, nil
}

type operatorFuzzMock struct{}

func (operatorFuzzMock) WriteSnapshot(io.Writer) error { return nil }
func (operatorFuzzMock) RestoreSnapshot(_ context.Context, r io.Reader) error {
	_, err := io.Copy(io.Discard, r)
	return err
}

// fuzzRoutes are the routes that take a request body.
var fuzzRoutes = []struct{ method, path string }{
	{"POST", "/v1/executions"},
	{"POST", "/v1/executions/bulk"},
	{"POST", "/v1/executions/stop"},
	{"POST", "/v1/executions/1/values"},
	{"PUT", "/v1/caps"},
	{"POST", "/v1/executions/1/attempts/1/events"},
	{"POST", "/v1/executions/1/attempts/1/result"},
	{"POST", "/v1/workers"},
	{"POST", "/v1/workers/w1/poll"},
	{"POST", "/v1/operator/raft/remove-peer"},
	{"POST", "/v1/folders"},
	{"POST", "/v1/folders/f/rename"},
	{"POST", "/v1/archives"},
	{"PUT", "/v1/archives/" + strings.Repeat("a", 64) + "/chunks/0"},
	{"POST", "/v1/folders/f/projects/p/versions"},
	{"POST", "/v1/folders/f/projects/p/restore"},
	{"PUT", "/v1/folders/f/projects/p/values"},
	{"POST", "/v1/folders/f/projects/p/references"},
	{"POST", "/v1/folders/f/projects/p/packages/k/executions"},
	{"POST", "/v1/folders/f/environments"},
	{"PUT", "/v1/folders/f/environments/e/variables/v"},
	{"PUT", "/v1/operator/snapshot"},
	{"POST", "/v1/operator/keyring"},
	{"POST", "/v1/schedules"},
	{"PUT", "/v1/schedules/s"},
	{"POST", "/v1/acl/tokens"},
	{"PUT", "/v1/operator/settings"},
}

// FuzzAPIBodies posts fuzzed bodies to every route that reads one. The
// handlers must never panic and must answer a JSON error for anything they
// refuse: 2xx, 4xx (400, 413...) or 501, never 500.
func FuzzAPIBodies(f *testing.F) {
	seeds := []string{
		`{"package": "name: a\ntasks: [{name: a, exec: {command: [\"true\"]}}]\n", "params": {"x": "1"}}`,
		`[{"package": "name: a"}]`,
		`{"events": [{"type": "information", "message": "hi"}]}`,
		`{"status": "succeeded", "events": []}`,
		`{"id": "w1", "max_tasks": 10, "labels": {"a": "b"}}`,
		`{"slots": 3, "wait_ms": 1, "running": [{"id": 1, "attempt": 1}]}`,
		`{"name": "f", "description": "d"}`,
		`{"name": "ops", "role": "executor", "folders": {"f": ["READ", "EXECUTE"]}}`,
		`{"name": "auto_approve_workers", "value": "true"}`,
		`{"hash": "` + strings.Repeat("a", 64) + `", "size": 10}`,
		`{"version": 1}`,
		`{"params": {"x": "1"}, "logging_level": "verbose"}`,
		`{"value": "v", "sensitive": true}`,
		`{"ids": [1, 2, 3]}`,
		`{"params": {"x": "1"}, "priority": 5, "workers": ["w1"], "labels": {"a": "b"}}`,
		`{"scope": "package", "folder": "f", "project": "p", "package": "k", "max_concurrent": 2}`,
		`{"op": "install", "key": "` + strings.Repeat("A", 43) + `="}`,
		`{"name": "s", "every": "1m", "steps": [{"folder": "f", "project": "p", "package": "k"}]}`,
		`{"name": "s", "cron": "*/5 * * * *", "steps": [{"source": "name: p"}], "notify": {"on": ["failure"], "webhook": "https://h/x"}}`,
		``, `null`, `{}`, `[]`, `{"a":`, `{"slots": -1}`, `{"slots": 1e400}`, "\x00\xff",
		`{"status": "succeeded"} {"trailing": true}`,
	}
	// Every seed against every route: the seed corpus runs in make test.
	for r := range fuzzRoutes {
		for _, s := range seeds {
			f.Add(uint8(r), []byte(s))
		}
	}
	ex, wk := newExecMock(), &workerMock{}
	cfg := DefaultConfig()
	cfg.MaxBodyBytes = 1 << 20
	h := New(cfg, Services{Status: &statusMock{}, Executions: ex, Workers: wk, Catalog: catalogFuzzMock{}, Operator: operatorFuzzMock{},
		Queue: queueFuzzMock{}, Keyring: keyringFuzzMock{}, Schedules: &schedMock{scheds: map[string]*catalog.Schedule{}}})
	f.Fuzz(func(t *testing.T, route uint8, body []byte) {
		r := fuzzRoutes[int(route)%len(fuzzRoutes)]
		req := httptest.NewRequest(r.method, r.path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 && rec.Code != http.StatusNotImplemented {
			t.Fatalf("%s %s with %q: status %d: %s", r.method, r.path, body, rec.Code, rec.Body.String())
		}
		if rec.Code >= 400 {
			var e api.ErrorResponse
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error == "" {
				t.Fatalf("%s %s: status %d without a JSON error: %q", r.method, r.path, rec.Code, rec.Body.String())
			}
		}
	})
}

// bodylessRoutes are the write routes that read no request body.
var bodylessRoutes = []string{
	"POST /v1/executions/{id}/stop", "POST /v1/executions/{id}/start",
	"POST /v1/workers/{id}/enable", "POST /v1/workers/{id}/disable",
	"POST /v1/schedules/{name}/pause", "POST /v1/schedules/{name}/resume", "POST /v1/schedules/{name}/run-now",
	"POST /debug/pprof/symbol",
	"POST /v1/acl/bootstrap", "POST /v1/workers/{id}/approve",
}

// TestFuzzAPIBodies_CoversEveryBodyRoute: every POST, PUT or PATCH route
// registered in this package's source is fuzzed by FuzzAPIBodies or is
// listed as reading no body, so a new route cannot miss the fuzzer.
func TestFuzzAPIBodies_CoversEveryBodyRoute(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`"((?:POST|PUT|PATCH) /[^"\s]*)"`)
	mux := http.NewServeMux()
	var patterns []string
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range re.FindAllStringSubmatch(string(src), -1) {
			if !slices.Contains(patterns, m[1]) {
				patterns = append(patterns, m[1])
				mux.HandleFunc(m[1], func(http.ResponseWriter, *http.Request) {})
			}
		}
	}
	if len(patterns) < 20 {
		t.Fatalf("found only %d write routes in the source: %q", len(patterns), patterns)
	}
	covered := map[string]bool{}
	for _, r := range fuzzRoutes {
		_, p := mux.Handler(httptest.NewRequest(r.method, r.path, nil))
		if p == "" {
			t.Errorf("fuzzed route %s %s matches no registered route", r.method, r.path)
		}
		covered[p] = true
	}
	for _, p := range patterns {
		if !covered[p] && !slices.Contains(bodylessRoutes, p) {
			t.Errorf("route %q takes a body but FuzzAPIBodies does not fuzz it (add it to fuzzRoutes, or to bodylessRoutes if it reads none)", p)
		}
	}
}
