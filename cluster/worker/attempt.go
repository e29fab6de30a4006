package worker

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/scaleout/scaleout/api"
	"github.com/scaleout/scaleout/cluster/internal/tick"
	"github.com/scaleout/scaleout/executor"
)

// attempt is one attempt running in a child process.
type attempt struct {
	w    *Worker
	task api.Task

	mu          sync.Mutex
	cmd         *exec.Cmd
	stopping    bool // stop requested by the master: report canceled
	interrupted bool // the worker is shutting down: report interrupted
	handBack    bool // the worker is draining: report handed_back (retry elsewhere)
	dropped     bool // the master no longer accepts this attempt: report nothing
	ending      bool // the package process has exited; the result is being reported
	reaped      bool // the child was waited for: its pid may be reused, never signal it again
	killTimer   *time.Timer
	pgids       map[int]bool // task process groups the child announced
	buf         []api.Event  // events not yet sent
	result      *ChildResult
	stdin       io.Closer // closing it asks the child to stop where signals cannot (proc_other.go)

	flushNow chan struct{}
}

func newAttempt(w *Worker, t api.Task) *attempt {
	return &attempt{w: w, task: t, pgids: map[int]bool{}, flushNow: make(chan struct{}, 1)}
}

// ref describes the attempt in a poll.
func (a *attempt) ref() api.AttemptRef {
	a.mu.Lock()
	defer a.mu.Unlock()
	return api.AttemptRef{ID: a.task.ID, Attempt: a.task.Attempt,
		Stopping: a.stopping || a.interrupted || a.dropped, Ending: a.ending}
}

// mark sets flags of the attempt under its lock.
func (a *attempt) mark(set func()) {
	a.mu.Lock()
	set()
	a.mu.Unlock()
}

// stop asks the child to stop (SIGTERM) and kills it after the grace period.
func (a *attempt) stop() {
	a.mark(func() { a.stopping = true })
	a.terminate()
}

// interrupt stops the attempt because the worker is shutting down.
func (a *attempt) interrupt() {
	a.mark(func() { a.interrupted = true })
	a.terminate()
}

// handBackNow stops the attempt because the worker drains: another worker
// will run it.
func (a *attempt) handBackNow() {
	a.mark(func() { a.interrupted, a.handBack = true, true })
	a.terminate()
}

// drop kills the attempt at once and suppresses its report.
func (a *attempt) drop() {
	a.mark(func() { a.dropped = true })
	a.kill()
}

func (a *attempt) terminate() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.cmd == nil || a.cmd.Process == nil || a.killTimer != nil {
		return
	}
	askToStop(a.cmd, a.stdin)
	// The child stops its tasks within KillGrace; give it a little more to
	// report, then kill everything.
	a.killTimer = time.AfterFunc(a.w.cfg.KillGrace+2*time.Second, a.kill)
}

// kill SIGKILLs the child's process group and every task process group it
// announced.
func (a *attempt) kill() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.reaped {
		return
	}
	if a.cmd != nil && a.cmd.Process != nil {
		killTree(a.cmd.Process)
	}
	for pgid := range a.pgids {
		killGroup(pgid)
	}
}

func (a *attempt) errorf(format string, args ...any) api.Event {
	return api.Event{Time: time.Now().UTC(), Type: "error", Message: fmt.Sprintf(format, args...)}
}

func (a *attempt) emit(ev api.Event) {
	ev.Message = a.mask(ev.Message)
	a.mu.Lock()
	a.buf = append(a.buf, ev)
	full := len(a.buf) >= a.w.cfg.EventBatch
	a.mu.Unlock()
	if full {
		select {
		case a.flushNow <- struct{}{}:
		default:
		}
	}
}

func (a *attempt) run(_ context.Context) {
	t := a.task
	log := a.w.logger.With("id", t.ID, "attempt", t.Attempt)
	dir := a.w.attemptDir(t)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		a.emit(a.errorf("create work dir: %v", err))
		a.report(&api.ResultReport{Status: api.StatusFailed, Message: "cannot create work dir"})
		return
	}
	defer os.RemoveAll(dir)
	job := Job{Task: t, WorkDir: dir, KillGraceMS: int(a.w.cfg.KillGrace / time.Millisecond)}
	if t.ArchiveHash != "" {
		if err := a.prepareProject(dir); err != nil {
			a.emit(a.errorf("prepare project: %v", err))
			a.report(&api.ResultReport{Status: api.StatusFailed, Message: "cannot prepare the project: " + err.Error()})
			return
		}
		job.ProjectDir = dir
	}

	cmd := exec.Command(a.w.cfg.Command[0], a.w.cfg.Command[1:]...)
	cmd.Dir = dir
	setGroup(cmd)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		a.failStart(err)
		return
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		a.failStart(err)
		return
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		a.failStart(err)
		return
	}
	started := time.Now()
	a.mu.Lock()
	err = cmd.Start()
	if err == nil {
		a.cmd, a.stdin = cmd, stdin
	}
	pending := a.stopping || a.interrupted
	a.mu.Unlock()
	if err != nil {
		a.failStart(err)
		return
	}
	if pending {
		a.terminate()
	}
	log.Debug("child started", "pid", cmd.Process.Pid, "start", time.Since(started))
	line, _ := json.Marshal(&job)
	if _, err := stdin.Write(append(line, '\n')); err != nil {
		a.emit(a.errorf("send job to package process: %v", err))
	}

	var readers sync.WaitGroup
	readers.Add(2)
	go func() { defer readers.Done(); a.readMessages(stdout) }()
	go func() { defer readers.Done(); a.readStderr(stderr) }()

	flushDone := make(chan struct{})
	stopFlush := make(chan struct{})
	go func() { defer close(flushDone); a.flushLoop(stopFlush) }()

	readers.Wait()
	// The child closed its output, so it has exited or is about to. Kill
	// whatever it left behind while its pid cannot yet be reused, then reap.
	a.kill()
	waitErr := cmd.Wait()
	_ = stdin.Close()
	close(stopFlush)
	<-flushDone

	a.mu.Lock()
	a.ending = true
	a.reaped = true
	if a.killTimer != nil {
		a.killTimer.Stop()
	}
	res, stopping, interrupted, handBack, dropped := a.result, a.stopping, a.interrupted, a.handBack, a.dropped
	a.mu.Unlock()

	if dropped {
		log.Info("attempt dropped; not reporting")
		return
	}
	rep := &api.ResultReport{}
	switch {
	case res != nil && (res.Status == api.StatusSucceeded || res.Status == api.StatusFailed) && !interrupted:
		rep.Status, rep.Message = res.Status, res.Message
	case handBack:
		rep.Status, rep.Message = api.ResultHandedBack, fmt.Sprintf("worker %s is leaving the cluster", a.w.cfg.ID)
	case interrupted:
		rep.Status, rep.Message = api.ResultInterrupted, fmt.Sprintf("worker %s shut down", a.w.cfg.ID)
	case stopping:
		rep.Status, rep.Message = api.StatusCanceled, "stopped on request"
	case res != nil:
		rep.Status, rep.Message = res.Status, res.Message
	default:
		rep.Status = api.StatusFailed
		rep.Message = fmt.Sprintf("package process ended without a result: %v", waitErr)
		a.emit(a.errorf("%s", rep.Message))
	}
	a.report(rep)
	log.Info("attempt ended", "status", rep.Status, "duration", time.Since(started))
}

func (a *attempt) failStart(err error) {
	a.emit(a.errorf("start package process: %v", err))
	a.report(&api.ResultReport{Status: api.StatusFailed, Message: "cannot start package process: " + err.Error()})
}

func (a *attempt) readMessages(r interface{ Read([]byte) (int, error) }) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		var m Message
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			a.emit(a.errorf("unreadable message from package process: %v", err))
			continue
		}
		switch {
		case m.Event != nil:
			a.emit(fromExecutorEvent(*m.Event))
		case m.Proc != nil:
			a.mu.Lock()
			if m.Proc.Running {
				a.pgids[m.Proc.PGID] = true
			} else {
				delete(a.pgids, m.Proc.PGID)
			}
			a.mu.Unlock()
		case m.Result != nil:
			a.mu.Lock()
			a.result = m.Result
			a.mu.Unlock()
		}
	}
	if err := sc.Err(); err != nil {
		a.emit(a.errorf("reading package process output: %v", err))
	}
}

// readStderr turns what the child itself writes to stderr (a Go panic, say)
// into error events.
func (a *attempt) readStderr(r interface{ Read([]byte) (int, error) }) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		a.emit(a.errorf("package process: %s", sc.Text()))
	}
}

func fromExecutorEvent(ev executor.Event) api.Event {
	return api.Event{Time: ev.Time, Type: ev.Type, Task: ev.Task, Message: ev.Message}
}

// flushLoop sends buffered events every EventFlush, or at once when a batch
// is full, until stop is closed; what is left goes with the result.
func (a *attempt) flushLoop(stop <-chan struct{}) {
	tick.EveryOrWhen(a.w.cfg.EventFlush, stop, a.flushNow, a.flush)
}

// flush sends the buffered events; it reports false when the master
// rejected them because the attempt was superseded (the attempt is killed).
func (a *attempt) flush() bool {
	a.mu.Lock()
	batch := a.buf
	a.buf = nil
	a.mu.Unlock()
	if len(batch) == 0 {
		return true
	}
	if err := a.send(func(ctx context.Context) error {
		return a.w.cfg.Client.Executions().ReportEvents(ctx, a.task.ID, a.task.Attempt, batch)
	}); err != nil {
		if api.IsStatus(err, http.StatusConflict) {
			a.w.logger.Warn("master rejected events of a superseded attempt; killing it", "id", a.task.ID, "attempt", a.task.Attempt, "error", err)
			a.drop()
			return false
		}
		// Could not deliver for a whole lease: keep the events for the
		// result report.
		a.mu.Lock()
		a.buf = append(batch, a.buf...)
		a.mu.Unlock()
	}
	return true
}

func (a *attempt) report(rep *api.ResultReport) {
	a.mu.Lock()
	rep.Events = a.buf
	a.buf = nil
	a.mu.Unlock()
	err := a.send(func(ctx context.Context) error {
		return a.w.cfg.Client.Executions().ReportResult(ctx, a.task.ID, a.task.Attempt, rep)
	})
	if err != nil {
		a.w.logger.Error("could not report result; the master will expire the attempt", "id", a.task.ID, "attempt", a.task.Attempt, "status", rep.Status, "error", err)
	}
}

// send retries fn until it succeeds, the master answers with a client error
// (4xx: retrying cannot help), or a whole lease has passed.
func (a *attempt) send(fn func(ctx context.Context) error) error {
	deadline := time.Now().Add(a.w.cfg.LeaseTimeout)
	backoff := 50 * time.Millisecond
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := fn(ctx)
		cancel()
		var ae *api.Error
		if err == nil || (errors.As(err, &ae) && ae.StatusCode >= 400 && ae.StatusCode < 500) {
			return err
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(backoff)
		if backoff *= 2; backoff > time.Second {
			backoff = time.Second
		}
	}
}

// mask replaces every clear sensitive value of the attempt in s with
// api.Masked. The child masks its events already; this also covers what
// the worker itself reports (stderr lines of the child, its errors).
func (a *attempt) mask(s string) string {
	for _, v := range a.task.Secrets {
		if v != "" && strings.Contains(s, v) {
			s = strings.ReplaceAll(s, v, api.Masked)
		}
	}
	return s
}
