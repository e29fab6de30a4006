//go:build linux

package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scaleout/scaleout/api"
)

// slowFlood keeps n connections to addr open, each sending half a request
// header and then a byte a second, and dials again 200 ms after one is
// closed, until stopped: a slow-client attack that does not let up.
type slowFlood struct {
	stop    chan struct{}
	wg      sync.WaitGroup
	dials   atomic.Int64
	stopped atomic.Bool
}

func startSlowFlood(addr string, n int) *slowFlood {
	f := &slowFlood{stop: make(chan struct{})}
	for i := 0; i < n; i++ {
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			for {
				select {
				case <-f.stop:
					return
				default:
				}
				f.hold(addr)
				select {
				case <-f.stop:
					return
				case <-time.After(200 * time.Millisecond):
				}
			}
		}()
	}
	return f
}

// hold dials once and trickles a header until the agent closes the
// connection or the flood stops.
func (f *slowFlood) hold(addr string) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return
	}
	defer c.Close()
	f.dials.Add(1)
	if _, err := c.Write([]byte("GET /v1/status/leader HTTP/1.1\r\nHost: x\r\nX-Slow: ")); err != nil {
		return
	}
	closed := make(chan struct{})
	go func() { // a read returns when the agent closes the connection
		var b [64]byte
		_, _ = c.Read(b[:])
		close(closed)
	}()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-f.stop:
			return
		case <-closed:
			return
		case <-tick.C:
			if _, err := c.Write([]byte("x")); err != nil {
				return
			}
		}
	}
}

func (f *slowFlood) end() {
	if f.stopped.CompareAndSwap(false, true) {
		close(f.stop)
		f.wg.Wait()
	}
}

// TestE2E_SlowClientFloodDoesNotStarveTheWorker: an agent capped at 20
// connections (default header timeout, 10 s) is flooded by 150 slow
// clients that come back as soon as they are closed, for 45 s (4.5 leases).
// Before, the cap queued every new connection behind the flood in the
// kernel's queue (about 130 / 20 x 10 s = 65 s), the worker's among them.
// Now: an execution that runs through the flood keeps its lease and
// succeeds on its first attempt; one submitted during the flood (on a new
// connection) is submitted, run and reported while the flood goes on; the
// agent's descriptors stay bounded by the cap.
func TestE2E_SlowClientFloodDoesNotStarveTheWorker(t *testing.T) {
	const capConns, floodConns, floodFor = 20, 150, 45 * time.Second
	a := startAgent(t, t.TempDir(), "--max-connections", fmt.Sprint(capConns), "--lease-timeout", "10s")
	addr := strings.TrimPrefix(a.api, "http://")
	fds := func() int {
		ents, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", a.cmd.Process.Pid))
		return len(ents)
	}
	base := fds()
	c := a.client(t)
	long := submit(t, c, `name: through-the-flood
tasks:
  - name: wait
    exec:
      command: [/bin/sh, -c, 'sleep 25; echo done']
`, 0)
	waitStatus(t, c, long, time.Minute, "running")

	flood := startSlowFlood(addr, floodConns)
	defer flood.end()
	floodStart := time.Now()
	floodOn := func() bool { return time.Since(floodStart) < floodFor }
	maxFDs := 0
	sampleFDs := func() { maxFDs = max(maxFDs, fds()) }
	waitFor(t, "the flood to fill the agent's connections", 30*time.Second, func() (bool, string) {
		sampleFDs()
		n := flood.dials.Load()
		return n >= floodConns, fmt.Sprintf("%d dials", n)
	})

	// A new client, so a new connection, during the flood.
	fresh, err := api.NewClient(api.Config{Address: a.api, HTTPClient: &http.Client{Transport: &http.Transport{}}})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	quick := submit(t, fresh, quickPackage, 0)
	submitTook := time.Since(t0)
	var quickDone, longDone time.Duration
	waitFor(t, "both executions to end", 2*time.Minute, func() (bool, string) {
		sampleFDs()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var seen []string
		for _, x := range []struct {
			id   uint64
			done *time.Duration
		}{{quick, &quickDone}, {long, &longDone}} {
			e, err := fresh.Executions().Info(ctx, x.id)
			if err != nil {
				return false, err.Error()
			}
			if *x.done == 0 && e.Status != "pending" && e.Status != "running" {
				*x.done = time.Since(floodStart)
				if e.Status != "succeeded" || len(e.Attempts) != 1 {
					t.Fatalf("execution %d under the flood: %s after %d attempts\n%s", x.id, e.Status, len(e.Attempts), a.logText())
				}
			}
			seen = append(seen, e.Status)
		}
		return quickDone > 0 && longDone > 0, strings.Join(seen, ", ")
	})
	stillOn := floodOn()
	dials := flood.dials.Load()
	flood.end()
	t.Logf("flood of %d slow clients (%d dials), cap %d: submit took %s; quick ended %s, long %s into the flood; agent fds %d before, at most %d",
		floodConns, dials, capConns, submitTook.Round(time.Millisecond), quickDone.Round(time.Millisecond), longDone.Round(time.Millisecond), base, maxFDs)
	if !stillOn {
		t.Errorf("the executions ended only after %s, when the flood of %s was over: the flood starved them", max(quickDone, longDone).Round(time.Millisecond), floodFor)
	}
	if maxFDs > base+capConns+20 {
		t.Errorf("agent holds %d descriptors (%d before): the cap of %d connections does not hold", maxFDs, base, capConns)
	}
	serving(t, a, "after-flood")
}
