package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/scaleout/scaleout/api"
	"github.com/scaleout/scaleout/catalog"
)

// schedCluster is three servers on fixed loopback ports, so that a killed
// server restarts with its data directory and addresses.
type schedCluster struct {
	t      *testing.T
	args   map[string][]string
	agents map[string]*agentProc
	apis   map[string]string
}

func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var out []int
	var lns []net.Listener
	for len(out) < n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		out = append(out, ln.Addr().(*net.TCPAddr).Port)
	}
	for _, ln := range lns {
		ln.Close()
	}
	return out
}

var serverNames = []string{"s1", "s2", "s3"}

func startSchedCluster(t *testing.T) *schedCluster {
	t.Helper()
	c := &schedCluster{t: t, args: map[string][]string{}, agents: map[string]*agentProc{}, apis: map[string]string{}}
	ports := freePorts(t, 9)
	key := catalog.GenerateKey()
	for i, name := range serverNames {
		api, raft, gossip := ports[3*i], ports[3*i+1], ports[3*i+2]
		args := []string{"agent", "--node", name, "--data-dir", t.TempDir(), "--encrypt-key", key,
			"--http-addr", fmt.Sprintf("127.0.0.1:%d", api), "--bind", "127.0.0.1", "--raft-port", strconv.Itoa(raft),
			"--gossip-port", strconv.Itoa(gossip), "--bootstrap-expect", "3", "--lease-timeout", "3s", "--heartbeat", "500ms",
			"--kill-grace", "1s", "--max-tasks", "10", "--log-level", "info", "--insecure"}
		for j := range serverNames {
			if j != i {
				args = append(args, "--join", fmt.Sprintf("127.0.0.1:%d", ports[3*j+2]))
			}
		}
		c.args[name] = args
		c.apis[name] = fmt.Sprintf("http://127.0.0.1:%d", api)
	}
	for _, name := range serverNames {
		c.start(name)
	}
	for _, name := range serverNames {
		c.agents[name].waitStarted()
	}
	return c
}

// start starts (or restarts) a server with its arguments.
func (c *schedCluster) start(name string) {
	c.agents[name] = spawnAgent(c.t, "", c.args[name]...)
}

func (c *schedCluster) client(name string) *api.Client {
	cl, err := api.NewClient(api.Config{Address: c.apis[name]})
	if err != nil {
		c.t.Fatal(err)
	}
	return cl
}

// leader asks the servers still running which one leads.
func (c *schedCluster) leader(except string) string {
	var leader string
	waitFor(c.t, "a leader", 60*time.Second, func() (bool, string) {
		for _, n := range serverNames {
			if n == except {
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			l, err := c.client(n).Status().Leader(ctx)
			cancel()
			if err == nil && l.Node != "" && l.Node != except {
				leader = l.Node
				return true, ""
			}
		}
		return false, "no leader"
	})
	return leader
}

// every2s lists the ticks of an `--every 2s` schedule in [from, to].
func every2s(from, to time.Time) []time.Time {
	var out []time.Time
	t := from.Truncate(2 * time.Second)
	if t.Before(from) {
		t = t.Add(2 * time.Second)
	}
	for ; !t.After(to); t = t.Add(2 * time.Second) {
		out = append(out, t)
	}
	return out
}

func allRuns(t *testing.T, cl *api.Client, name string) []api.Run {
	t.Helper()
	var runs []api.Run
	waitFor(t, "runs of "+name, 30*time.Second, func() (bool, string) {
		var err error
		runs, err = cl.Consistent().Schedules().Runs(context.Background(), name, 10_000)
		return err == nil, fmt.Sprint(err)
	})
	return runs
}

// TestE2E_ScheduleTicksOnceAcrossLeaderKills is the schedules issue's
// acceptance test: a schedule every 2 s on three real servers; the leader
// is killed with SIGKILL (and restarted) again and again for a minute;
// every tick of that minute created exactly one execution, checked by tick
// time. Then the whole cluster is stopped for more than 10 ticks and three
// schedules catch up per policy (skip, once, all:4).
func TestE2E_ScheduleTicksOnceAcrossLeaderKills(t *testing.T) {
	c := startSchedCluster(t)
	ctx := context.Background()
	leader := c.leader("")
	cl := c.client(leader)
	hello := filepath.Join("..", "..", "testdata", "hello.yaml")
	src, err := os.ReadFile(hello)
	if err != nil {
		t.Fatal(err)
	}
	req := &api.ScheduleRequest{Name: "tick", Every: "2s", JobStep: api.JobStep{Source: string(src), File: "hello.yaml"}}
	if err := cl.Schedules().Create(ctx, req); err != nil {
		t.Fatal(err)
	}
	s, err := cl.Schedules().Info(ctx, "tick")
	if err != nil {
		t.Fatal(err)
	}
	start := s.Created
	kills := 0
	for time.Since(start) < time.Minute {
		leader = c.leader("")
		c.agents[leader].kill()
		kills++
		newLeader := c.leader(leader)
		c.start(leader) // restart with its data directory
		c.agents[leader].waitStarted()
		t.Logf("kill %d: %s killed, %s leads, %s restarted (%s into the minute)", kills, leader, newLeader, leader, time.Since(start).Round(time.Second))
	}
	end := time.Now()
	survivor := c.leader("")
	cl = c.client(survivor)
	// Let the last ticks of the minute fire.
	waitFor(t, "the ticks of the minute", 90*time.Second, func() (bool, string) {
		s, err := cl.Consistent().Schedules().Info(ctx, "tick")
		if err != nil {
			return false, err.Error()
		}
		return s.LastTick != nil && s.LastTick.After(end), fmt.Sprint(s.LastTick)
	})
	runs := allRuns(t, cl, "tick")
	byTick := map[time.Time][]api.Run{}
	execs := map[uint64]bool{}
	for _, r := range runs {
		byTick[r.Tick.UTC()] = append(byTick[r.Tick.UTC()], r)
		if len(r.Steps) != 1 || r.Steps[0].Execution == 0 || execs[r.Steps[0].Execution] {
			t.Fatalf("run %d: steps %+v", r.ID, r.Steps)
		}
		execs[r.Steps[0].Execution] = true
	}
	ticks := every2s(start.Add(time.Nanosecond), end)
	for _, tk := range ticks {
		if n := len(byTick[tk]); n != 1 {
			t.Errorf("tick %s: %d runs", tk.Format("15:04:05"), n)
		}
	}
	// Every execution of the schedule belongs to one run: none was
	// created twice.
	list, err := cl.Consistent().Executions().List(ctx, &api.ListOptions{Limit: 10_000})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range list {
		if e.Caller == "schedule:tick" {
			n++
			if !execs[e.ID] {
				t.Errorf("execution %d of the schedule belongs to no run", e.ID)
			}
		}
	}
	if n != len(runs) {
		t.Errorf("%d executions of the schedule, %d runs", n, len(runs))
	}
	t.Logf("%d kills of the leader in %s; %d ticks, each exactly one execution", kills, end.Sub(start).Round(time.Second), len(ticks))
	if t.Failed() {
		return
	}
	testCatchUp(t, c)
}

// testCatchUp stops the whole cluster for more than 10 ticks of three
// schedules every 2 s (grace 2 s) and checks each policy on the ticks the
// downtime missed: skip runs none, once the latest, all:4 the latest 4.
func testCatchUp(t *testing.T, c *schedCluster) {
	ctx := context.Background()
	cl := c.client(c.leader(""))
	if err := cl.Schedules().Pause(ctx, "tick"); err != nil {
		t.Fatal(err)
	}
	policies := map[string]string{"cu-skip": "skip", "cu-once": "once", "cu-all": "all:4"}
	want := map[string]int{"cu-skip": 0, "cu-once": 1, "cu-all": 4}
	for name, p := range policies {
		req := &api.ScheduleRequest{Name: name, Every: "2s", Grace: "2s", CatchUp: p,
			JobStep: api.JobStep{Source: "name: noop\ntasks:\n  - name: t\n    exec:\n      command: [/bin/true]\n"}}
		if err := cl.Schedules().Create(ctx, req); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "two fires of each schedule", 30*time.Second, func() (bool, string) {
		for name := range policies {
			s, err := cl.Schedules().Info(ctx, name)
			if err != nil || s.Fires < 2 {
				return false, fmt.Sprint(name, s, err)
			}
		}
		return true, ""
	})
	for _, n := range serverNames {
		c.agents[n].kill()
	}
	down := time.Now()
	// The downtime is the scenario itself (ticks missed while nothing
	// runs), not a wait for a condition.
	<-time.After(22 * time.Second)
	for _, n := range serverNames {
		c.start(n)
	}
	for _, n := range serverNames {
		c.agents[n].waitStarted()
	}
	t.Logf("cluster down for %s", time.Since(down).Round(time.Second))
	cl = c.client(c.leader(""))
	waitFor(t, "fires after the restart", 60*time.Second, func() (bool, string) {
		for name := range policies {
			s, err := cl.Consistent().Schedules().Info(ctx, name)
			if err != nil || s.LastTick == nil || time.Since(*s.LastTick) > 10*time.Second {
				return false, fmt.Sprint(name, s, err)
			}
		}
		return true, ""
	})
	grace := 2 * time.Second
	for name := range policies {
		runs := allRuns(t, cl, name)
		sort.Slice(runs, func(i, j int) bool { return runs[i].Tick.Before(runs[j].Tick) })
		// Runs before the stop; after it, the first run fired within the
		// grace of its tick (the first pass of the new leader always has
		// one: the grace is one interval); the runs between them are the
		// catch-up runs. Later runs are ignored (on a loaded machine a
		// later pass may be slow enough to miss a tick of its own).
		var before, late, onTime []time.Time
		for _, r := range runs {
			switch {
			case r.Tick.Before(down):
				before = append(before, r.Tick)
			case len(onTime) > 0:
			case r.Created.Sub(r.Tick) > grace: // fired later than the grace: a catch-up
				late = append(late, r.Tick)
			default:
				onTime = append(onTime, r.Tick)
			}
		}
		catchUp := late
		if len(before) == 0 || len(onTime) == 0 {
			t.Fatalf("%s: %d runs before the stop, %d on time after", name, len(before), len(onTime))
		}
		missed := every2s(before[len(before)-1].Add(time.Second), onTime[0].Add(-time.Second))
		if len(missed) < 10 {
			t.Fatalf("%s: only %d ticks missed", name, len(missed))
		}
		w := want[name]
		if len(catchUp) != w {
			t.Fatalf("%s: %d catch-up runs of %d missed ticks, want %d (%v)", name, len(catchUp), len(missed), w, catchUp)
		}
		for i, tk := range catchUp {
			if !tk.Equal(missed[len(missed)-w+i]) {
				t.Fatalf("%s: catch-up run %d is tick %s, want %s", name, i, tk, missed[len(missed)-w+i])
			}
		}
		s, _ := cl.Schedules().Info(ctx, name)
		if s.Missed < uint64(len(missed)-w) {
			t.Errorf("%s: missed counter %d, want at least %d", name, s.Missed, len(missed)-w)
		}
		t.Logf("%s: %d ticks missed, %d run late, then on time from %s", name, len(missed), w, onTime[0].Format("15:04:05"))
	}
}
