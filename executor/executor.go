package executor

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"runtime"
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
	// EventWarning reports something unusual that did not fail a task, for
	// example a task failure handled by a failure constraint.
	EventWarning = "warning"
	// EventProgress reports the progress of a loop: one per iteration.
	EventProgress = "progress"
	// EventDiagnostic carries details kept only at pkgspec.LoggingVerbose: evaluated
	// constraints and conditions, variable assignments, SQL statements.
	EventDiagnostic = "diagnostic"
)

// MaxMessage is the longest output line an event carries whole, in bytes
// (the catalog's limit per event message). A longer line is cut: its event
// holds the line's first bytes and CutMarker, MaxMessage bytes in all, and
// the rest of the line is dropped (pump).
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
	// StatusSucceeded means no task failed, or every failure was handled
	// by a failure constraint.
	StatusSucceeded Status = "succeeded"
	// StatusFailed means a task failed and no failure constraint handled
	// it, the package timed out, or the package or its parameters were
	// invalid.
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
	// WorkDir is the attempt's scratch directory: the default working
	// directory of exec tasks when there is no ProjectDir, the base of
	// relative SQLite database files, and an allowed root of file tasks.
	// Empty means the current directory.
	WorkDir string
	// ExecutionID and Attempt identify the run in the catalog
	// (sys.execution_id, @[System::ServerExecutionID]; sys.attempt): the
	// id is the same for every attempt of an execution, so a package can
	// key its side effects on it. Zero when run outside a cluster.
	ExecutionID uint64
	Attempt     int
	// ProjectDir is the directory of the project the package belongs to
	// (project.yaml, packages/, data files), if any. Relative paths of tasks
	// are relative to it, exec tasks run in it by default, package tasks
	// read packages/NAME.yaml from it, and file tasks may touch it.
	ProjectDir string
	// Connections are connections defined outside the package (by the
	// project), by name; the package's own connections of the same name
	// take precedence.
	Connections map[string]Connection
	// Secrets are values that must never appear in events (passwords in
	// Connections, sensitive project parameters); every event message has
	// them replaced by Masked. Sensitive package parameters are added
	// automatically.
	Secrets []string
	// LoggingLevel selects the events kept: pkgspec.LoggingNone, pkgspec.LoggingBasic (the
	// default), pkgspec.LoggingPerformance or pkgspec.LoggingVerbose; see pkgspec.LoggingLevels.
	LoggingLevel string
	// KillGrace is how long a canceled task's process group has between
	// SIGTERM and SIGKILL. Zero means 2s; negative means no grace.
	KillGrace time.Duration
	// MaxParallel caps the number of tasks (not containers) running at
	// once. The package's max_parallel takes precedence; zero or negative
	// means runtime.NumCPU()+2.
	MaxParallel int
	// OnProcess, if set, is called with a task's process group ID when the
	// task process has started (running true) and again once it has been
	// reaped and the rest of its group killed (running false), so that the
	// caller can kill groups left behind if it crashes. It is called from
	// several goroutines at once.
	OnProcess func(pgid int, running bool)
	// MayStart, if set, is asked before each task attempt and again just
	// before a task process starts; an error fails the task with it and
	// starts nothing. The worker's package process answers from its lease
	// (fence): a process thawed after its lease ran out (a paused machine
	// or container) must not start work that may already run elsewhere.
	MayStart func() error
	// Env is the base environment of tasks, as "KEY=value" strings; a
	// task's env entries override it. Nil means os.Environ().
	Env []string
	// PermittedPaths are the directories outside WorkDir and ProjectDir
	// that a package's allow_paths may open to file operations: each
	// allow_paths entry must be one of them or lie below one, or the
	// package fails before its first task. Nil permits none (the worker
	// sets it from the agent's task_allow_paths).
	PermittedPaths []string
	// HTTPClient sends the requests of http tasks; nil means a client
	// without cookies whose timeout is the task's.
	HTTPClient *http.Client
}

// Connection is a database connection given through Options: a driver
// (one of pkgspec.Drivers) and its data source name, already resolved.
type Connection struct {
	Driver string
	DSN    string
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
	if o.LoggingLevel == "" {
		o.LoggingLevel = pkgspec.LoggingBasic
	}
	return o
}

// Run runs pkg, which should come from pkgspec.Parse, and reports progress
// to sink, which may be nil. params are the values given for this run; Run
// checks them and fills in defaults with pkgspec.Package.ResolveParams.
//
// Tasks start when their precedence constraints allow (docs/packages.md),
// at most MaxParallel at a time. A task whose constraints can no longer be
// met is skipped. The package fails when a task fails and no task runs
// because of a failure constraint on it.
//
// Canceling ctx terminates the running tasks (see Options.KillGrace),
// starts no further task, and makes the result StatusCanceled. Run returns
// only after every task process has been reaped.
func Run(ctx context.Context, pkg *pkgspec.Package, params map[string]string, opts Options, sink Sink) Result {
	return run(ctx, pkg, params, opts, sink, drainTimeout)
}

func run(ctx context.Context, pkg *pkgspec.Package, params map[string]string, opts Options, sink Sink, drain time.Duration) Result {
	if sink == nil {
		sink = SinkFunc(func(Event) {})
	}
	opts = opts.withDefaults()
	r := &runner{opts: opts, sink: sink, drainTimeout: drain, level: levelOf(opts.LoggingLevel)}
	for _, s := range opts.Secrets {
		r.addSecret(s)
	}
	if pkg == nil {
		r.emit(EventError, "", "no package to run")
		return Result{Status: StatusFailed, Message: "no package to run"}
	}
	if !validLevel(opts.LoggingLevel) {
		msg := fmt.Sprintf("invalid logging level %q (want one of: %s)", opts.LoggingLevel, strings.Join(pkgspec.LoggingLevels, ", "))
		r.emit(EventError, "", msg)
		return Result{Status: StatusFailed, Message: msg}
	}
	limit := opts.MaxParallel
	if pkg.MaxParallel > 0 {
		limit = pkg.MaxParallel
	}
	r.sem = newSem(limit)
	defer r.closeDBs()
	res := r.runPackage(ctx, pkg, params, "", 0, nil)
	// The message gathers task errors, which may quote a value: it leaves
	// the executor masked like every event.
	res.Message = r.mask(res.Message)
	return res
}

// runPackage runs pkg (the top package, or a child of a package task whose
// events are prefixed with prefix).
func (r *runner) runPackage(ctx context.Context, pkg *pkgspec.Package, params map[string]string, prefix string, depth int, up *pkgLink) Result {
	start := time.Now()
	err := checkGraph(pkg.Tasks)
	for ev, l := range pkg.Handlers {
		if err == nil {
			if err = checkGraph(l); err != nil {
				err = fmt.Errorf("in the package's %s handler: %w", ev, err)
			}
		}
	}
	if err != nil {
		msg := "invalid package: " + err.Error()
		r.emit(EventError, prefix, msg)
		return Result{Status: StatusFailed, Message: msg}
	}
	if err := checkUnsupported(pkg); err != nil {
		msg := err.Error()
		r.emit(EventError, prefix, msg)
		return Result{Status: StatusFailed, Message: msg}
	}
	values, err := pkg.ResolveParams(params)
	if err != nil {
		msg := "invalid parameters: " + strings.ReplaceAll(err.Error(), "\n", "; ")
		r.emit(EventError, prefix, msg)
		return Result{Status: StatusFailed, Message: msg}
	}
	pr := &pkgRun{r: r, pkg: pkg, prefix: prefix, depth: depth, start: start, results: map[string]map[string]any{}, handlers: pkg.HasHandlers(), up: up}
	if up != nil && up.tc.pr.handlers {
		// An enclosing package has handlers: this package's events
		// reach them.
		pr.handlers = true
	}
	pr.params = make(map[string]any, len(values))
	for name, v := range values {
		p := pkg.Param(name)
		if p.Sensitive {
			r.addSecret(v)
		}
		pr.params[name] = typedParam(p.Type, v)
	}
	if pr.roots, err = pr.allowedRoots(); err != nil {
		msg := err.Error()
		r.emit(EventError, prefix, msg)
		return Result{Status: StatusFailed, Message: msg}
	}
	if pkg.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, pkg.Timeout, errPackageTimeout)
		defer cancel()
	}
	pr.ctx = ctx
	pr.guid = newGUID()
	root := &scope{vars: map[string]*variable{}}
	where := strings.TrimSuffix(prefix, "/")
	r.emit(EventInformation, where, fmt.Sprintf("package %q started: %s", pkg.Name, plural(len(pkg.Tasks), "task")))
	tc := &taskCtx{pr: pr, sc: root}
	if err := tc.declare(pkg.Variables); err != nil {
		msg := "variables: " + err.Error()
		r.emit(EventError, where, msg)
		return Result{Status: StatusFailed, Message: msg}
	}
	pkgEvent := eventInfo{source: pkg.Name, at: where}
	if pr.handlers {
		pr.fire(ctx, tc, pkgspec.OnPreExecute, pkgEvent)
	}
	lr := pr.runList(ctx, root, pkg.Tasks)
	if pr.handlers {
		pr.fire(ctx, tc, pkgspec.OnPostExecute, pkgEvent)
	}
	lr.tolerate(pkg.MaxErrors)
	res := lr.result(pkg.Tasks)
	pr.mu.Lock()
	failPackage := pr.failPackage
	pr.mu.Unlock()
	if res.Status == StatusSucceeded && len(failPackage) > 0 {
		res = Result{Status: StatusFailed, Message: strings.Join(failPackage, "; ") + "; " + res.Message}
	}
	if lr.canceled && errors.Is(context.Cause(ctx), errPackageTimeout) {
		res = Result{Status: StatusFailed, Message: fmt.Sprintf("package timed out after %s; %s", pkg.Timeout, res.Message)}
	}
	r.emit(EventInformation, where, fmt.Sprintf("package %q %s in %s: %s", pkg.Name, res.Status, roundDuration(time.Since(start)), res.Message))
	return res
}

// errPackageTimeout and errTaskTimeout are the causes of contexts canceled
// by a package or task timeout.
var (
	errPackageTimeout = errors.New("package timeout")
	errTaskTimeout    = errors.New("task timeout")
)

// checkGraph rejects task graphs Run cannot schedule: duplicate names,
// unknown "after" names and cycles. pkgspec.Parse never returns such a
// package, but a Package can be built by hand.
func checkGraph(tasks []*pkgspec.Task) error {
	seen := make(map[string]bool, len(tasks))
	for _, t := range tasks {
		if t == nil {
			return fmt.Errorf("nil task")
		}
		if seen[t.Name] {
			return fmt.Errorf("duplicate task name %q", t.Name)
		}
		seen[t.Name] = true
	}
	for _, t := range tasks {
		for _, dep := range t.After {
			if !seen[dep] {
				return fmt.Errorf("task %q runs after unknown task %q", t.Name, dep)
			}
		}
		if len(t.Constraints) != 0 && len(t.Constraints) != len(t.After) {
			return fmt.Errorf("task %q: %d constraints for %d after entries", t.Name, len(t.Constraints), len(t.After))
		}
	}
	n := 0
	for _, stage := range pkgspec.OrderTasks(tasks) {
		n += len(stage)
	}
	if n != len(tasks) {
		return fmt.Errorf("%d tasks are on or behind a dependency cycle", len(tasks)-n)
	}
	for _, t := range tasks {
		if b := t.Body(); b != nil {
			if err := checkGraph(b.Tasks); err != nil {
				return fmt.Errorf("in %q: %w", t.Name, err)
			}
		}
		for ev, l := range t.Handlers {
			if err := checkGraph(l); err != nil {
				return fmt.Errorf("in %q %s handler: %w", t.Name, ev, err)
			}
		}
	}
	return nil
}

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
