package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/scaleout/scaleout/api"
)

// slots runs Slots executions at once on the first agent's worker (start
// it with --local 1 --max-tasks 1000: docs/PERFORMANCE.md, "One worker with
// 1,000 slots"), each a shell that sleeps SlotsHold, and times
// `GET /v1/executions?limit=100` against that agent every 50 ms from the
// bulk submission until all have succeeded: p50, p99 and max over the run,
// before and after the listing shows all of them running (leased: their
// package processes may still be starting), with the load average.
func (b *bench) slots(ctx context.Context) error {
	n, hold := b.o.Slots, b.o.SlotsHold
	if n <= 0 {
		n = 1000
	}
	if hold <= 0 {
		hold = 45 * time.Second
	}
	c := b.clients[0]
	pkg := fmt.Sprintf("name: slot\ntasks:\n  - name: hold\n    exec:\n      command: [/bin/sh, -c, 'sleep %d']\n", int(hold.Seconds()))
	reqs := make([]api.SubmitRequest, n)
	for i := range reqs {
		reqs[i] = api.SubmitRequest{Package: pkg}
	}
	load0 := loadAvg()
	var mu sync.Mutex
	phase := "starting"
	took := map[string][]time.Duration{}
	failed := 0
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		hc := &http.Client{Timeout: time.Minute}
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			t0 := time.Now()
			resp, err := hc.Get(b.addrs[0] + "/v1/executions?limit=100")
			ok := err == nil && resp.StatusCode == http.StatusOK
			if err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			d := time.Since(t0)
			mu.Lock()
			if ok {
				took[phase] = append(took[phase], d)
			} else {
				failed++
			}
			mu.Unlock()
		}
	}()
	defer func() { close(stop); wg.Wait() }()
	setPhase := func(p string) { mu.Lock(); phase = p; mu.Unlock() }

	t0 := time.Now()
	ids, err := c.Executions().SubmitBulk(ctx, reqs)
	if err != nil {
		return fmt.Errorf("submit %d: %w", n, err)
	}
	first, last := ids[0], ids[len(ids)-1]
	count := func() (map[string]int, error) {
		list, err := c.Executions().List(ctx, &api.ListOptions{Limit: n + 1, BeforeID: last + 1})
		if err != nil {
			return nil, err
		}
		m := map[string]int{}
		for _, e := range list {
			if e.ID >= first {
				m[e.Status]++
			}
		}
		return m, nil
	}
	var allRunning time.Duration
	logged := time.Now()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		m, err := count()
		if err != nil {
			return err
		}
		if bad := m["failed"] + m["ended_unexpectedly"] + m["canceled"]; bad > 0 {
			return fmt.Errorf("%d of %d executions did not succeed: %v", bad, n, m)
		}
		if allRunning == 0 && m["running"] == n {
			allRunning = time.Since(t0)
			setPhase("all running")
		}
		if m["succeeded"] == n {
			break
		}
		if time.Since(logged) > 10*time.Second {
			logged = time.Now()
			b.logf("slots: %v after %s", m, time.Since(t0).Round(time.Second))
		}
		time.Sleep(time.Second) // the pace of the check
	}
	total := time.Since(t0)
	setPhase("after")
	load1 := loadAvg()
	b.ended += n
	mu.Lock()
	defer mu.Unlock()
	var all []time.Duration
	for _, p := range []string{"starting", "all running"} {
		all = append(all, took[p]...)
	}
	slices.Sort(all)
	b.add(Row{Scenario: "slots", Metric: fmt.Sprintf("GET list p99, %d running on one worker", n), Value: pct(all, 99), Unit: "ms",
		Note: fmt.Sprintf("GET /v1/executions?limit=100 every 50 ms from the bulk submission of %d `sleep %d` executions until all succeeded (%s; all running after %s): %d requests, %d failed, p50 %.1f ms, p99 %.1f ms, max %.0f ms; load average %s at the start, %s at the end",
			n, int(hold.Seconds()), total.Round(time.Second), allRunning.Round(time.Second), len(all), failed, pct(all, 50), pct(all, 99), pct(all, 100), load0, load1)})
	for _, p := range []string{"starting", "all running"} {
		l := took[p]
		slices.Sort(l)
		b.add(Row{Scenario: "slots", Metric: fmt.Sprintf("GET list p50, %s", p), Value: pct(l, 50), Unit: "ms",
			Note: fmt.Sprintf("%d requests: p99 %.1f ms, max %.0f ms", len(l), pct(l, 99), pct(l, 100))})
		b.add(Row{Scenario: "slots", Metric: fmt.Sprintf("GET list p99, %s", p), Value: pct(l, 99), Unit: "ms"})
	}
	return nil
}

// loadAvg is the first three fields of /proc/loadavg ("?" elsewhere).
func loadAvg() string {
	raw, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(raw))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
