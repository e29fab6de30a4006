package master

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/scaleout/scaleout/api"
	"github.com/scaleout/scaleout/catalog"
)

func newScheduler(t *testing.T, m *Master, c *Catalog) *Scheduler {
	t.Helper()
	cfg := DefaultSchedulerConfig()
	cfg.Interval = 50 * time.Millisecond
	s, err := NewScheduler(cfg, m, c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// TestScheduler_RefusesBadDefinitions: every bad definition is a 400
// naming the problem, and nothing is stored.
func TestScheduler_RefusesBadDefinitions(t *testing.T) {
	m, c := newCatalogWithFolder(t)
	s := newScheduler(t, m, c)
	ctx := context.Background()
	deploy(t, c, "F", "P", map[string]string{"project.yaml": "name: P\n",
		"packages/main.yaml": "name: main\ntasks:\n  - name: a\n    exec: {command: [/bin/true]}\n"})
	ok := "name: ok\ntasks:\n  - name: a\n    exec: {command: [/bin/true]}\n"
	past := time.Now().Add(-time.Hour)
	for _, c := range []struct {
		req  api.ScheduleRequest
		want string
	}{
		{api.ScheduleRequest{Name: "a", JobStep: api.JobStep{Source: ok}}, "exactly one of"},
		{api.ScheduleRequest{Name: "a", Cron: "0 2 * *", JobStep: api.JobStep{Source: ok}}, "cron expression"},
		{api.ScheduleRequest{Name: "a", Every: "1500ms", JobStep: api.JobStep{Source: ok}}, "whole seconds"},
		{api.ScheduleRequest{Name: "a", Every: "soon", JobStep: api.JobStep{Source: ok}}, "every"},
		{api.ScheduleRequest{Name: "a", At: &past, JobStep: api.JobStep{Source: ok}}, "in the past"},
		{api.ScheduleRequest{Name: "a", Cron: "@daily", TZ: "Nowhere/City", JobStep: api.JobStep{Source: ok}}, "time zone"},
		{api.ScheduleRequest{Name: "a", Every: "1m", CatchUp: "all:0", JobStep: api.JobStep{Source: ok}}, "catch-up"},
		{api.ScheduleRequest{Name: "a", Every: "1m", Overlap: "maybe", JobStep: api.JobStep{Source: ok}}, "overlap"},
		{api.ScheduleRequest{Name: "a", Every: "1m"}, "runs nothing"},
		{api.ScheduleRequest{Name: "a", Every: "1m", JobStep: api.JobStep{Source: ok}, Steps: []api.JobStep{{Source: ok}}}, "not both"},
		{api.ScheduleRequest{Name: "a", Every: "1m", JobStep: api.JobStep{Package: "F/P"}}, "FOLDER/PROJECT/PACKAGE"},
		{api.ScheduleRequest{Name: "a", Every: "1m", JobStep: api.JobStep{Package: "F/P/nope"}}, "nope"},
		{api.ScheduleRequest{Name: "a", Every: "1m", JobStep: api.JobStep{Package: "F/P/main", Params: map[string]string{"x": "1"}}}, "x"},
		{api.ScheduleRequest{Name: "a", Every: "1m", JobStep: api.JobStep{Source: "name: [broken"}}, "step 1"},
		{api.ScheduleRequest{Name: "a", Every: "1m", Steps: []api.JobStep{{Source: ok, OnFailure: "goto:5"}}}, "goto:5"},
		{api.ScheduleRequest{Name: "a", Every: "1m", Steps: []api.JobStep{{Source: ok, OnSuccess: "jump"}}}, "jump"},
		{api.ScheduleRequest{Name: "a", Every: "1m", Steps: []api.JobStep{{Source: ok, RetryInterval: "often"}}}, "retry interval"},
		{api.ScheduleRequest{Name: "a", Every: "1m", JobStep: api.JobStep{Source: ok}, Notify: &api.Notify{Webhook: "ftp://u:pw@x/"}}, "http"},
		{api.ScheduleRequest{Name: "a", Every: "1m", JobStep: api.JobStep{Source: ok}, Notify: &api.Notify{Webhook: "http://x/", On: []string{"sometimes"}}}, "sometimes"},
		{api.ScheduleRequest{Name: "", Every: "1m", JobStep: api.JobStep{Source: ok}}, "name"},
	} {
		err := s.Put(ctx, &c.req, false)
		if !errors.Is(err, catalog.ErrInvalid) && !errors.Is(err, catalog.ErrNotFound) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want an invalid error naming %q", c.req, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), ":pw@") {
			t.Errorf("error shows the webhook password: %v", err)
		}
	}
	if list, _ := s.Schedules(); len(list) != 0 {
		t.Fatalf("bad definitions stored: %d", len(list))
	}
}

// TestScheduler_FiresDeployedPackageAndKeepsSealedHeaders: the leader's
// loop fires a schedule of a deployed package into executions resolved as
// the API resolves them; the webhook header is stored sealed and an update
// that sends it back masked keeps it.
func TestScheduler_FiresDeployedPackageAndKeepsSealedHeaders(t *testing.T) {
	m, c := newCatalogWithFolder(t)
	s := newScheduler(t, m, c)
	ctx := context.Background()
	pv := deploy(t, c, "F", "P", map[string]string{"project.yaml": "name: P\n",
		"packages/main.yaml": "name: main\nparameters:\n  n: {type: int, default: 3}\ntasks:\n  - name: a\n    exec: {command: [/bin/true]}\n"})
	req := &api.ScheduleRequest{Name: "s", Every: "1s", JobStep: api.JobStep{Package: "F/P/main", Params: map[string]string{"n": "7"}},
		Notify: &api.Notify{Webhook: "http://hooks.example/x", Headers: map[string]string{"Authorization": "Bearer t"}}}
	if err := s.Put(ctx, req, false); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, req, false); !errors.Is(err, catalog.ErrExists) {
		t.Fatalf("second create: %v", err)
	}
	var runs []*catalog.Run
	waitFor(t, "two fires", func() bool {
		runs, _ = s.Runs("s", 10)
		return len(runs) >= 2
	})
	for _, r := range runs {
		e, err := m.Execution(r.Steps[0].Execution)
		if err != nil {
			t.Fatal(err)
		}
		if !e.FromProject() || e.ArchiveHash != pv.Hash || e.Params["n"] != "7" || e.Caller != "schedule:s" || e.MaxEvents == 0 {
			t.Fatalf("execution of run %d: %+v", r.ID, e.ExecutionSpec)
		}
	}
	if runs[0].Tick.Sub(runs[1].Tick) != time.Second {
		t.Fatalf("ticks %s and %s", runs[1].Tick, runs[0].Tick)
	}
	sc, _ := s.Schedule("s")
	sealed := sc.Notify.Headers["Authorization"]
	if !catalog.IsSealed(sealed) {
		t.Fatalf("header stored as %q", sealed)
	}
	req.Notify.Headers["Authorization"] = api.Masked
	req.Every = "2s"
	if err := s.Put(ctx, req, true); err != nil {
		t.Fatal(err)
	}
	if sc, _ := s.Schedule("s"); sc.Notify.Headers["Authorization"] != sealed || sc.Every != 2*time.Second || sc.State.Fires < 2 {
		t.Fatalf("after update: %+v", sc)
	}
	if len(s.NextFires(sc, 3)) != 3 {
		t.Fatal("no next fires")
	}
	if err := s.SetPaused(ctx, "s", true); err != nil {
		t.Fatal(err)
	}
	if sc, _ := s.Schedule("s"); len(s.NextFires(sc, 3)) != 0 {
		t.Fatal("a paused schedule has next fires")
	}
	run, exec, err := s.RunNow(ctx, "s")
	if err != nil || run == 0 || exec == 0 {
		t.Fatalf("run-now: %d %d %v", run, exec, err)
	}
	if err := s.Delete(ctx, "s"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Run("s", run); err != nil {
		t.Fatalf("the run of a deleted schedule: %v", err)
	}
}
