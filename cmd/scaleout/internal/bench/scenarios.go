package bench

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/scaleout/scaleout/api"
	"github.com/scaleout/scaleout/internal/lattrace"
)

// noopPackage does nothing that needs a process of its own: one set
// task. Every execution still runs in a `scaleout exec` child (the isolation
// guarantee), which the childstart scenario measures on its own.
const noopPackage = `name: noop
variables:
  x: {type: int, value: 0}
tasks:
  - name: nop
    set: {x: '1'}
`

// throughputConcurrency is the number of attempts the cluster runs at once:
// the sum of the workers' slots. It is the concurrency the baseline is
// measured at for the throughput scenario.
func (b *bench) throughputConcurrency(ctx context.Context) int {
	if b.lc != nil {
		return len(b.lc.agents) * b.o.MaxTasks
	}
	ws, err := b.clients[0].Workers().List(ctx)
	n := 0
	if err == nil {
		for _, w := range ws {
			if w.Enabled {
				n += w.MaxTasks
			}
		}
	}
	return max(n, 1)
}

// runBaseline measures the trivial Raft FSM at every concurrency the other
// scenarios use.
func (b *bench) runBaseline(ctx context.Context) error {
	dir, err := os.MkdirTemp("", "scaleout-bench-raft-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if b.o.StartBaseline == nil {
		return fmt.Errorf("no Raft baseline in this build")
	}
	rc, err := b.o.StartBaseline(dir)
	if err != nil {
		return err
	}
	defer rc.Stop()
	levels := []int{1, b.o.Clients, b.throughputConcurrency(ctx)}
	slices.Sort(levels)
	levels = slices.Compact(levels)
	for _, c := range levels {
		res, err := rc.Measure(ctx, c, b.o.BaselineDuration)
		if err != nil {
			return err
		}
		b.baseline[c] = res.PerSecond
		b.add(Row{Scenario: "baseline", Metric: fmt.Sprintf("raft applies, %d concurrent", c), Value: res.PerSecond, Unit: "applies/s",
			Note: fmt.Sprintf("%d concurrent: p50 %s, p99 %s (3 servers in the bench process, raft-boltdb, TCP loopback, BatchingFSM, bbolt NoSync)",
				c, ms(res.P50), ms(res.P99))})
		if c == 1 {
			b.add(Row{Scenario: "baseline", Metric: "raft apply p99, 1 concurrent", Value: float64(res.P99) / 1e6, Unit: "ms"})
		}
	}
	return nil
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d)/1e6) }

// rss reads VmRSS, RssAnon (heap, stacks) and RssFile (mapped files: the
// binary and the bbolt files) of pid from /proc/PID/status, in MiB.
func rss(pid int) (total, anon, file float64, err error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, 0, err
	}
	found := false
	for _, line := range strings.Split(string(raw), "\n") {
		name, rest, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		var kb float64
		if _, err := fmt.Sscanf(strings.TrimSpace(rest), "%f kB", &kb); err != nil {
			continue
		}
		switch name {
		case "VmRSS":
			total, found = kb/1024, true
		case "RssAnon":
			anon = kb / 1024
		case "RssFile":
			file = kb / 1024
		}
	}
	if !found {
		return 0, 0, 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
	}
	return total, anon, file, nil
}

func (b *bench) memory(ctx context.Context, metric string) error {
	if len(b.pids) == 0 {
		return fmt.Errorf("no agent pids known (use --local, or --pids name=pid,...)")
	}
	leader := ""
	if l, err := b.clients[0].Status().Leader(ctx); err == nil {
		leader = l.Node
	}
	names := make([]string, 0, len(b.pids))
	for n := range b.pids {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		v, anon, file, err := rss(b.pids[n])
		if err != nil {
			return err
		}
		role := ""
		if n == leader {
			role = " (leader)"
		}
		b.add(Row{Scenario: "memory", Metric: fmt.Sprintf("%s, agent %s%s", metric, n, role), Value: v, Unit: "MiB",
			Note: fmt.Sprintf("RssAnon %.1f MiB (heap, stacks), RssFile %.1f MiB (binary and mmapped bbolt pages, reclaimable)", anon, file)})
	}
	return nil
}

func (b *bench) memoryIdle(ctx context.Context) error { return b.memory(ctx, "RSS idle") }

// childStart runs the no-op package in `scaleout exec` children one after
// another, as a worker does for every attempt.
func (b *bench) childStart(ctx context.Context) error {
	if b.o.ChildJob == nil {
		return fmt.Errorf("no child job encoder in this build")
	}
	dir, err := os.MkdirTemp("", "scaleout-bench-child-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	job, err := b.o.ChildJob(b.noop, dir)
	if err != nil {
		return err
	}
	job = append(job, '\n')
	var lat []time.Duration
	for range 50 {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		t0 := time.Now()
		cmd := exec.Command(b.o.Exe, "exec")
		cmd.Dir = dir
		stdin, _ := cmd.StdinPipe()
		stdout, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			return err
		}
		_, _ = stdin.Write(job)
		sc := bufio.NewScanner(stdout)
		ok := false
		for sc.Scan() {
			if strings.Contains(sc.Text(), `"result"`) {
				ok = strings.Contains(sc.Text(), "succeeded")
				break
			}
		}
		_ = stdin.Close()
		_ = cmd.Wait()
		if !ok {
			return fmt.Errorf("no-op child did not succeed")
		}
		lat = append(lat, time.Since(t0))
	}
	slices.Sort(lat)
	p50, p99 := lat[len(lat)/2], lat[len(lat)*99/100]
	b.add(Row{Scenario: "childstart", Metric: "no-op child start to result p50", Value: float64(p50) / 1e6, Unit: "ms",
		Note: fmt.Sprintf("p99 %s; one child per attempt bounds a core at ~%.0f no-op executions/s", ms(p99), 1/p50.Seconds())})
	return nil
}

// latency runs one execution at a time on an idle cluster and measures
// submission to start (lease) and to end, from the client's clock before the
// submit call to the leader's timestamps (same machine with --local).
func (b *bench) latency(ctx context.Context) error {
	const n, warmup = 200, 5
	c := b.clients[0]
	var toStart, toEnd []time.Duration
	for i := range n + warmup {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		t0 := time.Now()
		id, err := c.Executions().Submit(ctx, &api.SubmitRequest{Package: b.noop})
		if err != nil {
			return err
		}
		e, err := waitOne(ctx, c, id, 30*time.Second)
		if err != nil {
			return err
		}
		if e.Status != api.StatusSucceeded || len(e.Attempts) == 0 || e.EndedAt == nil {
			return fmt.Errorf("execution %d ended %s: %s", id, e.Status, e.Message)
		}
		if i >= warmup {
			toStart = append(toStart, e.Attempts[0].StartedAt.Sub(t0))
			toEnd = append(toEnd, e.EndedAt.Sub(t0))
		}
	}
	slices.Sort(toStart)
	slices.Sort(toEnd)
	p := func(l []time.Duration, q int) float64 { return float64(l[min(len(l)-1, len(l)*q/100)]) / 1e6 }
	note := fmt.Sprintf("%d executions one at a time after %d not counted; client clock before submit to the leader's lease/end stamps", n, warmup)
	b.add(Row{Scenario: "latency", Metric: "submission to start p50", Value: p(toStart, 50), Unit: "ms", Note: note})
	b.add(Row{Scenario: "latency", Metric: "submission to start p99", Value: p(toStart, 99), Unit: "ms"})
	b.add(Row{Scenario: "latency", Metric: "submission to end p50", Value: p(toEnd, 50), Unit: "ms"})
	b.add(Row{Scenario: "latency", Metric: "submission to end p99", Value: p(toEnd, 99), Unit: "ms"})
	return nil
}

// waitOne waits for an execution to end, long-polling its events.
func waitOne(ctx context.Context, c *api.Client, id uint64, timeout time.Duration) (*api.Execution, error) {
	deadline := time.Now().Add(timeout)
	var after uint64
	for time.Now().Before(deadline) {
		r, err := c.Executions().Events(ctx, id, after, 1000, 5*time.Second)
		if api.IsStatus(err, 404) {
			// Read from a follower that has not applied the submission yet.
			time.Sleep(2 * time.Millisecond)
			continue
		}
		if err != nil {
			return nil, err
		}
		after = r.Next
		if api.Terminal(r.Status) {
			lattrace.Stamp(id, "b.seen")
			return c.Executions().Info(ctx, id)
		}
	}
	return nil, fmt.Errorf("execution %d not ended after %s", id, timeout)
}

// setWorkersEnabled enables or disables every worker. Held submissions are
// made with the workers disabled so that they stay pending and cost the
// leader no lease scans.
func (b *bench) setWorkersEnabled(ctx context.Context, on bool) error {
	ws, err := b.clients[0].Workers().List(ctx)
	if err != nil {
		return err
	}
	for _, w := range ws {
		if err := b.clients[0].Workers().SetEnabled(ctx, w.ID, on); err != nil {
			return err
		}
	}
	return nil
}

// submit measures accepted executions per second: single submissions from 1
// and N clients, bulk submissions (100 per call) from N clients. Workers are
// disabled meanwhile; the executions are canceled afterwards (which counts
// them as ended for the memory scenario).
func (b *bench) submit(ctx context.Context) error {
	if err := b.setWorkersEnabled(ctx, false); err != nil {
		return err
	}
	defer func() { _ = b.setWorkersEnabled(context.WithoutCancel(ctx), true) }()
	var held []uint64
	var mu sync.Mutex
	run := func(metric string, clients, per int, d time.Duration) error {
		var count atomic.Int64
		reqs := make([]api.SubmitRequest, per)
		for i := range reqs {
			reqs[i] = api.SubmitRequest{Package: b.noop}
		}
		idx0 := b.leaderIndex(ctx)
		end := time.Now().Add(d)
		t0 := time.Now()
		err := b.forEach(ctx, clients, math.MaxInt32, func(c *api.Client, _ int) error {
			if time.Now().After(end) {
				return errEnough
			}
			var ids []uint64
			var err error
			if per == 1 {
				var id uint64
				id, err = c.Executions().Submit(ctx, &reqs[0])
				ids = []uint64{id}
			} else {
				ids, err = c.Executions().SubmitBulk(ctx, reqs)
			}
			if err != nil {
				return err
			}
			mu.Lock()
			held = append(held, ids...)
			mu.Unlock()
			count.Add(int64(len(ids)))
			return nil
		})
		el := time.Since(t0)
		if err != nil {
			return err
		}
		rate := float64(count.Load()) / el.Seconds()
		note := fmt.Sprintf("%d executions in %s", count.Load(), el.Round(time.Millisecond))
		if idx1 := b.leaderIndex(ctx); idx1 > idx0 && count.Load() > 0 {
			note += fmt.Sprintf("; %.3f Raft entries per execution", float64(idx1-idx0)/float64(count.Load()))
		}
		b.add(Row{Scenario: "submit", Metric: metric, Value: rate, Unit: "executions/s", Baseline: b.baseline[clients], Note: note})
		return nil
	}
	if err := run("single, 1 client", 1, 1, 2*time.Second); err != nil {
		return err
	}
	if err := run(fmt.Sprintf("single, %d clients", b.o.Clients), b.o.Clients, 1, 3*time.Second); err != nil {
		return err
	}
	if err := run(fmt.Sprintf("bulk of 100, %d clients", b.o.Clients), b.o.Clients, 100, 3*time.Second); err != nil {
		return err
	}
	b.ended += len(held)
	return b.cancelAll(ctx, held)
}

// cancelAll stops pending executions (64 at a time) and counts the rate.
func (b *bench) cancelAll(ctx context.Context, ids []uint64) error {
	if len(ids) == 0 {
		return nil
	}
	t0 := time.Now()
	err := b.forEach(ctx, 64, len(ids), func(c *api.Client, i int) error {
		if _, err := c.Executions().Stop(ctx, ids[i]); err != nil && !api.IsStatus(err, 409) {
			return err
		}
		return nil
	})
	if err != nil {
		return err
	}
	b.logf("canceled %d held executions in %s (%.0f/s)", len(ids), time.Since(t0).Round(time.Millisecond),
		float64(len(ids))/time.Since(t0).Seconds())
	return nil
}

// leaderIndex is the leader's applied Raft index (0 if unknown).
func (b *bench) leaderIndex(ctx context.Context) uint64 {
	l, err := b.clients[0].Status().Leader(ctx)
	if err != nil {
		return 0
	}
	if l.API == "" {
		return l.Index
	}
	c, err := api.NewClient(api.Config{Address: l.API})
	if err != nil {
		return 0
	}
	if l2, err := c.Status().Leader(ctx); err == nil {
		return l2.Index
	}
	return 0
}
