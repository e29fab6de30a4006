//go:build chaos && linux

package main

import (
	"context"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/scaleout/scaleout/api"
)

// TestChaos is the chaos suite (`make chaos`; not part of `make test`): for
// each scenario a fresh docker cluster of three servers (which run no
// executions) and two worker-only agents gets CHAOS_EXECUTIONS (10,000)
// executions of a mix of durations from four clients while the scenario's
// faults happen; then the history checker (chaos_history_test.go) reads the
// clients' log, the catalog and the stamps the package processes wrote, and
// the table goes to the log and to CHAOS_OUT. CHAOS_SCENARIOS picks
// scenarios by name (comma-separated).
func TestChaos(t *testing.T) {
	busybox := dockerUsable(t)
	n := 10000
	if v := os.Getenv("CHAOS_EXECUTIONS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			t.Fatalf("CHAOS_EXECUTIONS=%q: want a positive number", v)
		}
	}
	var rnd [4]byte
	for i := range rnd {
		rnd[i] = byte(mrand.IntN(256))
	}
	runID := fmt.Sprintf("%x", rnd)
	image := "scaleout-e2e:" + runID
	buildDockerImage(t, image, runID, busybox, nil)
	t.Cleanup(func() { removeDocker(t, "rmi", "-f", image) })

	want := map[string]bool{}
	for _, s := range strings.Split(os.Getenv("CHAOS_SCENARIOS"), ",") {
		if s = strings.TrimSpace(s); s != "" {
			want[s] = true
		}
	}
	var rows []chaosRow
	start := time.Now()
	for _, sc := range chaosScenarios() {
		if len(want) > 0 && !want[sc.name] {
			continue
		}
		t.Run(sc.name, func(t *testing.T) {
			row := runChaosScenario(t, image, sc, n)
			rows = append(rows, row)
			t.Logf("%s:\n%s", sc.name, chaosTable([]chaosRow{row}))
			for _, d := range row.Details {
				t.Log(d)
			}
			// "Ran after thaw" is not counted: a frozen container cannot
			// fence itself (docs/semantics.md); it is reported.
			bad := row.Lost + row.Duplicates + row.Unended + row.EndedTwice + row.Overlaps + row.EventsLost + row.EventsDup
			if sc.leaderOnly {
				bad += row.Reruns
			}
			if bad > 0 {
				t.Errorf("scenario %s broke an invariant (see the table and the violations above)", sc.name)
			}
		})
	}
	table := chaosTable(rows)
	t.Logf("chaos suite, %d executions per scenario, %s:\n%s", n, time.Since(start).Round(time.Second), table)
	if out := os.Getenv("CHAOS_OUT"); out != "" {
		if err := os.WriteFile(out, []byte(table), 0o644); err != nil {
			t.Error(err)
		}
	}
}

// chaosScenario is a named fault schedule. fault runs while the clients
// submit (about chaosWindow); it records each fault with c.fault.
type chaosScenario struct {
	name       string
	run        map[string][]string // more docker run options per node
	leaderOnly bool                // only servers are hit: no completed attempt may run again
	fault      func(c *chaosCluster)
}

// chaosWindow is how long the clients take to submit everything.
const chaosWindow = 20 * time.Second

func chaosScenarios() []chaosScenario {
	return []chaosScenario{
		{name: "none", leaderOnly: true, fault: func(c *chaosCluster) {}},
		{name: "kill-leader", leaderOnly: true, fault: func(c *chaosCluster) {
			for i := 0; i < 3; i++ {
				c.sleep(4 * time.Second)
				l := c.leader()
				c.fault("kill -9 leader " + l)
				c.docker("kill", "--signal", "KILL", c.container(l))
				c.sleep(3 * time.Second)
				c.docker("start", c.container(l))
				c.waitLeader()
			}
		}},
		{name: "kill-worker", fault: func(c *chaosCluster) {
			for _, w := range []string{"w1", "w2"} {
				c.sleep(5 * time.Second)
				c.fault("kill -9 worker " + w)
				c.docker("kill", "--signal", "KILL", c.container(w))
				c.sleep(2 * time.Second)
				c.docker("start", c.container(w))
			}
		}},
		{name: "partition-leader", leaderOnly: true, fault: func(c *chaosCluster) {
			c.sleep(5 * time.Second)
			l := c.leader()
			c.fault("partition leader " + l)
			c.docker("network", "disconnect", c.dc.net, c.container(l))
			c.sleep(5 * time.Second)
			c.dumpGoroutines("partition+5s")
			c.sleep(5 * time.Second)
			c.docker("network", "connect", "--ip", c.dc.node(l).ip, c.dc.net, c.container(l))
		}},
		{name: "pause-worker", fault: func(c *chaosCluster) {
			c.sleep(5 * time.Second)
			c.fault("docker pause w1 for 15 s, longer than the lease")
			c.pause("w1", 15*time.Second)
		}},
		{name: "pause-leader", leaderOnly: true, fault: func(c *chaosCluster) {
			c.sleep(5 * time.Second)
			l := c.leader()
			c.fault("docker pause leader " + l)
			c.pause(l, 8*time.Second)
		}},
		// The tmpfs belongs to the image's user (uid 10001, Dockerfile).
		{name: "disk-full", leaderOnly: true, run: map[string][]string{"s3": {"--tmpfs", "/data:size=5m,uid=10001,gid=10001,mode=0700"}},
			fault: func(c *chaosCluster) {
				c.fault("s3's data dir is a 5 MB tmpfs that fills up")
				c.sleep(chaosWindow)
			}},
		{name: "restart-all-servers", leaderOnly: true, fault: func(c *chaosCluster) {
			c.sleep(6 * time.Second)
			c.fault("kill -9 of s1, s2, s3 at once, then start")
			c.docker("kill", "--signal", "KILL", c.container("s1"), c.container("s2"), c.container("s3"))
			c.sleep(2 * time.Second)
			c.docker("start", c.container("s1"), c.container("s2"), c.container("s3"))
			c.waitLeader()
		}},
		{name: "rolling-restart", leaderOnly: true, fault: func(c *chaosCluster) {
			for _, s := range []string{"s1", "s2", "s3"} {
				c.sleep(3 * time.Second)
				c.fault("restart (SIGTERM) of " + s)
				c.docker("restart", "--time", "20", c.container(s))
				c.waitLeader()
				c.waitAlive(5)
			}
		}},
	}
}

// chaosCluster is a docker cluster under a scenario.
type chaosCluster struct {
	t       *testing.T
	logDir  string // CHAOS_LOGS/<scenario>, or ""
	dc      *dockerCluster
	mu      sync.Mutex
	faults  []chaosFault
	freezes []chaosFreeze
}

type chaosFault struct {
	at   time.Time
	what string
}

func (c *chaosCluster) fault(what string) {
	c.mu.Lock()
	c.faults = append(c.faults, chaosFault{time.Now(), what})
	c.mu.Unlock()
	c.t.Logf("fault at %s: %s", time.Now().Format("15:04:05.000"), what)
}

func (c *chaosCluster) sleep(d time.Duration) { time.Sleep(d) } // the fault schedule's own pace, not a wait for a condition

// pause freezes node's container for d (docker pause) and records when it
// was certainly frozen, in the stamps' clock, for the history checker.
func (c *chaosCluster) pause(node string, d time.Duration) {
	c.docker("pause", c.container(node))
	from := chaosUptime(c.t)
	c.sleep(d)
	to := chaosUptime(c.t)
	c.docker("unpause", c.container(node))
	c.mu.Lock()
	c.freezes = append(c.freezes, chaosFreeze{host: node, from: from, to: to})
	c.mu.Unlock()
}

// chaosUptime reads the kernel's uptime clock, which the containers' stamps
// use too.
func chaosUptime(t *testing.T) float64 {
	b, err := os.ReadFile("/proc/uptime")
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		t.Fatalf("/proc/uptime: %q", b)
	}
	u, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func (c *chaosCluster) container(name string) string { return c.dc.node(name).container }

// docker runs a docker command of the fault schedule; a failure is logged
// (the suite is about what the cluster does, and a failed fault shows in
// the log next to the table).
func (c *chaosCluster) docker(args ...string) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if _, err := docker(ctx, nil, args...); err != nil {
		c.t.Logf("fault step failed: %v", err)
	}
}

// dumpGoroutines saves every reachable agent's goroutines to the log dir
// (with CHAOS_LOGS), to see where a stall waits.
func (c *chaosCluster) dumpGoroutines(label string) {
	if c.logDir == "" {
		return
	}
	for _, name := range c.dc.order {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+c.dc.node(name).ip+":8391/debug/pprof/goroutine?debug=2", nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			_ = os.WriteFile(filepath.Join(c.logDir, name+"-"+label+".goroutines"), b, 0o644)
		}
		cancel()
	}
}

// leader asks the agents in turn for the leader's node name.
func (c *chaosCluster) leader() string {
	var l string
	waitFor(c.t, "a leader", 60*time.Second, func() (bool, string) {
		for _, name := range c.dc.order {
			if v := c.dc.membersSeenBy(name); v.err == nil && v.leader != "" {
				l = v.leader
				return true, ""
			}
		}
		return false, "no agent names a leader"
	})
	return l
}

func (c *chaosCluster) waitLeader() { c.leader() }

// waitAlive waits until some agent sees n alive members.
func (c *chaosCluster) waitAlive(n int) {
	waitFor(c.t, fmt.Sprintf("%d alive members", n), 60*time.Second, func() (bool, string) {
		views, seen := c.dc.membersSeenByAll()
		for _, v := range views {
			if v.err == nil && len(v.alive) >= n {
				return true, ""
			}
		}
		return false, seen
	})
}

// anyClient returns the client of a random agent.
func (c *chaosCluster) anyClient() *api.Client {
	return c.dc.node(c.dc.order[mrand.IntN(len(c.dc.order))]).client
}

// chaosTick is a FIFO in the stamps directory that nothing writes to: the
// package waits its 0.2 s beats with `read -t 0.2` on it (busybox's read
// takes fractions), so that a beat costs no process.
const chaosTick = ".tick"

// chaosPackage heartbeats into /stamps/$HOSTNAME (start, a beat every
// 0.2 s for `beats` beats, end of the work: see chaosStamp) and then prints
// its chaosLines output lines. It runs one process: the shell.
const chaosPackage = `name: chaos
parameters:
  tag:   {type: string}
  beats: {type: int, default: 0}
tasks:
  - name: work
    exec:
      command: [/bin/sh, -c, 's() { read u _ < /proc/uptime; echo "$1 $SCALEOUT_EXECUTION_ID $SCALEOUT_ATTEMPT $u $HOSTNAME" >> /stamps/$HOSTNAME; }; s S; exec 3<>/stamps/.tick; i=0; while [ $i -lt ${param.beats} ]; do read -t 0.2 _ <&3; s B; i=$((i+1)); done; s E; echo "out ${param.tag} 1"; echo "out ${param.tag} 2"; echo "out ${param.tag} 3"']
`

// chaosBeats draws a duration: half instant, 30 % 0.4 s, 15 % 1.4 s, 5 % 3 s.
func chaosBeats() int {
	switch r := mrand.IntN(100); {
	case r < 50:
		return 0
	case r < 80:
		return 2
	case r < 95:
		return 7
	default:
		return 15
	}
}

func runChaosScenario(t *testing.T, image string, sc chaosScenario, n int) chaosRow {
	stamps := t.TempDir()
	if err := os.Chmod(stamps, 0o777); err != nil {
		t.Fatal(err)
	}
	// The package's beats wait on a FIFO nobody writes to (read -t, a shell
	// builtin) rather than run sleep: one process per execution, not four.
	if err := syscall.Mkfifo(filepath.Join(stamps, chaosTick), 0o666); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(stamps, chaosTick), 0o666); err != nil {
		t.Fatal(err)
	}
	run := map[string][]string{}
	for _, name := range []string{"s1", "s2", "s3", "w1", "w2"} {
		run[name] = append([]string{"-v", stamps + ":/stamps"}, sc.run[name]...)
	}
	c := &chaosCluster{t: t}
	dc := startDockerClusterWith(t, dockerOptions{logDir: chaosLogDir(t, sc.name), image: image, workers: []string{"w1", "w2"}, maxTasks: 60, run: run,
		lease: 10 * time.Second, beat: 2 * time.Second, // the defaults, as a user runs it
		agent: []string{"--enable-debug"}})
	c.logDir = chaosLogDir(t, sc.name)
	c.dc = dc
	waitFor(t, "5 alive members, a leader, 5 workers registered", 60*time.Second, func() (bool, string) {
		views, seen := dc.membersSeenByAll()
		for _, v := range views {
			if v.err != nil || len(v.alive) != 5 || v.leader == "" {
				return false, seen
			}
		}
		ctx, cancel := bg()
		defer cancel()
		ws, err := dc.node("w1").client.Workers().List(ctx)
		return err == nil && len(ws) == 5, fmt.Sprint(ws, err)
	})
	// The servers run no executions: a server fault is then only a fault of
	// the master, and a worker fault only of a worker.
	for _, s := range []string{"s1", "s2", "s3"} {
		ctx, cancel := bg()
		err := dc.node("w1").client.Workers().SetEnabled(ctx, s, false)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
	}

	const clients, bulk = 4, 25
	var (
		mu     sync.Mutex
		acks   []chaosAck
		probes []chaosProbe
	)
	loadStart := time.Now()
	var wg sync.WaitGroup
	bulks := (n + bulk - 1) / bulk
	pace := chaosWindow / time.Duration(max(bulks/clients, 1))
	for k := 0; k < clients; k++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			next := time.Now()
			for b := k; b < bulks; b += clients {
				var reqs []api.SubmitRequest
				for i := b * bulk; i < min((b+1)*bulk, n); i++ {
					tag := fmt.Sprintf("%s-%d", sc.name, i)
					reqs = append(reqs, api.SubmitRequest{Package: chaosPackage, Retries: 3, QueueOptions: api.QueueOptions{IdempotencyKey: tag},
						Params: map[string]string{"tag": tag, "beats": strconv.Itoa(chaosBeats())}})
				}
				ids := c.submitBulk(reqs)
				mu.Lock()
				for i, r := range reqs {
					var id uint64
					if ids != nil {
						id = ids[i]
					}
					acks = append(acks, chaosAck{tag: r.Params["tag"], id: id})
				}
				mu.Unlock()
				next = next.Add(pace)
				time.Sleep(time.Until(next)) // pacing of the load, not a wait for a condition
			}
		}()
	}
	// Probes: one quick execution every half second while the faults run,
	// to time the recovery.
	faultsDone := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-faultsDone:
				return
			case <-time.After(500 * time.Millisecond):
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				tag := fmt.Sprintf("%s-probe-%d", sc.name, i)
				at := time.Now()
				ids := c.submitBulk([]api.SubmitRequest{{Package: chaosPackage, Retries: 3, QueueOptions: api.QueueOptions{IdempotencyKey: tag},
					Params: map[string]string{"tag": tag}}})
				mu.Lock()
				defer mu.Unlock()
				var id uint64
				if ids != nil {
					id = ids[0]
				}
				acks = append(acks, chaosAck{tag: tag, id: id})
				probes = append(probes, chaosProbe{at: at, id: id})
			}()
		}
	}()
	sc.fault(c)
	time.Sleep(5 * time.Second) // probes after the last fault, for its recovery time
	close(faultsDone)
	wg.Wait()
	t.Logf("load and faults took %s", time.Since(loadStart).Round(time.Millisecond))

	// Every acknowledged execution ends.
	mu.Lock()
	all := slices.Clone(acks)
	mu.Unlock()
	execs := c.readAll(t, len(all))
	row := chaosRow{Scenario: sc.name}
	var stampList []chaosStamp
	files, _ := filepath.Glob(filepath.Join(stamps, "*"))
	for _, f := range files {
		if filepath.Base(f) == chaosTick {
			continue
		}
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		s, err := parseChaosStamps(fh)
		fh.Close()
		if err != nil {
			t.Fatal(err)
		}
		stampList = append(stampList, s...)
	}
	c.mu.Lock()
	freezes := slices.Clone(c.freezes)
	c.mu.Unlock()
	checkChaosHistory(&row, all, execs, stampList, freezes)
	row.Recovery = chaosRecovery(c.faults, probes, execs)
	return row
}

// chaosLogDir is CHAOS_LOGS/<scenario> (created), or "" when CHAOS_LOGS is
// unset: where the containers' whole logs go.
func chaosLogDir(t *testing.T, scenario string) string {
	root := os.Getenv("CHAOS_LOGS")
	if root == "" {
		return ""
	}
	dir := filepath.Join(root, scenario)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

type chaosProbe struct {
	at time.Time
	id uint64
}

// chaosRecovery is, for the fault after which it took longest, the time
// from the fault to the first end of a probe submitted after it: how long
// the cluster took to run new work again. (Probes go to random agents; one
// sent to a dead agent waits for its client's timeout, which measures the
// client, not the cluster, so the earliest end counts.)
func chaosRecovery(faults []chaosFault, probes []chaosProbe, execs []chaosExecution) time.Duration {
	ended := map[uint64]time.Time{}
	for _, e := range execs {
		if e.exec.EndedAt != nil && e.exec.Status == "succeeded" {
			ended[e.exec.ID] = *e.exec.EndedAt
		}
	}
	var worst time.Duration
	for _, f := range faults {
		var first time.Time
		for _, p := range probes {
			if end, ok := ended[p.id]; ok && !p.at.Before(f.at) && (first.IsZero() || end.Before(first)) {
				first = end
			}
		}
		if !first.IsZero() {
			worst = max(worst, first.Sub(f.at))
		}
	}
	return worst
}

// submitBulk submits reqs through random agents, retrying with the same
// idempotency keys for up to 90 s; nil when it gave up.
func (c *chaosCluster) submitBulk(reqs []api.SubmitRequest) []uint64 {
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		ids, err := c.anyClient().Executions().SubmitBulk(ctx, reqs)
		cancel()
		if err == nil && len(ids) == len(reqs) {
			return ids
		}
		if api.IsStatus(err, 400) || api.IsStatus(err, 422) {
			c.t.Errorf("submission refused: %v", err)
			return nil
		}
		time.Sleep(200 * time.Millisecond) // retry pace
	}
	return nil
}

// readAll waits until every execution has ended (or 8 minutes), then reads
// them all with their events through the leader.
func (c *chaosCluster) readAll(t *testing.T, want int) []chaosExecution {
	list := func() ([]api.Execution, error) {
		cl := c.dc.node(c.leader()).client
		var out []api.Execution
		var before uint64
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			page, err := cl.Executions().ListPage(ctx, &api.ListOptions{Limit: 5000, BeforeID: before})
			cancel()
			if err != nil {
				return nil, err
			}
			out = append(out, page.Executions...)
			if page.NextBefore == 0 {
				return out, nil
			}
			before = page.NextBefore
		}
	}
	var execs []api.Execution
	waitStart := time.Now()
	// Listing 10,000 executions costs the leader real work: once a second,
	// not at waitFor's 20 ms pace, which slowed the very drain it watched.
	first := true
	waitFor(t, "every execution to end", 8*time.Minute, func() (bool, string) {
		if !first {
			time.Sleep(time.Second) // the listing's pace
		}
		first = false
		var err error
		if execs, err = list(); err != nil {
			return false, err.Error()
		}
		open := 0
		for _, e := range execs {
			if !chaosTerminal[e.Status] {
				open++
			}
		}
		return open == 0, fmt.Sprintf("%d of %d executions not ended (%d submissions)", open, len(execs), want)
	})
	t.Logf("every execution ended %s after the load", time.Since(waitStart).Round(time.Millisecond))
	readStart := time.Now()
	defer func() {
		t.Logf("reading %d executions' events took %s", len(execs), time.Since(readStart).Round(time.Millisecond))
	}()
	out := make([]chaosExecution, len(execs))
	cl := c.dc.node(c.leader()).client
	var wg sync.WaitGroup
	work := make(chan int)
	for k := 0; k < 8; k++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				out[i].exec = execs[i]
				var after uint64
				for {
					ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
					r, err := cl.Executions().Events(ctx, execs[i].ID, after, 1000, 0)
					cancel()
					if err != nil {
						t.Errorf("events of %d: %v", execs[i].ID, err)
						break
					}
					out[i].events = append(out[i].events, r.Events...)
					if len(r.Events) == 0 || r.Next <= after {
						break
					}
					after = r.Next
				}
			}
		}()
	}
	for i := range execs {
		work <- i
	}
	close(work)
	wg.Wait()
	return out
}
