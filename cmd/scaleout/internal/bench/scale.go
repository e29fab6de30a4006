package bench

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/scaleout/scaleout/api"
)

// scaleDispatch is how many exec-package executions each dispatch
// measurement of the scale scenario runs.
const scaleDispatch = 2000

// scaleMeasure is what the scale scenario measures before and after it
// fills the catalog.
type scaleMeasure struct {
	ended            int     // ended executions in the catalog (this run's count)
	rate             float64 // exec executions/s, submission to succeeded
	first, deep      []time.Duration
	firstID, deepTop uint64
}

// scale fills the catalog up to ScaleEnded ended executions and measures
// what could grow with it: the dispatch rate of the exec package, paging
// through `executions list` (the newest page and one deep in the middle),
// a snapshot's size and time, and the agents' RSS.
func (b *bench) scale(ctx context.Context) error {
	target := b.o.ScaleEnded
	if target <= 0 {
		target = 1_000_000
	}
	before, err := b.scaleMeasure(ctx)
	if err != nil {
		return err
	}
	if left := target - b.ended; left > 0 {
		t0 := time.Now()
		n, err := b.fillEnded(ctx, left)
		if err != nil {
			return err
		}
		el := time.Since(t0)
		b.add(Row{Scenario: "scale", Metric: fmt.Sprintf("fill: %d executions submitted and stopped", n), Value: float64(n) / el.Seconds(), Unit: "executions/s",
			Note: fmt.Sprintf("bulks of 500 submitted with the workers disabled, each stopped by one bulk stop, 8 clients; took %s", el.Round(time.Second))})
	}
	after, err := b.scaleMeasure(ctx)
	if err != nil {
		return err
	}
	b.add(Row{Scenario: "scale", Metric: fmt.Sprintf("dispatch: exec executions/s with %d ended", before.ended), Value: before.rate, Unit: "executions/s"})
	b.add(Row{Scenario: "scale", Metric: fmt.Sprintf("dispatch: exec executions/s with %d ended", after.ended), Value: after.rate, Unit: "executions/s",
		Ratio: after.rate / before.rate, Note: fmt.Sprintf("ratio = full / before the fill (%d executions each, submission to succeeded)", scaleDispatch)})
	for _, m := range []struct {
		name string
		s    scaleMeasure
	}{{"before", before}, {"after", after}} {
		b.add(Row{Scenario: "scale", Metric: fmt.Sprintf("list newest 100, p50 (%d ended)", m.s.ended), Value: pct(m.s.first, 50), Unit: "ms",
			Note: fmt.Sprintf("%s the fill: `executions list` pages of 100 through agent 1, 50 times: newest page p99 %.1f ms; page below id %d p50 %.1f ms, p99 %.1f ms",
				m.name, pct(m.s.first, 99), m.s.deepTop, pct(m.s.deep, 50), pct(m.s.deep, 99))})
		b.add(Row{Scenario: "scale", Metric: fmt.Sprintf("list a deep page of 100, p99 (%d ended)", m.s.ended), Value: pct(m.s.deep, 99), Unit: "ms"})
	}
	var size atomic.Int64
	t0 := time.Now()
	if err := b.clients[0].Operator().SnapshotSave(ctx, countWriter{&size}); err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	el := time.Since(t0)
	b.add(Row{Scenario: "scale", Metric: fmt.Sprintf("snapshot size (%d ended)", after.ended), Value: float64(size.Load()) / (1 << 20), Unit: "MiB",
		Note: fmt.Sprintf("GET /v1/operator/snapshot through agent 1 took %s (%.0f MiB/s)", el.Round(time.Millisecond), float64(size.Load())/(1<<20)/el.Seconds())})
	b.add(Row{Scenario: "scale", Metric: "snapshot time", Value: el.Seconds(), Unit: "s"})
	if len(b.pids) > 0 {
		return b.memory(ctx, fmt.Sprintf("RSS after %d ended executions", b.ended))
	}
	return nil
}

// scaleMeasure runs scaleDispatch exec executions and pages through the
// executions list.
func (b *bench) scaleMeasure(ctx context.Context) (scaleMeasure, error) {
	ok, el, _, _, err := b.runMany(ctx, truePackage, scaleDispatch)
	if err != nil {
		return scaleMeasure{}, err
	}
	if ok != scaleDispatch {
		return scaleMeasure{}, fmt.Errorf("%d of %d exec executions succeeded", ok, scaleDispatch)
	}
	m := scaleMeasure{ended: b.ended, rate: scaleDispatch / el.Seconds()}
	c := b.clients[0]
	newest, err := c.Executions().List(ctx, &api.ListOptions{Limit: 1})
	if err != nil || len(newest) == 0 {
		return m, fmt.Errorf("list: %v (%d executions)", err, len(newest))
	}
	m.firstID = newest[0].ID
	m.deepTop = m.firstID / 2
	for range 50 {
		for _, o := range []struct {
			opts *api.ListOptions
			into *[]time.Duration
		}{{&api.ListOptions{Limit: 100}, &m.first}, {&api.ListOptions{Limit: 100, BeforeID: m.deepTop}, &m.deep}} {
			t0 := time.Now()
			page, err := c.Executions().List(ctx, o.opts)
			if err != nil {
				return m, err
			}
			if len(page) == 0 {
				return m, fmt.Errorf("list %+v: empty page", *o.opts)
			}
			*o.into = append(*o.into, time.Since(t0))
		}
	}
	slices.Sort(m.first)
	slices.Sort(m.deep)
	return m, nil
}

// fillEnded adds n ended executions: no-op executions submitted in bulks
// of 500 while the workers are disabled, each bulk then stopped with one
// bulk stop. It returns how many it added.
func (b *bench) fillEnded(ctx context.Context, n int) (int, error) {
	const per = 500
	if err := b.setWorkersEnabled(ctx, false); err != nil {
		return 0, err
	}
	defer func() { _ = b.setWorkersEnabled(context.WithoutCancel(ctx), true) }()
	reqs := make([]api.SubmitRequest, per)
	for i := range reqs {
		reqs[i] = api.SubmitRequest{Package: b.noop}
	}
	var added atomic.Int64
	var logMu sync.Mutex
	last := time.Now()
	err := b.forEach(ctx, 8, (n+per-1)/per, func(c *api.Client, i int) error {
		ids, err := c.Executions().SubmitBulk(ctx, reqs[:min(per, n-i*per)])
		if err != nil {
			return err
		}
		res, err := c.Executions().StopBulk(ctx, ids)
		if err != nil {
			return err
		}
		for _, r := range res {
			if r.Error != "" {
				return fmt.Errorf("stop %d: %s", r.ID, r.Error)
			}
		}
		done := added.Add(int64(len(ids)))
		logMu.Lock()
		if time.Since(last) > 10*time.Second {
			last = time.Now()
			b.logf("scale: %d of %d ended executions added", done, n)
		}
		logMu.Unlock()
		return nil
	})
	b.ended += int(added.Load())
	return int(added.Load()), err
}

// pct is the q-th percentile of sorted durations, in ms.
func pct(l []time.Duration, q int) float64 {
	if len(l) == 0 {
		return 0
	}
	return float64(l[min(len(l)-1, len(l)*q/100)]) / 1e6
}

// countWriter counts what is written to it.
type countWriter struct{ n *atomic.Int64 }

func (w countWriter) Write(p []byte) (int, error) {
	w.n.Add(int64(len(p)))
	return len(p), nil
}
