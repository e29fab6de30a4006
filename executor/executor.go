package executor

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/scaleout/scaleout/catalog/pkgspec"
)

// Masked replaces the value of a sensitive parameter wherever the executor
// would otherwise show it.
const Masked = "******"

// Event types, the values of Event.Type.
const (
	// EventPreExecute reports that a task started.
	EventPreExecute = "pre_execute"
	// EventPostExecute reports that a task ended, or was skipped. Its
	// message starts with "succeeded", "failed", "canceled" or "skipped",
	// for example "succeeded in 12ms", "failed: exit status 3 in 5ms",
	// "canceled after 2.001s" or `skipped: dependency "a" failed`.
	EventPostExecute = "post_execute"
	// EventStdout carries one line of a task's standard output.
	EventStdout = "stdout"
	// EventStderr carries one line of a task's standard error.
	EventStderr = "stderr"
	// EventInformation reports progress worth showing.
	EventInformation = "information"
	// EventError reports something that went wrong.
	EventError = "error"
	// EventTaskFailed reports that a task failed, and why, just before its
	// post_execute event.
	EventTaskFailed = "task_failed"
)

// MaxMessage is the largest Message of an output event, in bytes. Longer
// lines are split into several events.
const MaxMessage = 64 << 10

// Event is one thing that happened while running a package.
type Event struct {
	Time    time.Time `json:"time"`
	Type    string    `json:"type"`
	Task    string    `json:"task,omitempty"`
	Message string    `json:"message"`
}

// Sink receives events. Emit must be safe for concurrent use. A task's
// pre_execute comes first and its post_execute last; its stdout lines come
// in order, and so do its stderr lines, but the two streams interleave
// freely. Emit should not block for long, since a task's
// output is not read while its events are being emitted.
type Sink interface {
	Emit(Event)
}

// SinkFunc adapts a function to Sink.
type SinkFunc func(Event)

// Emit calls f(e).
func (f SinkFunc) Emit(e Event) { f(e) }

// Status is the outcome of running a package.
type Status string

// Package outcomes.
const (
	// StatusSucceeded means every task succeeded.
	StatusSucceeded Status = "succeeded"
	// StatusFailed means a task failed, or the package or its parameters
	// were invalid.
	StatusFailed Status = "failed"
	// StatusCanceled means the context was canceled before all tasks
	// ended.
	StatusCanceled Status = "canceled"
)

// Result is the outcome of Run.
type Result struct {
	Status  Status
	Message string
}

// Options tunes Run. The zero value is ready to use.
type Options struct {
	// WorkDir is the default working directory of exec tasks and the base
	// of relative task directories. Empty means the current directory.
	WorkDir string
	// KillGrace is how long a canceled task's process group has between
	// SIGTERM and SIGKILL. Zero means 2s; negative means no grace.
	KillGrace time.Duration
	// MaxParallel caps the number of tasks running at once. Zero or
	// negative means runtime.NumCPU()+2.
	MaxParallel int
	// OnProcess, if set, is called with a task's process group ID when the
	// task process has started (running true) and again once it has been
	// reaped and the rest of its group killed (running false), so that the
	// caller can kill groups left behind if it crashes. It is called from
	// several goroutines at once.
	OnProcess func(pgid int, running bool)
	// ProjectDir is the directory the attempt's project archive was
	// extracted to (catalog executions); empty for inline packages.
	ProjectDir string
	// Env is the base environment of tasks, as "KEY=value" strings; a
	// task's env entries override it. Nil means os.Environ().
	Env []string
}

// DefaultKillGrace is the KillGrace used when Options.KillGrace is zero.
const DefaultKillGrace = 2 * time.Second

func (o Options) withDefaults() Options {
	switch {
	case o.KillGrace == 0:
		o.KillGrace = DefaultKillGrace
	case o.KillGrace < 0:
		o.KillGrace = 0
	}
	if o.MaxParallel <= 0 {
		o.MaxParallel = runtime.NumCPU() + 2
	}
	if o.Env == nil {
		o.Env = os.Environ()
	}
	return o
}

// taskState is where one task is in its life.
type taskState int

const (
	statePending taskState = iota
	stateRunning
	stateSucceeded
	stateFailed
	stateSkipped
	stateCanceled
)

// outcome is how one task ended.
type outcome struct {
	task  *pkgspec.Task
	state taskState
	msg   string // failure reason
}

// runner holds the state of one Run call shared by its tasks.
type runner struct {
	pkg    *pkgspec.Package
	opts   Options
	sink   Sink
	values map[string]string // resolved parameter values
	shown  map[string]string // values with sensitive ones masked, for messages
	// drainTimeout is the package constant, shortened by tests.
	drainTimeout time.Duration
}

func (r *runner) emit(typ, task, msg string) {
	r.sink.Emit(Event{Time: time.Now().UTC(), Type: typ, Task: task, Message: msg})
}

// Run runs pkg, which should come from pkgspec.Parse, and reports progress
// to sink, which may be nil. params are the values given for this run; Run
// checks them and fills in defaults with pkgspec.Package.ResolveParams. Tasks without "after" start at once, bounded by opts.MaxParallel; a
// task starts when every task in its "after" list has succeeded, and is
// skipped if one of them failed or was skipped. A failed task fails the
// package but does not stop independent tasks.
//
// Canceling ctx terminates the running tasks (see Options.KillGrace),
// starts no further task, and makes the result StatusCanceled. Run returns
// only after every task process has been reaped.
func Run(ctx context.Context, pkg *pkgspec.Package, params map[string]string, opts Options, sink Sink) Result {
	return run(ctx, pkg, params, opts, sink, drainTimeout)
}

func run(ctx context.Context, pkg *pkgspec.Package, params map[string]string, opts Options, sink Sink, drain time.Duration) Result {
	start := time.Now()
	if sink == nil {
		sink = SinkFunc(func(Event) {})
	}
	r := &runner{pkg: pkg, opts: opts.withDefaults(), sink: sink, drainTimeout: drain}
	if pkg == nil {
		r.emit(EventError, "", "no package to run")
		return Result{Status: StatusFailed, Message: "no package to run"}
	}
	if err := checkGraph(pkg); err != nil {
		msg := "invalid package: " + err.Error()
		r.emit(EventError, "", msg)
		return Result{Status: StatusFailed, Message: msg}
	}
	values, err := pkg.ResolveParams(params)
	if err != nil {
		msg := "invalid parameters: " + strings.ReplaceAll(err.Error(), "\n", "; ")
		r.emit(EventError, "", msg)
		return Result{Status: StatusFailed, Message: msg}
	}
	r.values = values
	r.shown = make(map[string]string, len(values))
	for name, v := range values {
		if p := pkg.Param(name); p != nil && p.Sensitive {
			v = Masked
		}
		r.shown[name] = v
	}
	r.emit(EventInformation, "", fmt.Sprintf("package %q started: %s", pkg.Name, plural(len(pkg.Tasks), "task")))
	res := r.schedule(ctx)
	r.emit(EventInformation, "", fmt.Sprintf("package %q %s in %s: %s", pkg.Name, res.Status, roundDuration(time.Since(start)), res.Message))
	return res
}

// checkGraph rejects task graphs Run cannot schedule: duplicate names,
// unknown "after" names and cycles. pkgspec.Parse never returns such a
// package, but a Package can be built by hand.
func checkGraph(pkg *pkgspec.Package) error {
	seen := make(map[string]bool, len(pkg.Tasks))
	for _, t := range pkg.Tasks {
		if t == nil {
			return fmt.Errorf("nil task")
		}
		if seen[t.Name] {
			return fmt.Errorf("duplicate task name %q", t.Name)
		}
		seen[t.Name] = true
	}
	for _, t := range pkg.Tasks {
		for _, dep := range t.After {
			if !seen[dep] {
				return fmt.Errorf("task %q runs after unknown task %q", t.Name, dep)
			}
		}
	}
	n := 0
	for _, stage := range pkg.Order() {
		n += len(stage)
	}
	if n != len(pkg.Tasks) {
		return fmt.Errorf("%d tasks are on or behind a dependency cycle", len(pkg.Tasks)-n)
	}
	return nil
}

// schedule runs the tasks in dependency order and returns the result.
func (r *runner) schedule(ctx context.Context) Result {
	tasks := r.pkg.Tasks
	index := make(map[string]int, len(tasks))
	for i, t := range tasks {
		index[t.Name] = i
	}
	state := make([]taskState, len(tasks))
	waiting := make([]int, len(tasks)) // dependencies not yet succeeded
	dependents := make([][]int, len(tasks))
	var ready []int
	for i, t := range tasks {
		for _, dep := range t.After { // all known: see checkGraph
			d := index[dep]
			waiting[i]++
			dependents[d] = append(dependents[d], i)
		}
		if waiting[i] == 0 {
			ready = append(ready, i)
		}
	}

	// skip marks the pending dependents of task i skipped, transitively.
	var skip func(i int, why string)
	skip = func(i int, why string) {
		for _, d := range dependents[i] {
			if state[d] != statePending {
				continue
			}
			state[d] = stateSkipped
			r.emit(EventPostExecute, tasks[d].Name, fmt.Sprintf("skipped: dependency %q %s", tasks[i].Name, why))
			skip(d, "was skipped")
		}
	}

	done := make(chan outcome)
	ctxDone := ctx.Done()
	running, canceled := 0, false
	var failures []string
	for {
		if !canceled && ctx.Err() != nil { // select below may not have seen it yet
			canceled, ctxDone = true, nil
		}
		for !canceled && running < r.opts.MaxParallel && len(ready) > 0 {
			i := ready[0]
			ready = ready[1:]
			state[i] = stateRunning
			running++
			go func(t *pkgspec.Task) { done <- r.runTask(ctx, t) }(tasks[i])
		}
		if running == 0 {
			break
		}
		select {
		case o := <-done:
			running--
			i := index[o.task.Name]
			state[i] = o.state
			switch o.state {
			case stateSucceeded:
				for _, d := range dependents[i] {
					if waiting[d]--; waiting[d] == 0 && state[d] == statePending {
						ready = append(ready, d)
					}
				}
				slices.Sort(ready) // file order among ready tasks
			case stateFailed:
				failures = append(failures, fmt.Sprintf("task %q failed: %s", o.task.Name, o.msg))
				skip(i, "failed")
			}
		case <-ctxDone:
			canceled, ctxDone = true, nil
		}
	}
	return r.result(canceled, state, failures)
}

func (r *runner) result(canceled bool, state []taskState, failures []string) Result {
	var names [taskStates][]string
	for i, s := range state {
		names[s] = append(names[s], r.pkg.Tasks[i].Name)
	}
	// A cancel that came after the last task ended changes nothing.
	canceled = (canceled && len(names[statePending]) > 0) || len(names[stateCanceled]) > 0
	if n := len(names[statePending]); n > 0 && canceled {
		r.emit(EventInformation, "", fmt.Sprintf("canceled before start: %s", strings.Join(names[statePending], ", ")))
	}
	var parts []string
	if canceled {
		parts = append(parts, "canceled")
		if c := names[stateCanceled]; len(c) > 0 {
			parts = append(parts, "canceled while running: "+strings.Join(c, ", "))
		}
		if n := len(names[statePending]); n > 0 {
			parts = append(parts, plural(n, "task")+" not started")
		}
	}
	parts = append(parts, failures...)
	if n := len(names[stateSkipped]); n > 0 {
		parts = append(parts, plural(n, "task")+" skipped")
	}
	switch {
	case canceled:
		return Result{Status: StatusCanceled, Message: strings.Join(parts, "; ")}
	case len(failures) > 0:
		return Result{Status: StatusFailed, Message: strings.Join(parts, "; ")}
	}
	return Result{Status: StatusSucceeded, Message: plural(len(names[stateSucceeded]), "task") + " succeeded"}
}

const taskStates = int(stateCanceled) + 1

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// roundDuration shortens d for messages: milliseconds, or microseconds
// below one millisecond.
func roundDuration(d time.Duration) time.Duration {
	if d < time.Millisecond {
		return d.Round(time.Microsecond)
	}
	return d.Round(time.Millisecond)
}
