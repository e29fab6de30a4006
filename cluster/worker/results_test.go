package worker

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scaleout/scaleout/api"
	"github.com/scaleout/scaleout/cluster/clustertest/poll"
)

// A worker delivers the results an earlier run saved and did not deliver,
// and removes them once delivered; files it cannot deliver (a temporary
// file a crash left, unreadable JSON, a name that does not match) are
// removed without reaching the master.
func TestWorker_RedeliversSavedResults(t *testing.T) {
	f := &fakeMaster{answer: func(int, api.PollRequest) (*api.PollResponse, int) { return nil, 200 }}
	var dir string
	w := startWorker(t, f, 5*time.Second, func(c *Config) {
		dir = filepath.Join(c.WorkDir, "results")
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		files := map[string]string{
			"7-2.json":     `{"id":7,"attempt":2,"report":{"status":"succeeded","message":"done before the crash","events":[{"time":"2026-12-04T10:00:00Z","type":"info","message":"saved event"}]}}`,
			"8-1.json.tmp": `{"id":8,"attempt":1,"rep`,
			"9-1.json":     `{"id":9,"attempt":1,"report":{"status":"succ`,
			"10-1.json":    `{"id":11,"attempt":1,"report":{"status":"failed"}}`,
			"12-1.json":    `{"id":12,"attempt":1,"report":{"status":"failed"},"extra":1}`,
		}
		for name, body := range files {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	})
	poll.Until(t, 30*time.Second, "the saved result to be delivered", func() (bool, string) {
		_, ok := f.result(7, 2)
		return ok, "not yet"
	})
	rep, _ := f.result(7, 2)
	if rep.Status != "succeeded" || rep.Message != "done before the crash" || len(rep.Events) != 1 || rep.Events[0].Message != "saved event" {
		t.Fatalf("delivered %+v", rep)
	}
	for _, bad := range []uint64{8, 9, 10, 11, 12} {
		if _, ok := f.result(bad, 1); ok {
			t.Errorf("an unreadable result of execution %d reached the master", bad)
		}
	}
	poll.Until(t, 30*time.Second, "the results dir to be empty", func() (bool, string) {
		left, _ := os.ReadDir(dir)
		var names []string
		for _, e := range left {
			names = append(names, e.Name())
		}
		return len(names) == 0 && w.Running() == 0, strings.Join(names, ", ")
	})
}
