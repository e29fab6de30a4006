package worker

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/scaleout/scaleout/catalog/pkgspec"
	"github.com/scaleout/scaleout/executor"
	"github.com/scaleout/scaleout/internal/lattrace"
)

// lineWriter writes Messages as JSON lines; safe for concurrent use.
type lineWriter struct {
	mu  sync.Mutex
	w   *bufio.Writer
	enc *json.Encoder
}

func newLineWriter(w io.Writer) *lineWriter {
	bw := bufio.NewWriterSize(w, 64<<10)
	return &lineWriter{w: bw, enc: json.NewEncoder(bw)}
}

func (l *lineWriter) write(m *Message) {
	l.mu.Lock()
	defer l.mu.Unlock()
	_ = l.enc.Encode(m)
	_ = l.w.Flush()
}

// Emit implements executor.Sink.
func (l *lineWriter) Emit(ev executor.Event) { l.write(&Message{Event: &ev}) }

// ChildMain is the body of the hidden `scaleout exec` command, the package
// runtime: it writes a Ready line, then reads Jobs from in, one line each,
// runs each package, writes Messages to out and ends each run with a
// Result line. It serves one attempt at a time; after a result it writes
// Ready again and waits for the next job only if the run left nothing
// behind (runJob's clean, baseline.unchanged), otherwise it exits. It
// returns the exit code: 0 when it ended after a result or at EOF between
// jobs.
//
// SIGTERM, SIGINT or EOF on in (the worker died) cancel a run: running
// tasks are stopped, the result is canceled and the child exits; between
// jobs they end the child.
func ChildMain(in io.Reader, out io.Writer) int {
	// Orphans of task process groups are reparented to this process, which
	// reaps them, instead of to a PID 1 that may not.
	if err := executor.SetSubreaper(); err != nil && !errors.Is(err, errors.ErrUnsupported) {
		fmt.Fprintf(os.Stderr, "scaleout exec: cannot become a child subreaper (orphaned task processes may linger): %v\n", err)
	}
	ignoreSIGPIPE()
	lw := newLineWriter(out)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, stopSignals...)
	defer signal.Stop(sigs)
	jobs := make(chan []byte, 1)
	gone := make(chan struct{}) // EOF or a read error on in: the worker is gone
	fc := newFence()
	go func() {
		defer close(gone)
		sc := bufio.NewScanner(in)
		sc.Buffer(make([]byte, 0, 64<<10), maxJobLine)
		for sc.Scan() {
			if line := sc.Bytes(); bytes.HasPrefix(line, renewPrefix) {
				var r Renew
				if json.Unmarshal(line, &r) == nil && r.RenewMS > 0 {
					fc.extend(time.Duration(r.RenewMS) * time.Millisecond)
				}
				continue
			}
			jobs <- slices.Clone(sc.Bytes())
		}
		if errors.Is(sc.Err(), bufio.ErrTooLong) {
			jobs <- nil
		}
	}()
	base := takeBaseline()
	lw.write(&Message{Ready: &Ready{PID: os.Getpid()}})
	for served := 1; ; served++ {
		var line []byte
		select {
		case line = <-jobs:
		case <-gone:
			return 0
		case <-sigs:
			return 0
		}
		if line == nil {
			fmt.Fprintf(os.Stderr, "scaleout exec: a job line over %d bytes\n", maxJobLine)
			return 2
		}
		var job Job
		if err := json.Unmarshal(line, &job); err != nil {
			fmt.Fprintf(os.Stderr, "scaleout exec: decoding job: %v\n", err)
			return 2
		}
		lattrace.Stamp(job.ID, "c.job")
		res, clean := runJob(&job, lw, sigs, gone, fc)
		// The result first: the worker reports it while this process
		// checks whether it can take another job.
		lw.write(&Message{Result: res})
		lattrace.Stamp(job.ID, "c.resline")
		if !clean || served >= maxServed || !base.unchanged() {
			return 0
		}
		lw.write(&Message{Ready: &Ready{PID: os.Getpid()}})
	}
}

// maxServed bounds the attempts one child runs, so that anything a run
// leaves behind that baseline.unchanged cannot see (memory fragments, caches of the
// drivers) is bounded too.
const maxServed = 1000

// maxJobLine bounds a job line (the package source travels in it).
const maxJobLine = 64 << 20

// runJob runs one job and returns its result and whether the run ended
// cleanly: a result of its own (not canceled by a signal or by the worker
// going away) and no task process group left running.
func runJob(job *Job, lw *lineWriter, sigs <-chan os.Signal, gone <-chan struct{}, fc *fence) (*ChildResult, bool) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	stopped := false
	fenced := time.Duration(0) // how long the worker had been silent when the run was fenced
	groups := map[int]bool{}
	runEnded, watched := make(chan struct{}), make(chan struct{})
	// The watcher is done before runJob returns: a fence that fired kills
	// every descendant of this process (KillDescendants), and must not
	// still be at it when the next run starts its tasks (in tests, which
	// run jobs back to back in one process; a fenced child is never
	// reused).
	defer func() {
		close(runEnded)
		<-watched
	}()
	fc.start(time.Duration(job.FenceMS) * time.Millisecond)
	go func() {
		defer close(watched)
		select {
		case silent := <-fc.expired(runEnded):
			// No grace: the master may lease the execution again soon, as
			// the worker's own fence assumes when it SIGKILLs its children.
			mu.Lock()
			stopped, fenced = true, silent
			for pgid := range groups {
				killGroup(pgid)
			}
			mu.Unlock()
			executor.KillDescendants()
			lw.Emit(executor.Event{Time: time.Now().UTC(), Type: "error", Message: fmt.Sprintf(
				"the worker has not renewed this attempt for %s (frozen or cut off from the master): killed its tasks before the master gives the execution to another worker", silent.Round(time.Millisecond))})
			cancel()
		case s := <-sigs:
			mu.Lock()
			stopped = true
			mu.Unlock()
			lw.Emit(executor.Event{Time: time.Now().UTC(), Type: "information", Message: "stop requested (" + s.String() + "): stopping running tasks"})
			cancel()
		case <-gone:
			mu.Lock()
			stopped = true
			mu.Unlock()
			cancel()
		case <-runEnded:
		}
	}()

	pkg, opts, err := job.options()
	lattrace.Stamp(job.ID, "c.parsed")
	if err != nil {
		lw.Emit(executor.Event{Time: time.Now().UTC(), Type: "error", Message: err.Error()})
		return &ChildResult{Status: "failed", Message: err.Error()}, true
	}
	opts.OnProcess = func(pgid int, running bool) {
		mu.Lock()
		if running {
			groups[pgid] = true
		} else {
			delete(groups, pgid)
		}
		mu.Unlock()
		lw.write(&Message{Proc: &Proc{PGID: pgid, Running: running}})
	}
	opts.MayStart = fc.check
	res := executor.Run(ctx, pkg, job.Params, opts, lw)
	lattrace.Stamp(job.ID, "c.ran")
	// What the tasks' process groups did not hold (setsid, double forks)
	// was reparented to this process, a child subreaper: nothing of the
	// run may outlive it.
	if n := executor.KillDescendants(); n > 0 {
		lw.Emit(executor.Event{Time: time.Now().UTC(), Type: "warning", Message: fmt.Sprintf(
			"killed %d process(es) the tasks left running outside their process groups (setsid or daemonized)", n)})
	}
	mu.Lock()
	defer mu.Unlock()
	if fenced > 0 {
		return &ChildResult{Status: "failed", Fenced: true, Message: fmt.Sprintf("stopped by its own fence: no word from the worker for %s", fenced.Round(time.Millisecond))}, false
	}
	return &ChildResult{Status: string(res.Status), Message: res.Message}, !stopped && len(groups) == 0
}

// Environment variables a deployed package's tasks see.
const (
	// EnvExecutionID and EnvAttempt hold the execution's id and the
	// attempt's number, for every task.
	EnvExecutionID = "SCALEOUT_EXECUTION_ID"
	EnvAttempt     = "SCALEOUT_ATTEMPT"
	// EnvProjectDir names the extracted project directory.
	EnvProjectDir = "SCALEOUT_PROJECT_DIR"
	// EnvProjectParamPrefix + NAME holds project parameter NAME.
	EnvProjectParamPrefix = "SCALEOUT_PROJECT_"
)

// options parses the job's package (inline, or read from the extracted
// project) and turns the rest of the job into executor options: the
// project's connections opened for the executor, the secrets to mask, and
// the tasks' environment.
func (job *Job) options() (*pkgspec.Package, executor.Options, error) {
	opts := executor.Options{
		WorkDir: job.WorkDir, ProjectDir: job.ProjectDir, LoggingLevel: job.LoggingLevel,
		KillGrace:   time.Duration(job.KillGraceMS) * time.Millisecond,
		Secrets:     slices.Clone(job.Secrets),
		ExecutionID: job.ID, Attempt: job.Attempt,
		PermittedPaths: slices.Clone(job.AllowRoots),
		// The worker started this process with a scrubbed environment
		// (env.go); credentials are dropped again in case it was not.
		Env: append(dropCredentials(os.Environ()), fmt.Sprintf("%s=%d", EnvExecutionID, job.ID), fmt.Sprintf("%s=%d", EnvAttempt, job.Attempt)),
	}
	src := []byte(job.Package)
	if job.ArchiveHash != "" {
		if job.ProjectDir == "" || !filepath.IsLocal(filepath.FromSlash(job.PackageFile)) {
			return nil, opts, fmt.Errorf("invalid package path %q in project", job.PackageFile)
		}
		var err error
		if src, err = os.ReadFile(filepath.Join(job.ProjectDir, filepath.FromSlash(job.PackageFile))); err != nil {
			return nil, opts, fmt.Errorf("package file: %w", err)
		}
		opts.Env = append(opts.Env, EnvProjectDir+"="+job.ProjectDir)
		for _, k := range slices.Sorted(maps.Keys(job.ProjectParams)) {
			opts.Env = append(opts.Env, EnvProjectParamPrefix+k+"="+job.ProjectParams[k])
		}
	}
	pkg, err := pkgspec.Parse(job.PackageFile, src)
	if err != nil {
		return nil, opts, fmt.Errorf("invalid package: %w", err)
	}
	dir := job.ProjectDir
	if dir == "" {
		dir = job.WorkDir
	}
	for _, c := range job.Connections {
		conn, secrets, err := executor.NewConnection(c.Type, c.Properties, dir)
		if err != nil {
			return nil, opts, fmt.Errorf("connection %q: %w", c.Name, err)
		}
		if opts.Connections == nil {
			opts.Connections = map[string]executor.Connection{}
		}
		opts.Connections[c.Name] = conn
		opts.Secrets = append(opts.Secrets, secrets...)
	}
	return pkg, opts, nil
}
