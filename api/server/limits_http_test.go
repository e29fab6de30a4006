package server

import (
	"bytes"
	"net"
	"net/http"
	"strings"
	"testing"
)

// The documented limits of docs/limits.md hold on a real listener: a
// request header over 64 KiB is answered 431 before any handler runs, one
// under it is served, and a body over MaxBodyBytes is 413 with a JSON error.
func TestHTTPServer_HeaderAndBodyLimits(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxBodyBytes = 1 << 10
	h := New(cfg, Services{Status: &statusMock{}, Executions: newExecMock(), Workers: &workerMock{}})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := NewHTTPServer(DefaultHTTPConfig(), h)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	url := "http://" + ln.Addr().String()

	get := func(header int) int {
		req, _ := http.NewRequest("GET", url+"/v1/status/health", nil)
		req.Header.Set("X-Pad", strings.Repeat("a", header))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := get(80 << 10); code != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("80 KiB header: %d, want 431", code)
	}
	if code := get(60 << 10); code == http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("60 KiB header: %d, want it served", code)
	}
	body := `{"package": "` + strings.Repeat("x", 2<<10) + `"}`
	resp, err := http.Post(url+"/v1/executions", "application/json", bytes.NewReader([]byte(body)))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(b.String(), `"error"`) {
		t.Errorf("body over MaxBodyBytes: %d %s, want 413 with a JSON error", resp.StatusCode, b.String())
	}
}
