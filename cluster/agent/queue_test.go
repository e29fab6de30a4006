package agent_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scaleout/scaleout/api"
	"github.com/scaleout/scaleout/cluster/clustertest"
)

// flakyPkg fails while its marker file is missing and creates it, so it
// fails its first attempt and succeeds from the second on; with a marker
// path that cannot be created it fails every time.
const flakyPkg = `name: flaky
parameters:
  marker: {type: string}
tasks:
  - name: once
    exec:
      command: [/bin/sh, -c, 'if [ -e "$0" ]; then exit 0; fi; touch "$0" 2>/dev/null; exit 3', "${param.marker}"]
`

func TestQueue_RetriesFailedAttempts(t *testing.T) {
	c := clustertest.NewCluster(t, clustertest.Options{Servers: 1})
	cl := c.WaitForLeader().Client
	delay := 700 * time.Millisecond
	q := api.QueueOptions{RetryDelay: delay.String()}

	// Always fails (the marker's directory does not exist): three
	// attempts, each after the delay, then failed.
	never := filepath.Join(t.TempDir(), "missing", "marker")
	id := submit(t, cl, api.SubmitRequest{Package: flakyPkg, Params: map[string]string{"marker": never}, Retries: 2, QueueOptions: q})
	e := waitEnded(t, cl, id, 60*time.Second)
	if e.Status != api.StatusFailed || len(e.Attempts) != 3 || e.Attempt != 3 {
		t.Fatalf("always failing with --retries 2: %s after %d attempts %+v", e.Status, len(e.Attempts), e.Attempts)
	}
	for i := 1; i < 3; i++ {
		prev, cur := e.Attempts[i-1], e.Attempts[i]
		if prev.Result != "failed" || prev.EndedAt == nil {
			t.Fatalf("attempt %d: result %q", prev.N, prev.Result)
		}
		// Both times are stamped by the one leader: the lease of the
		// next attempt is never before the delay has passed.
		if gap := cur.StartedAt.Sub(*prev.EndedAt); gap < delay {
			t.Fatalf("attempt %d started %s after attempt %d failed, before the retry delay of %s", cur.N, gap, prev.N, delay)
		}
	}

	// Fails once, then succeeds: attempt 2 ends it succeeded.
	marker := filepath.Join(t.TempDir(), "marker")
	id = submit(t, cl, api.SubmitRequest{Package: flakyPkg, Params: map[string]string{"marker": marker}, Retries: 2, QueueOptions: q})
	e = waitEnded(t, cl, id, 60*time.Second)
	if e.Status != api.StatusSucceeded || len(e.Attempts) != 2 || e.Attempts[0].Result != "failed" || e.Attempts[1].Result != "succeeded" {
		t.Fatalf("succeeding on attempt 2: %s, attempts %+v", e.Status, e.Attempts)
	}

	// Without retries a failure is final.
	id = submit(t, cl, api.SubmitRequest{Package: flakyPkg, Params: map[string]string{"marker": never}})
	if e := waitEnded(t, cl, id, 60*time.Second); e.Status != api.StatusFailed || len(e.Attempts) != 1 {
		t.Fatalf("no retries: %s after %d attempts", e.Status, len(e.Attempts))
	}

	// A stopped execution is never retried, even with retries left.
	id = submit(t, cl, api.SubmitRequest{Package: sleepPkg, Params: map[string]string{"s": "30"}, Retries: 3})
	clustertest.WaitFor(t, 30*time.Second, "running", func() (bool, string) {
		e, err := cl.Executions().Info(context.Background(), id)
		return err == nil && e.Status == api.StatusRunning, fmt.Sprint(e, err)
	})
	if _, err := cl.Executions().Stop(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	if e := waitEnded(t, cl, id, 60*time.Second); e.Status != api.StatusCanceled || len(e.Attempts) != 1 {
		t.Fatalf("stopped with retries left: %s after %d attempts", e.Status, len(e.Attempts))
	}
}

// TestQueue_CapAndPriority: 1,000 pending executions of one package with
// a cap of 5 never run more than 5 at once (sampled from the catalog
// throughout), all finish, and a higher-priority execution submitted last
// starts before the low-priority ones still waiting.
func TestQueue_CapAndPriority(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000 executions")
	}
	const n, limit = 1000, 5
	c := clustertest.NewCluster(t, clustertest.Options{Servers: 1, MaxTasks: 12})
	cl := c.WaitForLeader().Client
	ctx := context.Background()
	q := api.QueueOptions{MaxConcurrent: limit}
	reqs := make([]api.SubmitRequest, n)
	for i := range reqs {
		reqs[i] = api.SubmitRequest{Package: echoPkg, QueueOptions: q}
	}

	var maxSeen, samples atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // sample the catalog's running executions until the end
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			running := 0
			for _, st := range []string{api.StatusRunning, api.StatusStopping} {
				list, err := cl.Executions().List(ctx, &api.ListOptions{Status: st, Limit: 10000})
				if err != nil {
					continue
				}
				running += len(list)
			}
			samples.Add(1)
			for {
				m := maxSeen.Load()
				if int64(running) <= m || maxSeen.CompareAndSwap(m, int64(running)) {
					break
				}
			}
		}
	}()

	ids, err := cl.Executions().SubmitBulk(clustertest.Ctx(t, 60*time.Second), reqs)
	if err != nil {
		t.Fatal(err)
	}
	// Wait until some run, so the high-priority one is submitted while
	// the queue is full.
	clustertest.WaitFor(t, 60*time.Second, "the first executions to end", func() (bool, string) {
		e, err := cl.Executions().Info(ctx, ids[limit])
		return err == nil && e.StartedAt != nil, fmt.Sprint(err)
	})
	hi := submit(t, cl, api.SubmitRequest{Package: echoPkg, QueueOptions: api.QueueOptions{MaxConcurrent: limit, Priority: 10}})
	waiting, err := cl.Executions().List(ctx, &api.ListOptions{Status: api.StatusPending, Limit: 10000})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		waitEnded(t, cl, id, 5*time.Minute)
	}
	he := waitEnded(t, cl, hi, time.Minute)
	close(stop)
	wg.Wait()

	var bad []string
	later := 0
	for _, w := range waiting {
		if w.ID == hi {
			continue
		}
		e, err := cl.Executions().Info(ctx, w.ID)
		if err != nil {
			t.Fatal(err)
		}
		if e.Status != api.StatusSucceeded {
			t.Fatalf("execution %d ended %s", e.ID, e.Status)
		}
		later++
		if e.StartedAt.Before(*he.StartedAt) {
			bad = append(bad, fmt.Sprint(e.ID))
		}
	}
	t.Logf("max running %d over %d samples; high priority started at %s before %d waiting low-priority ones",
		maxSeen.Load(), samples.Load(), he.StartedAt.Format(time.RFC3339Nano), later)
	if len(bad) > 0 {
		t.Fatalf("low-priority executions %s started before the high-priority one", strings.Join(bad, ", "))
	}
	if later == 0 {
		t.Fatal("no low-priority execution was still waiting when the high-priority one came: the test proves nothing")
	}
	if maxSeen.Load() > limit {
		t.Fatalf("%d executions ran at once under a cap of %d", maxSeen.Load(), limit)
	}
	if maxSeen.Load() == 0 || samples.Load() < 10 {
		t.Fatalf("sampling saw nothing: max %d, %d samples", maxSeen.Load(), samples.Load())
	}
	for _, id := range ids {
		if e, _ := cl.Executions().Info(ctx, id); e.Status != api.StatusSucceeded {
			t.Fatalf("execution %d: %s", id, e.Status)
		}
	}
}

// TestQueue_ClusterCapSetting: a cap set through the API holds for every
// execution and says so in the pending reason; removing it frees them.
func TestQueue_ClusterCapSetting(t *testing.T) {
	c := clustertest.NewCluster(t, clustertest.Options{Servers: 1, MaxTasks: 8})
	cl := c.WaitForLeader().Client
	ctx := context.Background()
	if err := cl.Caps().Set(ctx, api.Cap{Scope: "cluster", MaxConcurrent: 1}); err != nil {
		t.Fatal(err)
	}
	if err := cl.Caps().Set(ctx, api.Cap{Scope: "project", Folder: "f", MaxConcurrent: 1}); !api.IsStatus(err, http.StatusBadRequest) {
		t.Fatalf("project cap without a project: %v", err)
	}
	a := submit(t, cl, api.SubmitRequest{Package: sleepPkg, Params: map[string]string{"s": "30"}})
	clustertest.WaitFor(t, 30*time.Second, "first running", func() (bool, string) {
		e, err := cl.Executions().Info(ctx, a)
		return err == nil && e.Status == api.StatusRunning, fmt.Sprint(e, err)
	})
	b := submit(t, cl, api.SubmitRequest{})
	clustertest.WaitFor(t, 10*time.Second, "a cap reason", func() (bool, string) {
		e, err := cl.Executions().Info(ctx, b)
		return err == nil && e.Status == api.StatusPending && e.PendingReason == "waiting for a slot: the cluster is at its max_concurrent of 1 (1 running)", fmt.Sprint(e.PendingReason, err)
	})
	caps, err := cl.Caps().List(ctx)
	if err != nil || len(caps) != 1 || caps[0].Running != 1 || caps[0].MaxConcurrent != 1 {
		t.Fatalf("caps %+v %v", caps, err)
	}
	if err := cl.Caps().Set(ctx, api.Cap{Scope: "cluster", MaxConcurrent: 0}); err != nil {
		t.Fatal(err)
	}
	if e := waitEnded(t, cl, b, 30*time.Second); e.Status != api.StatusSucceeded {
		t.Fatalf("after the cap was removed: %s", e.Status)
	}
	if _, err := cl.Executions().Stop(ctx, a); err != nil {
		t.Fatal(err)
	}
}

func TestQueue_CreateSetStart(t *testing.T) {
	c := clustertest.NewCluster(t, clustertest.Options{Servers: 1, Labels: map[string]map[string]string{"s1": {"zone": "a"}}})
	cl := c.WaitForLeader().Client
	ctx := context.Background()
	no := false
	id := submit(t, cl, api.SubmitRequest{Package: echoPkg, Params: map[string]string{"msg": "first"}, QueueOptions: api.QueueOptions{Start: &no}})
	e, err := cl.Executions().Info(ctx, id)
	if err != nil || e.Status != api.StatusCreated || !strings.Contains(e.PendingReason, "start") {
		t.Fatalf("created: %+v %v", e, err)
	}
	if err := cl.Executions().Set(ctx, id, &api.SetExecutionRequest{Params: map[string]string{"msg": "second"}}); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []*api.SetExecutionRequest{
		{Params: map[string]string{"nosuch": "x"}},
		{Workers: &[]string{"nosuch"}},
		{},
	} {
		if err := cl.Executions().Set(ctx, id, bad); !api.IsStatus(err, http.StatusBadRequest) {
			t.Fatalf("set %+v: %v, want 400", bad, err)
		}
	}
	if err := cl.Executions().Set(ctx, id, &api.SetExecutionRequest{Labels: &map[string]string{"zone": "a"}}); err != nil {
		t.Fatal(err)
	}
	// Nothing runs it while it is created.
	if e, _ := cl.Executions().Info(ctx, id); e.Status != api.StatusCreated || e.Params["msg"] != "second" || e.TargetLabels["zone"] != "a" {
		t.Fatalf("after set: %+v", e)
	}
	st, err := cl.Executions().Start(ctx, id)
	if err != nil || (st != api.StatusPending && st != api.StatusRunning && !api.Terminal(st)) {
		t.Fatalf("start: %s %v", st, err)
	}
	if _, err := cl.Executions().Start(ctx, id); !api.IsStatus(err, http.StatusConflict) {
		t.Fatalf("second start: %v, want 409", err)
	}
	if err := cl.Executions().Set(ctx, id, &api.SetExecutionRequest{Params: map[string]string{"msg": "third"}}); !api.IsStatus(err, http.StatusConflict) {
		t.Fatalf("set after start: %v, want 409", err)
	}
	if e := waitEnded(t, cl, id, 30*time.Second); e.Status != api.StatusSucceeded {
		t.Fatalf("ended %s", e.Status)
	}
	evs, err := cl.Executions().Events(ctx, id, 0, 1000, 0)
	if err != nil {
		t.Fatal(err)
	}
	var said string
	for _, ev := range evs.Events {
		if ev.Type == "stdout" {
			said = ev.Message
		}
	}
	if said != "second" {
		t.Fatalf("ran with msg %q, want the value set while created", said)
	}
	// A created execution can be stopped (canceled) and is never run.
	id = submit(t, cl, api.SubmitRequest{Package: echoPkg, QueueOptions: api.QueueOptions{Start: &no}})
	if st, err := cl.Executions().Stop(ctx, id); err != nil || st != api.StatusCanceled {
		t.Fatalf("stop of a created execution: %s %v", st, err)
	}
	if _, err := cl.Executions().Start(ctx, id); !api.IsStatus(err, http.StatusConflict) {
		t.Fatalf("start of a canceled execution: %v", err)
	}
}

func TestQueue_TargetingNothingIsRefused(t *testing.T) {
	c := clustertest.NewCluster(t, clustertest.Options{Servers: 1, Labels: map[string]map[string]string{"s1": {"zone": "a"}}})
	cl := c.WaitForLeader().Client
	ctx := context.Background()
	for _, req := range []api.SubmitRequest{
		{Package: echoPkg, Workers: []string{"nosuch"}},
		{Package: echoPkg, Labels: map[string]string{"gpu": "yes"}},
		{Package: echoPkg, Workers: []string{"s1"}, Labels: map[string]string{"zone": "b"}},
	} {
		_, err := cl.Executions().Submit(ctx, &req)
		var ae *api.Error
		if !errors.As(err, &ae) || ae.StatusCode != http.StatusBadRequest || !strings.Contains(ae.Error(), "no registered worker matches") {
			t.Fatalf("submit targeting %v %v: %v, want 400 naming the target", req.Workers, req.Labels, err)
		}
		t.Logf("refused: %v", err)
	}
	list, _ := cl.Executions().List(ctx, &api.ListOptions{})
	if len(list) != 0 {
		t.Fatalf("a refused submission created %d executions", len(list))
	}
	id := submit(t, cl, api.SubmitRequest{Package: echoPkg, Labels: map[string]string{"gpu": "yes", "zone": "a"}, QueueOptions: api.QueueOptions{WaitForWorker: true}})
	clustertest.WaitFor(t, 10*time.Second, "a plain-words reason", func() (bool, string) {
		e, err := cl.Executions().Info(ctx, id)
		return err == nil && e.PendingReason == "waiting for a worker with labels gpu=yes, zone=a: no registered worker matches", fmt.Sprint(e.PendingReason, err)
	})
}
