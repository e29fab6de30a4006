package worker

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/scaleout/scaleout/api"
)

// oldMaster wraps a fakeMaster as a leader of the previous version: it
// refuses the worker protocol's new fields with 400 "unknown field", as
// that version's strict decoding did.
type oldMaster struct{ *fakeMaster }

func (o oldMaster) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost && r.Body != nil {
		var raw map[string]json.RawMessage
		body := new(strings.Builder)
		buf := make([]byte, 1<<16)
		for {
			n, err := r.Body.Read(buf)
			body.WriteString(string(buf[:n]))
			if err != nil {
				break
			}
		}
		_ = json.Unmarshal([]byte(body.String()), &raw)
		for _, f := range []string{"token", "unanswered", "first"} {
			if _, ok := raw[f]; ok {
				w.WriteHeader(http.StatusBadRequest)
				w.Write([]byte(`{"error":"malformed JSON body: json: unknown field \"` + f + `\""}`))
				return
			}
		}
		r.Body = readCloser{strings.NewReader(body.String())}
	}
	o.fakeMaster.ServeHTTP(w, r)
}

type readCloser struct{ *strings.Reader }

func (readCloser) Close() error { return nil }

// A new worker under an older leader (a rolling upgrade) leaves out the
// fields that leader refuses, and runs its attempts and reports their
// events and results as before; before, every poll was refused and the
// worker never got work.
func TestWorker_WorksWithAnOlderLeader(t *testing.T) {
	m := marker()
	f := &fakeMaster{}
	f.answer = func(n int, req api.PollRequest) (*api.PollResponse, int) {
		if req.Token != "" || len(req.Unanswered) > 0 {
			t.Errorf("poll %d reached the old leader with a token", n)
		}
		if n == 1 {
			return &api.PollResponse{Tasks: []api.Task{{ID: 1, Attempt: 1, PackageName: "hi", PackageFile: "hi.yaml",
				Package: "name: hi\ntasks:\n  - name: hi\n    exec:\n      command: [/bin/sh, -c, 'echo " + m + "']\n"}}}, 200
		}
		return nil, 200
	}
	startWorkerWith(t, oldMaster{f}, f, 10*time.Second)
	waitFor(t, "the result", func() bool { r, ok := f.result(1, 1); return ok && r.Status == "succeeded" })
	f.mu.Lock()
	defer f.mu.Unlock()
	if !strings.Contains(fmtEvents(f.events), m) {
		t.Fatalf("the attempt's output did not arrive: %v", f.events)
	}
}

func fmtEvents(evs []api.Event) string {
	var b strings.Builder
	for _, e := range evs {
		b.WriteString(e.Message + "\n")
	}
	return b.String()
}
