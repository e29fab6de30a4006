package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/scaleout/scaleout/api"
	"github.com/scaleout/scaleout/internal/lattrace"
)

// truePackage is what users run: one task that starts a program. Its only
// task runs /bin/true, so what an execution costs beyond the fork/exec of
// /bin/true itself is the cluster's.
const truePackage = `name: true
tasks:
  - name: true
    exec: {command: [/bin/true]}
`

// floorRuns is how many /bin/true processes the floor measurement starts.
const floorRuns = 1000

// execScenario measures the exec package: the fork/exec floor first (N
// starts of /bin/true from this Go program, one at a time and NumCPU at
// once), then idle latency one execution at a time, then throughput with
// the CPU per execution split into agents, their children (the package
// runtime) and the task processes, all in this run.
func (b *bench) execScenario(ctx context.Context) error {
	floor, err := b.forkFloor(ctx)
	if err != nil {
		return err
	}
	if err := b.execLatency(ctx); err != nil {
		return err
	}
	return b.execThroughput(ctx, floor)
}

// floorResult is the fork/exec floor: /bin/true started from Go.
type floorResult struct {
	rate     float64 // processes/s with NumCPU starting at once
	cpuPerMS float64 // CPU ms per process (parent and child)
}

// forkFloor starts /bin/true floorRuns times from this process with
// os/exec, NumCPU at a time, and reads the CPU it cost from /proc (this
// process's own time and its reaped children's).
func (b *bench) forkFloor(ctx context.Context) (floorResult, error) {
	run := func(conc int) (float64, float64, error) {
		c0, err := procCPU(os.Getpid())
		if err != nil {
			return 0, 0, err
		}
		var next atomic.Int64
		var firstErr error
		var once sync.Once
		var wg sync.WaitGroup
		t0 := time.Now()
		for range conc {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for ctx.Err() == nil && next.Add(1) <= floorRuns {
					if err := exec.Command("/bin/true").Run(); err != nil {
						once.Do(func() { firstErr = err })
						return
					}
				}
			}()
		}
		wg.Wait()
		el := time.Since(t0)
		if firstErr != nil {
			return 0, 0, fmt.Errorf("fork/exec /bin/true: %w", firstErr)
		}
		c1, err := procCPU(os.Getpid())
		if err != nil {
			return 0, 0, err
		}
		// This process's own time includes the bench's other goroutines,
		// which are idle now.
		cpu := (c1.total() - c0.total()).Seconds() * 1000 / floorRuns
		return floorRuns / el.Seconds(), cpu, nil
	}
	seqRate, seqCPU, err := run(1)
	if err != nil {
		return floorResult{}, err
	}
	n := runtime.NumCPU()
	rate, cpu, err := run(n)
	if err != nil {
		return floorResult{}, err
	}
	b.add(Row{Scenario: "exec", Metric: fmt.Sprintf("floor: fork/exec /bin/true from Go, %d at once", n), Value: rate, Unit: "processes/s",
		Note: fmt.Sprintf("%d starts with os/exec: %.3f CPU ms each (parent + child, from /proc); one at a time %.0f/s, %.3f CPU ms each", floorRuns, cpu, seqRate, seqCPU)})
	b.add(Row{Scenario: "exec", Metric: "floor: CPU per /bin/true start", Value: cpu, Unit: "ms"})
	return floorResult{rate: rate, cpuPerMS: cpu}, nil
}

// execLatency runs the exec package one execution at a time on the idle
// cluster.
func (b *bench) execLatency(ctx context.Context) error {
	const n, warmup = 100, 5
	c := b.clients[0]
	var toEnd []time.Duration
	for i := range n + warmup {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		t0 := time.Now()
		id, err := c.Executions().Submit(ctx, &api.SubmitRequest{Package: truePackage})
		if err != nil {
			return err
		}
		lattrace.StampAt(id, "b.t0", t0)
		lattrace.Stamp(id, "b.subret")
		e, err := waitOne(ctx, c, id, 30*time.Second)
		if err != nil {
			return err
		}
		if e.Status != api.StatusSucceeded || e.EndedAt == nil {
			return fmt.Errorf("execution %d ended %s: %s", id, e.Status, e.Message)
		}
		if i >= warmup {
			toEnd = append(toEnd, e.EndedAt.Sub(t0))
		}
	}
	slices.Sort(toEnd)
	p := func(q int) float64 { return float64(toEnd[min(len(toEnd)-1, len(toEnd)*q/100)]) / 1e6 }
	b.add(Row{Scenario: "exec", Metric: "idle: submission to end p50", Value: p(50), Unit: "ms",
		Note: fmt.Sprintf("%d executions of the /bin/true package one at a time after %d not counted; client clock before submit to the leader's end stamp", n, warmup)})
	b.add(Row{Scenario: "exec", Metric: "idle: submission to end p99", Value: p(99), Unit: "ms"})
	return nil
}

// execThroughput submits ExecExecutions executions of the exec package
// (bulk) and measures until the last has succeeded, with the CPU it cost.
func (b *bench) execThroughput(ctx context.Context, floor floorResult) error {
	n := b.o.ExecExecutions
	if n <= 0 {
		n = 3000
	}
	before, err := b.cpuSnapshot()
	if err != nil {
		return err
	}
	ok, el, _, entries, err := b.runMany(ctx, truePackage, n)
	if err != nil {
		return err
	}
	after, err := b.cpuSnapshot()
	if err != nil {
		return err
	}
	if ok != n {
		return fmt.Errorf("%d of %d exec executions succeeded", ok, n)
	}
	rate := float64(n) / el.Seconds()
	per := func(d time.Duration) float64 { return d.Seconds() * 1000 / float64(n) }
	b.add(Row{Scenario: "exec", Metric: fmt.Sprintf("throughput: /bin/true executions, submission to succeeded (%d)", n), Value: rate, Unit: "executions/s",
		Ratio: rate / floor.rate, Note: fmt.Sprintf("ratio = executions/s / fork-exec floor (%.0f/s); %d succeeded in %s; %.3f Raft entries per execution",
			floor.rate, ok, el.Round(time.Millisecond), entries)})
	if before == nil {
		b.logf("exec: CPU split skipped: no agent pids known")
		return nil
	}
	agents := after.agents - before.agents
	children := after.children - before.children
	tasks := after.tasks - before.tasks
	note := "from /proc: agents' own utime+stime; children = what the agents' child processes used (reaped: the agents' cutime+cstime; alive: their own times)"
	taskMS := per(tasks)
	if tasks <= 0 {
		// Children that ran one attempt and exited fold their tasks' time
		// into theirs: the split cannot be read, so the floor stands in.
		taskMS = min(floor.cpuPerMS, per(children))
		note += "; task processes not separable (children exited): floor's CPU per start used"
	}
	b.add(Row{Scenario: "exec", Metric: "CPU per execution, total", Value: per(agents + children), Unit: "ms",
		Ratio: per(agents+children) / floor.cpuPerMS, Note: "ratio = CPU per execution / floor CPU per /bin/true start; " + note})
	b.add(Row{Scenario: "exec", Metric: "CPU per execution, agents", Value: per(agents), Unit: "ms"})
	b.add(Row{Scenario: "exec", Metric: "CPU per execution, package runtime (children)", Value: per(children) - taskMS, Unit: "ms"})
	b.add(Row{Scenario: "exec", Metric: "CPU per execution, task process", Value: taskMS, Unit: "ms"})
	return nil
}

// cpuTimes is a process's CPU time from /proc/PID/stat.
type cpuTimes struct {
	own, reaped time.Duration // utime+stime, cutime+cstime
}

func (c cpuTimes) total() time.Duration { return c.own + c.reaped }

// clockTick is USER_HZ: /proc reports times in these units (100 on every
// Linux architecture Go supports).
const clockTick = 100

// procCPU reads utime, stime, cutime and cstime of pid.
func procCPU(pid int) (cpuTimes, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return cpuTimes{}, err
	}
	_, ppidOn, ok := procStatFields(string(raw))
	if !ok || len(ppidOn) < 14 {
		return cpuTimes{}, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	// Fields after the comm: state(3) ppid(4) ... utime(14) stime(15)
	// cutime(16) cstime(17); ppidOn starts at field 3.
	tick := func(i int) time.Duration {
		v, _ := strconv.ParseInt(ppidOn[i-3], 10, 64)
		return time.Duration(v) * time.Second / clockTick
	}
	return cpuTimes{own: tick(14) + tick(15), reaped: tick(16) + tick(17)}, nil
}

// procStatFields splits /proc/PID/stat after the parenthesised comm, which
// may hold spaces, and returns the ppid and the fields from state on.
func procStatFields(s string) (ppid int, fields []string, ok bool) {
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, nil, false
	}
	fields = strings.Fields(s[i+1:])
	if len(fields) < 2 {
		return 0, nil, false
	}
	ppid, err := strconv.Atoi(fields[1])
	return ppid, fields, err == nil
}

// cpuSplit is the CPU used so far by the agents, by their child processes
// (package runtimes) and by the children of those (task processes) where
// the children are still alive to say so.
type cpuSplit struct {
	agents, children, tasks time.Duration
}

// cpuSnapshot reads the CPU used so far by the agents this bench knows
// (nil without pids) and by their descendants: a child that ended is in
// its agent's cutime+cstime with everything it reaped; a child still
// alive (a waiting package runtime) is read directly, its own time as
// runtime and what it reaped as task processes.
func (b *bench) cpuSnapshot() (*cpuSplit, error) {
	if len(b.pids) == 0 {
		return nil, nil
	}
	agent := map[int]bool{}
	var s cpuSplit
	for _, pid := range b.pids {
		c, err := procCPU(pid)
		if err != nil {
			return nil, err
		}
		agent[pid] = true
		s.agents += c.own
		s.children += c.reaped
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, p := range procs {
		raw, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		ppid, _, ok := procStatFields(string(raw))
		if !ok || !agent[ppid] {
			continue
		}
		pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
		c, err := procCPU(pid)
		if err != nil {
			continue // ended meanwhile: its time moves to the agent's cutime
		}
		s.children += c.own + c.reaped
		s.tasks += c.reaped
	}
	return &s, nil
}
