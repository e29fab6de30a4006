package server

import (
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"strings"
	"testing"
)

// logWorkerMock is a WorkerService whose worker keeps one attempt log.
type logWorkerMock struct{ *workerMock }

func (logWorkerMock) AttemptLog(id uint64, attempt int) (io.ReadCloser, int64, error) {
	if id != 7 || attempt != 2 {
		return nil, 0, fmt.Errorf("no log of this attempt on this worker: %w", fs.ErrNotExist)
	}
	const text = "2026-01-01T00:00:00Z stdout [p] hello\n"
	return io.NopCloser(strings.NewReader(text)), int64(len(text)), nil
}

func TestServer_AttemptLog(t *testing.T) {
	ts := newTestServer(t, Services{Workers: logWorkerMock{&workerMock{}}}, 1<<20)
	if code, body := do(t, ts, "GET", "/v1/executions/7/attempts/2/log", ""); code != 200 || !strings.Contains(body, "stdout [p] hello") {
		t.Fatalf("log: %d %q", code, body)
	}
	if code, body := do(t, ts, "GET", "/v1/executions/7/attempts/3/log", ""); code != http.StatusNotFound || !strings.Contains(body, "no log of this attempt") {
		t.Fatalf("missing log: %d %q", code, body)
	}
	if code, _ := do(t, ts, "GET", "/v1/executions/x/attempts/3/log", ""); code != http.StatusBadRequest {
		t.Fatalf("bad id: %d", code)
	}
	plain := newTestServer(t, Services{Workers: &workerMock{}}, 1<<20)
	if code, _ := do(t, plain, "GET", "/v1/executions/7/attempts/2/log", ""); code != http.StatusNotImplemented {
		t.Fatalf("without logs: %d, want 501", code)
	}
}
