package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scaleout/scaleout/api"
	"github.com/scaleout/scaleout/cluster/clustertest"
)

// TestE2E_JobGotoAndStepRetries: a job whose step 2 fails (one retry, 1 s
// apart) and goes to step 3 on failure runs steps 1, 2, 2, 3 in that
// order, each try its own execution, and ends succeeded. It is created with
// the CLI from a job file and fired by its --at tick.
func TestE2E_JobGotoAndStepRetries(t *testing.T) {
	a := startAgent(t, t.TempDir())
	dir := t.TempDir()
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("ok.yaml", "name: ok\ntasks:\n  - name: t\n    exec:\n      command: [/bin/true]\n")
	write("fail.yaml", "name: fail\ntasks:\n  - name: t\n    exec:\n      command: [/bin/sh, -c, 'exit 3']\n")
	write("job.yaml", `steps:
  - name: extract
    file: ok.yaml
  - name: transform
    file: fail.yaml
    retry_count: 1
    retry_interval: 1s
    on_failure: goto:3
  - name: load
    file: ok.yaml
`)
	at := time.Now().Add(3 * time.Second).UTC().Format(time.RFC3339)
	if r := cli(t, a.api, "schedules", "create", "etl", "--job", filepath.Join(dir, "job.yaml"), "--at", at); r.code != 0 {
		t.Fatalf("create: %d %s", r.code, r.stderr)
	}
	// Bad input is refused with a clear error and exit code.
	for _, bad := range [][]string{
		{"schedules", "create", "x", "--job", filepath.Join(dir, "job.yaml"), "--cron", "0 25 * * *"},
		{"schedules", "create", "x", "--file", filepath.Join(dir, "ok.yaml"), "--every", "10m", "--catch-up", "sometimes"},
		{"schedules", "create", "x", "--file", filepath.Join(dir, "ok.yaml"), "--every", "10m", "--overlap", "maybe"},
		{"schedules", "create", "x", "--package", "nofolder/p/pkg", "--every", "10m"},
		{"schedules", "create", "x", "--file", filepath.Join(dir, "ok.yaml")},
	} {
		if r := cli(t, a.api, bad...); r.code == 0 || r.stderr == "" {
			t.Errorf("%v: exit %d, stderr %q", bad, r.code, r.stderr)
		}
	}
	cl := a.client(t)
	ctx := context.Background()
	var run *api.Run
	waitFor(t, "the job run to end", 60*time.Second, func() (bool, string) {
		runs, err := cl.Schedules().Runs(ctx, "etl", 10)
		if err != nil || len(runs) == 0 {
			return false, fmt.Sprint(runs, err)
		}
		run = &runs[0]
		return run.Status != "running", fmt.Sprintf("%+v", *run)
	})
	var order []string
	for _, s := range run.Steps {
		order = append(order, fmt.Sprintf("%d.%d:%s:%s", s.Step, s.Try, s.Name, s.Status))
	}
	want := "1.1:extract:succeeded 2.1:transform:failed 2.2:transform:failed 3.1:load:succeeded"
	if strings.Join(order, " ") != want || run.Status != "succeeded" {
		t.Fatalf("run %s: %s, want %s", run.Status, strings.Join(order, " "), want)
	}
	for i := 1; i < len(run.Steps); i++ {
		if run.Steps[i].Execution <= run.Steps[i-1].Execution {
			t.Fatalf("executions not in step order: %+v", run.Steps)
		}
	}
	if gap := run.Steps[2].Started.Sub(*run.Steps[1].Ended); gap < time.Second {
		t.Fatalf("step 2 retried %s after its failure, want at least the 1 s interval", gap)
	}
	r := cli(t, a.api, "schedules", "run", "etl", fmt.Sprint(run.ID))
	if r.code != 0 || !strings.Contains(r.stdout, "transform") || !strings.Contains(r.stdout, "succeeded") {
		t.Fatalf("schedules run: %d %s %s", r.code, r.stdout, r.stderr)
	}
	// A one-shot schedule has no next fire.
	if s, err := cl.Schedules().Info(ctx, "etl"); err != nil || len(s.Next) != 0 || s.Fires != 1 {
		t.Fatalf("after its tick: %+v %v", s, err)
	}
}

// TestE2E_WebhookOnePerFailedRun: a receiver started by the test answers
// 500 twice for each run, then 200; every failed run of a schedule is
// delivered exactly once (3 attempts recorded), with the header the
// schedule seals and reads back masked.
func TestE2E_WebhookOnePerFailedRun(t *testing.T) {
	var mu sync.Mutex
	tries := map[uint64]int{}
	delivered := map[uint64]int{}
	var bad []string
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var n api.Notification
		mu.Lock()
		defer mu.Unlock()
		if err := json.Unmarshal(body, &n); err != nil || n.Event != "run.failed" || n.Status != "failed" || len(n.Steps) != 1 ||
			n.Steps[0].Execution == 0 || r.Header.Get("Authorization") != "Bearer s3cret" {
			bad = append(bad, fmt.Sprintf("%s %v %s", body, err, r.Header.Get("Authorization")))
		}
		tries[n.Run]++
		if tries[n.Run] <= 2 {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		delivered[n.Run]++
	}))
	defer recv.Close()
	a := startAgent(t, t.TempDir())
	r := cli(t, a.api, "schedules", "create", "failing", "--file", "testdata/hello.yaml", "--param", "code=1", "--every", "2s",
		"--notify-webhook", recv.URL, "--notify-on", "failure", "--notify-header", "Authorization=Bearer s3cret")
	if r.code != 0 {
		t.Fatalf("create: %s", r.stderr)
	}
	if r := cli(t, a.api, "schedules", "show", "failing"); r.code != 0 || strings.Contains(r.stdout, "s3cret") || !strings.Contains(r.stdout, api.Masked) {
		t.Fatalf("show does not mask the header: %s %s", r.stdout, r.stderr)
	}
	// list shows the next 3 fire times, 2 s apart.
	if r := cli(t, a.api, "schedules", "list"); r.code != 0 || !strings.Contains(r.stdout, "every 2s") {
		t.Fatalf("list: %s %s", r.stdout, r.stderr)
	} else {
		line := strings.Split(strings.TrimSpace(r.stdout), "\n")[1]
		next := regexp.MustCompile(`\d{4}-\d\d-\d\d \d\d:\d\d:\d\d`).FindAllString(line, -1)
		if len(next) != 3 {
			t.Fatalf("list shows %d next fire times: %q", len(next), line)
		}
	}
	cl := a.client(t)
	ctx := context.Background()
	waitFor(t, "three delivered notifications", 90*time.Second, func() (bool, string) {
		runs, err := cl.Schedules().Runs(ctx, "failing", 100)
		if err != nil {
			return false, err.Error()
		}
		n := 0
		for _, r := range runs {
			if r.Delivery != nil && r.Delivery.Delivered {
				n++
			}
		}
		return n >= 3, fmt.Sprintf("%d delivered of %d runs", n, len(runs))
	})
	if err := cl.Schedules().Pause(ctx, "failing"); err != nil {
		t.Fatal(err)
	}
	// Every failed run is delivered once, after 3 attempts.
	waitFor(t, "every run delivered", 90*time.Second, clustertest.RunsDelivered(ctx, cl, "failing"))
	runs, _ := cl.Schedules().Runs(ctx, "failing", 100)
	mu.Lock()
	defer mu.Unlock()
	if len(bad) > 0 {
		t.Fatalf("bad deliveries: %v", bad)
	}
	for _, r := range runs {
		if r.Status != "failed" || !r.Delivery.Delivered || r.Delivery.Attempts != 3 || delivered[r.ID] != 1 || tries[r.ID] != 3 {
			t.Errorf("run %d %s: delivery %+v; receiver saw %d tries, %d deliveries", r.ID, r.Status, r.Delivery, tries[r.ID], delivered[r.ID])
		}
	}
	if len(delivered) != len(runs) {
		t.Errorf("%d runs delivered to the receiver, %d runs", len(delivered), len(runs))
	}
	t.Logf("%d failed runs, each delivered once after two 500s", len(runs))
}
