package bench

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/scaleout/scaleout/api"
)

// logicalCommandsPerExecution is what one no-op execution needs without
// coalescing: ExecutionSubmit, ExecutionLease, ExecutionFinish (its events
// ride with the result). The throughput target divides the baseline by it.
const logicalCommandsPerExecution = 3

// submitMany submits n no-op executions in bulks of 500 from 4 clients and
// returns their ids, sorted.
func (b *bench) submitMany(ctx context.Context, n, retries int) ([]uint64, error) {
	return b.submitManyPkg(ctx, b.noop, n, retries)
}

// submitManyPkg submits n executions of the inline package pkg in bulks of
// 500 from 4 clients and returns their ids, sorted.
func (b *bench) submitManyPkg(ctx context.Context, pkg string, n, retries int) ([]uint64, error) {
	const per = 500
	var mu sync.Mutex
	var ids []uint64
	err := b.forEach(ctx, 4, (n+per-1)/per, func(c *api.Client, i int) error {
		reqs := make([]api.SubmitRequest, min(per, n-i*per))
		for i := range reqs {
			reqs[i] = api.SubmitRequest{Package: pkg, Retries: retries}
		}
		got, err := c.Executions().SubmitBulk(ctx, reqs)
		mu.Lock()
		ids = append(ids, got...)
		mu.Unlock()
		return err
	})
	slices.Sort(ids)
	return ids, err
}

// errEnough, returned by a forEach function, stops its worker without
// counting as an error.
var errEnough = errors.New("enough")

// forEach calls fn for i in [0, n) from workers goroutines, each with a
// client of its own (round robin over the agents), and returns the first
// error; a worker stops at its first error (or errEnough) or when ctx
// ends.
func (b *bench) forEach(ctx context.Context, workers, n int, fn func(c *api.Client, i int) error) error {
	var next atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	for g := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := b.clients[g%len(b.clients)]
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := fn(c, i); err != nil {
					if !errors.Is(err, errEnough) {
						once.Do(func() { firstErr = err })
					}
					return
				}
			}
		}()
	}
	wg.Wait()
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	return firstErr
}

// runMany submits n executions of pkg (bulk) and waits until every one has
// ended: it returns how many succeeded, the time from the first submission
// to the last end and to the last submission, and the leader's Raft
// entries per execution meanwhile.
func (b *bench) runMany(ctx context.Context, pkg string, n int) (ok int, el, sub time.Duration, entries float64, err error) {
	idx0 := b.leaderIndex(ctx)
	t0 := time.Now()
	ids, err := b.submitManyPkg(ctx, pkg, n, 0)
	if err != nil {
		return 0, 0, 0, 0, err
	}
	sub = time.Since(t0)
	final, err := waitEnded(ctx, b.clients, ids, 10*time.Minute)
	if err != nil {
		return 0, 0, 0, 0, err
	}
	el = time.Since(t0)
	b.ended += len(ids)
	for _, e := range final {
		if e.Status == api.StatusSucceeded {
			ok++
		}
	}
	return ok, el, sub, float64(b.leaderIndex(ctx)-idx0) / float64(len(ids)), nil
}

// waitEnded waits until every execution in ids (sorted) is terminal, reading
// them in windows of up to 500 ids through c, and returns the final records.
func waitEnded(ctx context.Context, clients []*api.Client, ids []uint64, timeout time.Duration) (map[uint64]api.Execution, error) {
	out := make(map[uint64]api.Execution, len(ids))
	deadline := time.Now().Add(timeout)
	i := 0
	for i < len(ids) {
		if ctx.Err() != nil {
			return out, ctx.Err()
		}
		j := min(i+500, len(ids))
		lo, hi := ids[i], ids[j-1]
		var list []api.Execution
		var err error
		for _, c := range clients {
			list, err = c.Executions().List(ctx, &api.ListOptions{BeforeID: hi + 1, Limit: int(hi - lo + 1)})
			if err == nil {
				break
			}
		}
		if err != nil {
			return out, err
		}
		for _, e := range list {
			out[e.ID] = e
		}
		adv := i
		for adv < j {
			e, ok := out[ids[adv]]
			if !ok || !api.Terminal(e.Status) {
				break
			}
			adv++
		}
		if adv == i {
			if time.Now().After(deadline) {
				return out, fmt.Errorf("%d of %d executions not ended after %s (first: %d)", len(ids)-i, len(ids), timeout, ids[i])
			}
			time.Sleep(100 * time.Millisecond)
		}
		i = adv
	}
	return out, nil
}

// throughput submits --executions no-op executions (bulk) and measures
// the time until the last has succeeded.
func (b *bench) throughput(ctx context.Context) error {
	n := b.o.Executions
	conc := b.throughputConcurrency(ctx)
	ok, el, tSub, entries, err := b.runMany(ctx, b.noop, n)
	if err != nil {
		return err
	}
	rate := float64(n) / el.Seconds()
	base := b.baseline[conc]
	b.add(Row{Scenario: "throughput", Metric: fmt.Sprintf("no-op executions, submission to succeeded (%d)", n), Value: rate, Unit: "executions/s",
		Baseline: base, Note: fmt.Sprintf("%d of %d succeeded in %s (submission took %s); %d attempts at once; %.3f Raft entries per execution (%d logical commands)",
			ok, n, el.Round(time.Millisecond), tSub.Round(time.Millisecond), conc, entries, logicalCommandsPerExecution)})
	if base > 0 {
		target := 0.5 * base / logicalCommandsPerExecution
		b.add(Row{Scenario: "throughput", Metric: "target: 50% of baseline / 3 commands", Value: target, Unit: "executions/s",
			Ratio: rate / target, Note: "ratio = measured throughput / target (>= 1 meets it)"})
	}
	b.add(Row{Scenario: "throughput", Metric: "Raft entries per execution", Value: entries, Unit: "entries"})
	return nil
}

// memoryAfter fills the catalog up to --ended ended executions (bulk
// submissions with the workers disabled, then canceled) and reads RSS.
func (b *bench) memoryAfter(ctx context.Context) error {
	if len(b.pids) == 0 {
		return fmt.Errorf("no agent pids known (use --local, or --pids name=pid,...)")
	}
	if left := b.o.Ended - b.ended; left > 0 {
		t0 := time.Now()
		if err := b.setWorkersEnabled(ctx, false); err != nil {
			return err
		}
		ids, err := b.submitMany(ctx, left, 0)
		if err != nil {
			_ = b.setWorkersEnabled(context.WithoutCancel(ctx), true)
			return err
		}
		err = b.cancelAll(ctx, ids)
		if e2 := b.setWorkersEnabled(context.WithoutCancel(ctx), true); err == nil {
			err = e2
		}
		if err != nil {
			return err
		}
		b.ended += len(ids)
		b.logf("added %d ended executions in %s", len(ids), time.Since(t0).Round(time.Millisecond))
	}
	return b.memory(ctx, fmt.Sprintf("RSS after %d ended executions", b.ended))
}

// failover kills the leader (kill -9) while executions are submitted and
// run, and measures when a new leader is known and when it dispatches.
func (b *bench) failover(ctx context.Context) error {
	if b.lc == nil && b.o.KillCmd == "" {
		return fmt.Errorf("skipped: needs --local or --failover-kill-cmd")
	}
	l, err := b.clients[0].Status().Leader(ctx)
	if err != nil {
		return err
	}
	old := l.Node
	var survivors []*api.Client
	for i, c := range b.clients {
		if b.lc == nil || b.lc.agents[i].name != old {
			survivors = append(survivors, c)
		}
	}
	if len(survivors) == 0 {
		survivors = b.clients
	}

	// Load: 10 executions every 50 ms (200/s), with retries so that the
	// attempts on the killed leader's own worker run again elsewhere.
	var mu sync.Mutex
	var ids []uint64
	rejected := 0
	stopLoad := make(chan struct{})
	loadDone := make(chan struct{})
	go func() {
		defer close(loadDone)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		reqs := make([]api.SubmitRequest, 10)
		for i := range reqs {
			reqs[i] = api.SubmitRequest{Package: b.noop, Retries: 3}
		}
		k := 0
		for {
			select {
			case <-stopLoad:
				return
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			c := survivors[k%len(survivors)]
			k++
			cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			got, err := c.Executions().SubmitBulk(cctx, reqs)
			cancel()
			mu.Lock()
			if err != nil {
				rejected += len(reqs)
			}
			ids = append(ids, got...)
			mu.Unlock()
		}
	}()
	select {
	case <-time.After(3 * time.Second):
	case <-ctx.Done():
		return ctx.Err()
	}
	killAt := time.Now()
	if b.lc != nil {
		b.lc.byNode(old).kill9()
		b.logf("killed leader %s (kill -9)", old)
	} else {
		cmd := strings.ReplaceAll(b.o.KillCmd, "{leader}", old)
		if out, err := exec.CommandContext(ctx, "sh", "-c", cmd).CombinedOutput(); err != nil {
			close(stopLoad)
			<-loadDone
			return fmt.Errorf("--failover-kill-cmd %q: %v: %s", cmd, err, out)
		}
	}
	var elected time.Duration
	for elected == 0 && time.Since(killAt) < 30*time.Second {
		for _, c := range survivors {
			cctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
			nl, err := c.Status().Leader(cctx)
			cancel()
			if err == nil && nl.Node != "" && nl.Node != old {
				elected = time.Since(killAt)
				break
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case <-time.After(max(0, 5*time.Second-time.Since(killAt))):
	case <-ctx.Done():
	}
	close(stopLoad)
	<-loadDone
	mu.Lock()
	accepted := slices.Clone(ids)
	mu.Unlock()
	slices.Sort(accepted)
	if len(accepted) == 0 {
		return fmt.Errorf("no submission accepted")
	}
	// Anything created in the id range counts, including submissions whose
	// answer was lost with the leader.
	lo, hi := accepted[0], accepted[len(accepted)-1]
	final, err := waitEnded(ctx, survivors, accepted, 90*time.Second)
	lost := 0
	if err != nil {
		for _, id := range accepted {
			if e, ok := final[id]; !ok || !api.Terminal(e.Status) {
				lost++
			}
		}
		b.logf("failover: %v", err)
	}
	// Executions the bench did not hear about (answer lost with the
	// leader) must end too.
	for _, c := range survivors {
		list, err := c.Executions().List(ctx, &api.ListOptions{BeforeID: hi + 101, Limit: int(hi - lo + 101)})
		if err != nil {
			continue
		}
		for _, e := range list {
			if e.ID >= lo {
				if _, known := final[e.ID]; !known {
					final[e.ID] = e
					if !api.Terminal(e.Status) {
						lost++
					}
				}
			}
		}
		break
	}
	var resume time.Duration
	succeeded, double, retried := 0, 0, 0
	for _, e := range final {
		wins := 0
		for _, a := range e.Attempts {
			if a.Result == api.StatusSucceeded {
				wins++
			}
			if a.StartedAt.After(killAt) && (resume == 0 || a.StartedAt.Sub(killAt) < resume) {
				resume = a.StartedAt.Sub(killAt)
			}
		}
		if wins > 1 {
			double++
		}
		if e.Status == api.StatusSucceeded {
			succeeded++
		}
		if len(e.Attempts) > 1 {
			retried++
		}
	}
	b.ended += len(final)
	b.add(Row{Scenario: "failover", Metric: "new leader known after kill -9", Value: float64(elected) / 1e6, Unit: "ms",
		Note: fmt.Sprintf("leader %s killed under ~200 executions/s", old)})
	b.add(Row{Scenario: "failover", Metric: "dispatch resumes after kill -9", Value: float64(resume) / 1e6, Unit: "ms",
		Note: "first attempt leased after the kill (leader's lease stamp)"})
	b.add(Row{Scenario: "failover", Metric: "executions lost", Value: float64(lost), Unit: "executions",
		Note: fmt.Sprintf("%d executions created, %d succeeded, %d needed a retry, %d submissions refused during the election (not accepted, not counted)",
			len(final), succeeded, retried, rejected)})
	b.add(Row{Scenario: "failover", Metric: "executions succeeded twice", Value: float64(double), Unit: "executions"})
	return nil
}
