package worker

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scaleout/scaleout/api"
	"github.com/scaleout/scaleout/cluster/clustertest/proctest"
)

// ppidTask is a package whose one task prints the pid of the package
// process that runs it ($PPID of the shell), then runs script.
func ppidTask(id uint64, script string) api.Task {
	return api.Task{ID: id, Attempt: 1, PackageName: "ppid", PackageFile: "ppid.yaml",
		Package: "name: ppid\ntasks:\n  - name: t\n    exec:\n      command: [/bin/sh, -c, 'echo runtime=$PPID; " + script + "']\n"}
}

// leaseInTurn leases tasks one at a time: the next once the previous has a
// result.
func leaseInTurn(f *fakeMaster, tasks []api.Task) func(int, api.PollRequest) (*api.PollResponse, int) {
	return leaseInTurnWhen(f, tasks, func() bool { return true })
}

// leaseInTurnWhen is leaseInTurn that also waits for ready before handing
// out each task after the first.
func leaseInTurnWhen(f *fakeMaster, tasks []api.Task, ready func() bool) func(int, api.PollRequest) (*api.PollResponse, int) {
	next := 0
	return func(_ int, req api.PollRequest) (*api.PollResponse, int) {
		if next < len(tasks) && len(req.Running) == 0 {
			if next == 0 || f.results[fmt.Sprintf("/v1/executions/%d/attempts/1/result", tasks[next-1].ID)].Status != "" && ready() {
				next++
				return &api.PollResponse{Tasks: []api.Task{tasks[next-1]}}, 200
			}
		}
		return nil, 200
	}
}

var runtimePID = regexp.MustCompile(`runtime=(\d+)`)

// sawRuntime reports whether evs hold a task's "runtime=PID" line.
func sawRuntime(evs []api.Event) bool {
	for _, ev := range evs {
		if runtimePID.MatchString(ev.Message) {
			return true
		}
	}
	return false
}

// runtimePIDs returns the pids of the package processes the tasks that
// reached f ran in, from their "runtime=PID" lines, in order.
func runtimePIDs(f *fakeMaster) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var pids []string
	for _, ev := range f.events {
		if m := runtimePID.FindStringSubmatch(ev.Message); m != nil {
			pids = append(pids, m[1])
		}
	}
	return pids
}

// runPPID has f lease ppidTask(id, "true") and returns its result once it
// is in.
func runPPID(t *testing.T, f *fakeMaster, id uint64) api.ResultReport {
	t.Helper()
	f.mu.Lock()
	f.answer = leaseInTurn(f, []api.Task{ppidTask(id, "true")})
	f.mu.Unlock()
	waitFor(t, "the result", func() bool { _, ok := f.result(id, 1); return ok })
	r, _ := f.result(id, 1)
	return r
}

// waitResultLine waits until the child running a has written its result
// line.
func waitResultLine(t *testing.T, a *attempt) {
	t.Helper()
	waitFor(t, "the result line", func() bool {
		select {
		case <-a.gotResult:
			return true
		default:
			return false
		}
	})
}

// poolWait is how long runtimesWhen holds the next lease back for a package
// process to wait in the pool before it gives up and leases anyway.
const poolWait = 10 * time.Second

// runtimes runs tasks one after another on a fresh worker and returns the
// pid of the package process each ran in, the results, and every event the
// master got.
func runtimes(t *testing.T, tasks []api.Task, opts ...func(*Config)) ([]string, []api.ResultReport, []api.Event) {
	return runtimesWhen(t, tasks, nil, opts...)
}

// runtimesWhen is runtimes that, when pooled is set, hands out each task
// after the first only once a package process waits in the pool: a child
// reports its result before it says it is ready again, and on a loaded
// machine the next lease could otherwise come first and start a new one.
// If none waits there within poolWait of the previous result (reuse is
// broken), it leases the next task anyway: the task runs in a new process
// and the caller's check of the pids fails naming them, where waiting on
// would only time out on the next result.
func runtimesWhen(t *testing.T, tasks []api.Task, pooled *bool, opts ...func(*Config)) ([]string, []api.ResultReport, []api.Event) {
	t.Helper()
	f := &fakeMaster{}
	var w *Worker
	var wmu sync.Mutex
	var waiting time.Time // since when the next lease waits for a pooled process
	ready := func() bool {
		if pooled == nil || !*pooled {
			return true
		}
		wmu.Lock()
		defer wmu.Unlock()
		if w == nil {
			return false
		}
		w.pool.mu.Lock()
		idle := len(w.pool.idle)
		w.pool.mu.Unlock()
		if waiting.IsZero() {
			waiting = time.Now()
		}
		if idle == 0 && time.Since(waiting) < poolWait {
			return false
		}
		if idle == 0 {
			t.Logf("no package process waits in the pool %s after a clean run: leasing the next task anyway", poolWait)
		}
		waiting = time.Time{}
		return true
	}
	f.answer = leaseInTurnWhen(f, tasks, ready)
	started := startWorker(t, f, 5*time.Second, append([]func(*Config){func(c *Config) { c.MaxTasks = 1; c.WarmChildren = 0 }}, opts...)...)
	wmu.Lock()
	w = started
	wmu.Unlock()
	var results []api.ResultReport
	for _, task := range tasks {
		waitFor(t, fmt.Sprintf("the result of %d", task.ID), func() bool { _, ok := f.result(task.ID, 1); return ok })
		r, _ := f.result(task.ID, 1)
		results = append(results, r)
	}
	pids := runtimePIDs(f)
	if len(pids) != len(tasks) {
		t.Fatalf("runtime pids %v for %d tasks", pids, len(tasks))
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return pids, results, slices.Clone(f.events)
}

// TestPool_ReusesACleanChild: successive attempts run in the same package
// process when each run ends cleanly (succeeded or failed alike), and in a
// new one each when reuse is off.
func TestPool_ReusesACleanChild(t *testing.T) {
	tasks := []api.Task{ppidTask(1, "true"), ppidTask(2, "exit 3"), ppidTask(3, "true")}
	pooled := true
	pids, res, _ := runtimesWhen(t, tasks, &pooled)
	if pids[0] != pids[1] || pids[1] != pids[2] {
		t.Fatalf("clean runs did not share a package process: %v", pids)
	}
	if res[0].Status != api.StatusSucceeded || res[1].Status != api.StatusFailed || res[2].Status != api.StatusSucceeded {
		t.Fatalf("results %+v", res)
	}

	pids, _, _ = runtimes(t, tasks, func(c *Config) { c.ReuseChildren = false })
	if pids[0] == pids[1] || pids[1] == pids[2] || pids[0] == pids[2] {
		t.Fatalf("with reuse off, runs shared a package process: %v", pids)
	}
}

// TestPool_OrphansEndWithTheRun: a process a run leaves behind outside its
// task's process group (setsid: an orphan the child inherits as
// subreaper) is killed when the run ends, with a warning event; the child
// is then clean again. (Before the child killed such orphans, they
// outlived it and made it unfit for reuse.)
func TestPool_OrphansEndWithTheRun(t *testing.T) {
	m := marker()
	t.Cleanup(func() { proctest.KillMarked("sleep " + m) })
	tasks := []api.Task{ppidTask(1, "setsid sleep "+m+" >/dev/null 2>&1 & sleep 0.2"), ppidTask(2, "true")}
	_, res, events := runtimes(t, tasks)
	if res[0].Status != api.StatusSucceeded || res[1].Status != api.StatusSucceeded {
		t.Fatalf("results %+v", res)
	}
	if processRunning(m) {
		t.Fatal("the setsid orphan outlived its run")
	}
	warned := false
	for _, ev := range events {
		warned = warned || (ev.Type == "warning" && strings.Contains(ev.Message, "killed 1 process(es) the tasks left running"))
	}
	if !warned {
		t.Fatalf("no warning about the killed orphan in %+v", events)
	}
}

// TestPool_StoppedChildIsNotReused: a stopped attempt's package process is
// killed with its tasks; the next attempt runs in a new one.
func TestPool_StoppedChildIsNotReused(t *testing.T) {
	m := marker()
	f := &fakeMaster{}
	var mu sync.Mutex
	n := 0
	f.answer = func(_ int, req api.PollRequest) (*api.PollResponse, int) {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case n == 0:
			n++
			return &api.PollResponse{Tasks: []api.Task{ppidTask(1, "sleep "+m)}}, 200
		case n == 1 && len(req.Running) == 1 && !req.Running[0].Stopping && processRunning(m) && sawRuntime(f.events):
			// (f.mu is held here.) Stop once the task has run and its
			// runtime's pid has reached the master: a stop under load may
			// otherwise end the task before its output line is read.
			n++
			return &api.PollResponse{Stop: []api.AttemptRef{{ID: 1, Attempt: 1}}}, 200
		case n == 2 && f.results["/v1/executions/1/attempts/1/result"].Status != "":
			n++
			return &api.PollResponse{Tasks: []api.Task{ppidTask(2, "true")}}, 200
		}
		return nil, 200
	}
	startWorker(t, f, 5*time.Second, func(c *Config) { c.MaxTasks = 1; c.WarmChildren = 0 })
	waitFor(t, "the second result", func() bool { _, ok := f.result(2, 1); return ok })
	if r, _ := f.result(1, 1); r.Status != api.StatusCanceled {
		t.Fatalf("stopped attempt: %+v", r)
	}
	waitFor(t, "the stopped task to be gone", func() bool { return !processRunning(m) })
	if pids := runtimePIDs(f); len(pids) != 2 || pids[0] == pids[1] {
		t.Fatalf("runtime pids %v: the attempt after a stop must get a new package process", pids)
	}
}

// warmWorker starts a worker (2 slots, 1 warm child) whose master leases
// nothing yet, and returns its master and the warm child once it waits.
func warmWorker(t *testing.T) (*fakeMaster, *child) {
	f := &fakeMaster{}
	f.answer = func(int, api.PollRequest) (*api.PollResponse, int) { return nil, 200 }
	w := startWorker(t, f, 5*time.Second, func(c *Config) { c.MaxTasks = 2; c.WarmChildren = 1 })
	var warm *child
	waitFor(t, "a waiting package process", func() bool {
		w.pool.mu.Lock()
		defer w.pool.mu.Unlock()
		if len(w.pool.idle) == 1 {
			warm = w.pool.idle[0]
		}
		return warm != nil
	})
	return f, warm
}

// TestPool_WarmChildWaits: with WarmChildren 1 a package process is started
// before any attempt comes, and the first attempt runs in it.
func TestPool_WarmChildWaits(t *testing.T) {
	f, warmChild := warmWorker(t)
	warm := fmt.Sprint(warmChild.cmd.Process.Pid)
	runPPID(t, f, 7)
	for _, pid := range runtimePIDs(f) {
		if pid != warm {
			t.Fatalf("first attempt ran in %s, not in the waiting package process %s", pid, warm)
		}
	}
}

// TestPool_DeadWaitingChildIsReplaced: a waiting package process killed
// from outside costs its next attempt nothing: the attempt runs in another
// one and succeeds (whether the worker noticed the death before handing
// the job over or only after the child died without a word for it).
func TestPool_DeadWaitingChildIsReplaced(t *testing.T) {
	f, warm := warmWorker(t)
	warm.jobs = 1 // as if it had run an attempt: only then may a job move on
	if err := warm.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	if r := runPPID(t, f, 8); r.Status != api.StatusSucceeded {
		t.Fatalf("attempt after the waiting process died: %+v", r)
	}
}

// TestPool_SilentDeathOfAReusedChildMovesTheJob drives hand directly: the
// job goes to a reused child that dies before writing anything for it, and
// the attempt is given to a new child instead of failing.
func TestPool_SilentDeathOfAReusedChildMovesTheJob(t *testing.T) {
	f := &fakeMaster{}
	f.answer = func(int, api.PollRequest) (*api.PollResponse, int) { return nil, 200 }
	w := startWorker(t, f, 5*time.Second, func(c *Config) { c.MaxTasks = 2; c.WarmChildren = 0 })
	// A stand-in child that says it is ready and exits without a word when
	// a job comes.
	cmd := w.cfg.Command
	w.cfg.Command = []string{"/bin/sh", "-c", `echo '{"ready":{"pid":1}}'; read job; exit 0`}
	doomed, err := w.pool.start(nil)
	w.cfg.Command = cmd
	if err != nil {
		t.Fatal(err)
	}
	doomed.jobs = 1
	w.pool.mu.Lock()
	w.pool.idle = append(w.pool.idle, doomed)
	w.pool.mu.Unlock()
	a := newAttempt(w, ppidTask(9, "true"))
	job := &Job{Task: a.task, WorkDir: t.TempDir(), KillGraceMS: 500}
	ch, err := a.hand(job, w.logger)
	if err != nil {
		t.Fatal(err)
	}
	if ch == doomed {
		t.Fatal("the job stayed with the dead child")
	}
	waitResultLine(t, a)
	if a.result.Status != "succeeded" {
		t.Fatalf("result %+v", a.result)
	}
}

// TestPool_StderrBeforeTheFirstEvent: a child that writes to stderr (a Go
// runtime trace, a warning) before its first event still has its attempt
// followed to the result; the stderr line becomes an error event.
func TestPool_StderrBeforeTheFirstEvent(t *testing.T) {
	f := &fakeMaster{}
	f.answer = func(int, api.PollRequest) (*api.PollResponse, int) { return nil, 200 }
	w := startWorker(t, f, 5*time.Second, func(c *Config) { c.MaxTasks = 2; c.WarmChildren = 0 })
	cmd := w.cfg.Command
	w.cfg.Command = []string{"/bin/sh", "-c", `echo '{"ready":{"pid":1}}'; read job; echo 'gc 1 @0.1s' >&2; sleep 0.2; ` +
		`echo '{"event":{"type":"information","message":"hi"}}'; echo '{"result":{"status":"succeeded"}}'; read next`}
	c, err := w.pool.start(nil)
	w.cfg.Command = cmd
	if err != nil {
		t.Fatal(err)
	}
	w.pool.mu.Lock()
	w.pool.idle = append(w.pool.idle, c)
	w.pool.mu.Unlock()
	a := newAttempt(w, ppidTask(11, "true"))
	handed := make(chan error, 1)
	go func() {
		_, err := a.hand(&Job{Task: a.task, WorkDir: t.TempDir(), KillGraceMS: 500}, w.logger)
		handed <- err
	}()
	waitFor(t, "the job to be handed over", func() bool {
		select {
		case err := <-handed:
			if err != nil {
				t.Fatal(err)
			}
			return true
		default:
			return false
		}
	})
	waitResultLine(t, a)
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.result.Status != "succeeded" || len(a.buf) != 2 || !strings.Contains(a.buf[0].Message, "gc 1") {
		t.Fatalf("result %+v, events %+v", a.result, a.buf)
	}
	c.killTree()
}
