package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/scaleout/scaleout/api"
	"github.com/scaleout/scaleout/cluster/internal/tick"
	"github.com/scaleout/scaleout/executor"
	"github.com/scaleout/scaleout/internal/lattrace"
)

// attempt is one attempt running in a child process.
type attempt struct {
	w    *Worker
	task api.Task

	mu          sync.Mutex
	ch          *child // the package process running it, while attached
	stopping    bool   // stop requested by the master: report canceled
	interrupted bool   // the worker is shutting down: report interrupted
	handBack    bool   // the worker is draining: report handed_back (retry elsewhere)
	dropped     bool   // the master no longer accepts this attempt: report nothing
	ending      bool   // the package process has ended the run; the result is being reported
	killTimer   *time.Timer
	pgids       map[int]bool // task process groups the child announced
	buf         []api.Event  // events not yet sent
	bufBytes    int          // message bytes in buf
	bufFirst    uint64       // number of buf[0] among the attempt's events (from 1): a batch sent again is applied once
	inflight    int          // message bytes of the batch being sent
	forwarded   int          // events put into buf so far (Config.MaxEvents)
	room        *sync.Cond   // on mu: signalled when buf was taken or waiting ends
	log         *attemptLog  // every event, also those beyond MaxEvents
	result      *ChildResult
	gotResult   chan struct{} // closed at the child's Result line
	firstLine   chan struct{} // closed at the child's first stdout line for this attempt
	spoke       bool          // firstLine is closed
	heard       int           // lines the child wrote for this attempt (stdout and stderr)

	flushNow chan struct{}
	quit     chan struct{} // closed by a stop, interrupt, hand-back or drop
	quitOnce sync.Once
}

func newAttempt(w *Worker, t api.Task) *attempt {
	a := &attempt{w: w, task: t, bufFirst: 1, pgids: map[int]bool{}, flushNow: make(chan struct{}, 1),
		quit: make(chan struct{}), gotResult: make(chan struct{}), firstLine: make(chan struct{})}
	a.room = sync.NewCond(&a.mu)
	return a
}

// ref describes the attempt in a poll.
func (a *attempt) ref() api.AttemptRef {
	a.mu.Lock()
	defer a.mu.Unlock()
	return api.AttemptRef{ID: a.task.ID, Attempt: a.task.Attempt,
		Stopping: a.stopping || a.interrupted || a.dropped, Ending: a.ending}
}

// packageEnded reports whether the package process has sent the attempt's
// result (or the attempt is only reporting): nothing of it runs any more.
func (a *attempt) packageEnded() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.result != nil || a.ending
}

// mark sets flags of the attempt under its lock; each flag ends the
// attempt, so it also ends a wait for a start slot or for room in buf.
func (a *attempt) mark(set func()) {
	a.mu.Lock()
	set()
	a.room.Broadcast()
	a.mu.Unlock()
	a.quitOnce.Do(func() { close(a.quit) })
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
	if a.ch == nil || a.killTimer != nil {
		return
	}
	a.ch.mu.Lock()
	if !a.ch.reaped {
		askToStop(a.ch.cmd, a.ch.stdin)
	}
	a.ch.mu.Unlock()
	// The child stops its tasks within KillGrace; give it a little more to
	// report, then kill everything.
	a.killTimer = time.AfterFunc(a.w.cfg.KillGrace+2*time.Second, a.kill)
}

// renew extends the fence of the child running the attempt, if any.
func (a *attempt) renew(left, keep time.Duration) {
	a.mu.Lock()
	ch := a.ch
	a.mu.Unlock()
	if ch != nil {
		ch.renew(left, keep)
	}
}

// kill SIGKILLs the child's process group (unless it was reaped or handed
// back to the pool) and every task process group it announced.
func (a *attempt) kill() {
	a.mu.Lock()
	ch := a.ch
	a.mu.Unlock()
	if ch != nil {
		ch.killTree()
	}
	a.killGroups()
}

// killGroups SIGKILLs the task process groups the child announced as
// running. A group's id is the pid of its leader, which the child has not
// reaped while it announces the group as running, so it cannot be reused.
func (a *attempt) killGroups() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for pgid := range a.pgids {
		killGroup(pgid)
	}
}

func (a *attempt) errorf(format string, args ...any) api.Event {
	return api.Event{Time: time.Now().UTC(), Type: "error", Message: fmt.Sprintf(format, args...)}
}

// emit queues an event for the master and writes it to the attempt's log.
// While MaxBufferedBytes of messages wait to be sent it blocks (the child's
// output is then not read: backpressure), unless the attempt was dropped or
// its output has ended. After MaxEvents events only the log gets them.
func (a *attempt) emit(ev api.Event) {
	ev.Message = a.mask(ev.Message)
	if a.log != nil {
		a.log.write(ev)
	}
	a.mu.Lock()
	for a.bufBytes+a.inflight >= a.w.cfg.MaxBufferedBytes && !a.dropped && !a.ending {
		a.room.Wait()
	}
	switch {
	case a.forwarded < a.w.cfg.MaxEvents-1:
	case a.forwarded == a.w.cfg.MaxEvents-1:
		ev = api.Event{Time: ev.Time, Type: "warning", Message: fmt.Sprintf(
			"output beyond %d events is kept only in the attempt log on worker %s (GET /v1/executions/%d/attempts/%d/log through that agent)",
			a.w.cfg.MaxEvents, a.w.cfg.ID, a.task.ID, a.task.Attempt)}
	default:
		a.mu.Unlock()
		return
	}
	a.forwarded++
	a.buf = append(a.buf, ev)
	a.bufBytes += len(ev.Message) + len(ev.Task) + 64
	full := len(a.buf) >= a.w.cfg.EventBatch || a.bufBytes >= a.w.cfg.MaxBufferedBytes/4
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
	started := time.Now()
	lattrace.Stamp(t.ID, "w.run")
	var err error
	if a.log, err = openAttemptLog(a.w.cfg.LogDir, t.ID, t.Attempt, a.w.cfg.MaxLogBytes); err != nil {
		log.Warn("cannot create the attempt log; output beyond the event cap is lost", "error", err)
	}
	defer func() { a.w.pruneLogs(logName(t.ID, t.Attempt), a.log.rotated()) }()
	defer a.log.close()
	dir := a.w.attemptDir(t)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		a.emit(a.errorf("create work dir: %v", err))
		a.report(&api.ResultReport{Status: api.StatusFailed, Message: "cannot create work dir"})
		return
	}
	defer os.RemoveAll(dir)
	job := Job{Task: t, WorkDir: dir, KillGraceMS: int(a.w.cfg.KillGrace / time.Millisecond), AllowRoots: a.w.cfg.TaskAllowPaths}
	if t.ArchiveHash != "" {
		if err := a.prepareProject(dir); err != nil {
			a.emit(a.errorf("prepare project: %v", err))
			a.report(&api.ResultReport{Status: api.StatusFailed, Message: "cannot prepare the project: " + err.Error()})
			return
		}
		job.ProjectDir = dir
	}

	lattrace.Stamp(t.ID, "w.prepared")
	flushDone := make(chan struct{})
	stopFlush := make(chan struct{})
	go func() { defer close(flushDone); a.flushLoop(stopFlush) }()
	ch, err := a.hand(&job, log)
	if err != nil {
		close(stopFlush)
		<-flushDone
		if errors.Is(err, errQuit) {
			a.endUnstarted(log)
		} else {
			a.failStart(err)
		}
		return
	}

	var waitErr error
	select {
	case <-a.gotResult:
	case <-ch.dead:
	}
	lattrace.Stamp(t.ID, "w.result")
	a.mu.Lock()
	reuse := a.w.cfg.ReuseChildren && a.result != nil && !a.stopping && !a.interrupted && !a.dropped
	if reuse {
		a.ch = nil // from now on the child is the pool's: never signal it for this attempt
	}
	a.mu.Unlock()
	if reuse {
		// The child checks after its result whether it can run another
		// attempt; the result is reported meanwhile.
		a.w.wg.Add(1)
		a.w.pool.startSettling()
		go func() { defer a.w.wg.Done(); a.w.pool.settle(ch, a) }()
	} else {
		// It exits after its result (or at the EOF on its stdin); give it
		// the grace period, then kill it and everything it left.
		_ = ch.stdin.Close()
		select {
		case <-ch.exited:
		case <-time.After(a.w.cfg.KillGrace):
			a.kill()
			<-ch.exited
		}
		waitErr = ch.waitErr
	}
	close(stopFlush)
	<-flushDone

	a.mu.Lock()
	a.ending = true
	a.room.Broadcast()
	if a.killTimer != nil {
		a.killTimer.Stop()
	}
	res, stopping, interrupted, handBack, dropped := a.result, a.stopping, a.interrupted, a.handBack, a.dropped
	a.mu.Unlock()

	if dropped {
		log.Info("attempt dropped; not reporting")
		return
	}
	if res != nil && res.Fenced {
		log.Warn("package process stopped the attempt itself (no renewal from this worker in time); not reporting: the master expires it", "message", res.Message)
		return
	}
	rep := &api.ResultReport{}
	switch {
	case res != nil && (res.Status == api.StatusSucceeded || res.Status == api.StatusFailed) && !interrupted:
		rep.Status, rep.Message = res.Status, res.Message
	case handBack || interrupted || stopping:
		rep = a.ended(handBack, interrupted, "stopped on request")
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

// hand gives the job to a package process: a waiting one, or a new one
// once a start slot is free (the attempt is listed in every poll
// meanwhile, so its lease is renewed however many children are being
// started). A waiting child can die while it waits (killed from outside);
// if one dies before it wrote a single line for this attempt, it has not
// started any of its tasks (the package's first event precedes them), so
// the job goes to another. The error is errQuit when the attempt ended
// while it waited, or why no child could be started.
func (a *attempt) hand(job *Job, log hclog.Logger) (*child, error) {
	for try := 1; ; try++ {
		started := time.Now()
		ch, err := a.w.pool.get(a)
		if err != nil {
			return nil, err
		}
		reused := ch.jobs > 0
		ch.jobs++
		ch.attach(a)
		a.mu.Lock()
		a.ch = ch
		pending := a.stopping || a.interrupted
		a.mu.Unlock()
		if pending {
			a.terminate()
		}
		log.Debug("package process attached", "pid", ch.cmd.Process.Pid, "reused", reused, "wait", time.Since(started))
		lattrace.Stamp(a.task.ID, "w.child")
		job.FenceMS = max(int(a.w.fenceLeft()/time.Millisecond), 1)
		sendErr := ch.send(job)
		lattrace.Stamp(a.task.ID, "w.sent")
		select {
		case <-a.firstLine:
			return ch, nil
		case <-ch.dead:
		}
		a.mu.Lock()
		silent, quit := a.heard == 0, a.stopping || a.interrupted || a.dropped
		a.mu.Unlock()
		if !reused || !silent || quit || try == 3 {
			if sendErr != nil {
				a.emit(a.errorf("send job to package process: %v", sendErr))
			}
			return ch, nil
		}
		log.Warn("waiting package process died before it started the attempt; giving it to another", "pid", ch.cmd.Process.Pid)
		<-ch.exited
		a.mu.Lock()
		a.ch = nil
		a.mu.Unlock()
		ch.detach()
	}
}

// endUnstarted reports an attempt that was stopped, interrupted, handed
// back or dropped while it waited to start.
func (a *attempt) endUnstarted(log interface{ Info(string, ...any) }) {
	a.mu.Lock()
	a.ending = true
	stopping, interrupted, handBack, dropped := a.stopping, a.interrupted, a.handBack, a.dropped
	a.mu.Unlock()
	if dropped {
		log.Info("attempt dropped before it started; not reporting")
		return
	}
	rep := &api.ResultReport{}
	if handBack || interrupted || stopping {
		rep = a.ended(handBack, interrupted, "stopped on request before it started")
	}
	a.report(rep)
}

// ended is the report of an attempt the worker ended: handed back (the
// worker leaves), interrupted (it shuts down), else stopped on request.
func (a *attempt) ended(handBack, interrupted bool, stopped string) *api.ResultReport {
	switch {
	case handBack:
		return &api.ResultReport{Status: api.ResultHandedBack, Message: fmt.Sprintf("worker %s is leaving the cluster", a.w.cfg.ID)}
	case interrupted:
		return &api.ResultReport{Status: api.ResultInterrupted, Message: fmt.Sprintf("worker %s shut down", a.w.cfg.ID)}
	}
	return &api.ResultReport{Status: api.StatusCanceled, Message: stopped}
}

func (a *attempt) failStart(err error) {
	a.emit(a.errorf("start package process: %v", err))
	a.report(&api.ResultReport{Status: api.StatusFailed, Message: "cannot start package process: " + err.Error()})
}

// message handles one line of the child's output while it runs this
// attempt.
func (a *attempt) message(line []byte, cut bool) {
	a.mu.Lock()
	a.heard++
	if !a.spoke {
		a.spoke = true
		close(a.firstLine)
	}
	a.mu.Unlock()
	if cut {
		a.emit(a.errorf("a message from the package process was over %d bytes and was dropped", maxChildLine))
		return
	}
	var m Message
	if err := json.Unmarshal(line, &m); err != nil {
		a.emit(a.errorf("unreadable message from package process: %v", err))
		return
	}
	switch {
	case m.Event != nil:
		a.emit(fromExecutorEvent(*m.Event))
	case m.Proc != nil:
		a.mu.Lock()
		if m.Proc.Running {
			a.pgids[m.Proc.PGID] = true
			if a.ch != nil {
				a.ch.box.group(m.Proc.PGID)
			}
		} else {
			delete(a.pgids, m.Proc.PGID)
		}
		a.mu.Unlock()
	case m.Result != nil:
		a.mu.Lock()
		first := a.result == nil
		a.result = m.Result
		a.mu.Unlock()
		if first {
			close(a.gotResult)
		}
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
	batch, bytes, first := a.buf, a.bufBytes, a.bufFirst
	a.buf, a.bufBytes, a.inflight = nil, 0, bytes
	a.bufFirst += uint64(len(batch))
	a.mu.Unlock()
	if len(batch) == 0 {
		return true
	}
	// The batch counts against MaxBufferedBytes until it is delivered, so
	// that a slow master slows the child down instead of growing memory.
	defer func() {
		a.mu.Lock()
		a.inflight = 0
		a.room.Broadcast()
		a.mu.Unlock()
	}()
	if err := a.send(func(ctx context.Context) error {
		return a.w.reportEvents(ctx, a.task.ID, a.task.Attempt, first, batch)
	}); err != nil {
		if api.IsStatus(err, http.StatusConflict) {
			a.w.logger.Warn("master rejected events of a superseded attempt; killing it", "id", a.task.ID, "attempt", a.task.Attempt, "error", err)
			a.drop()
			return false
		}
		if isClientError(err) {
			// Refused (a limit, say): sending it again cannot help, and
			// holding it would wedge the attempt. The log keeps it.
			a.w.logger.Error("master refused a batch of events; dropped (the attempt log has them)", "id", a.task.ID, "attempt", a.task.Attempt, "events", len(batch), "error", err)
			return true
		}
		// Could not deliver for a whole lease: keep the events for the
		// result report.
		a.mu.Lock()
		a.buf = append(batch, a.buf...)
		a.bufBytes += bytes
		a.bufFirst = first
		a.mu.Unlock()
	}
	return true
}

func (a *attempt) report(rep *api.ResultReport) {
	// The log is complete once the result is known: whoever reads the
	// result may read the log at once.
	if a.log != nil {
		a.log.close()
	}
	// The child masks its events but not its result's message, which may
	// quote a sensitive value (a command line, a path): mask it here.
	rep.Message = a.mask(rep.Message)
	a.mu.Lock()
	rep.Events, rep.First = a.buf, a.bufFirst
	a.buf, a.bufBytes = nil, 0
	a.room.Broadcast()
	a.mu.Unlock()
	lattrace.Stamp(a.task.ID, "w.report")
	if err := a.w.saveResult(a.task.ID, a.task.Attempt, rep); err != nil {
		a.w.logger.Warn("cannot save the result before sending it; a crash now would lose it", "id", a.task.ID, "attempt", a.task.Attempt, "error", err)
	}
	a.deliver(rep)
}

// deliver sends a result until the master answers it: accepted, or refused
// (a 4xx: the attempt was superseded or the execution is gone, and sending
// again cannot help). Either answer removes the saved result. While the
// master cannot be reached it keeps trying for resultRetryLeases leases
// (the attempt stays listed in polls as ending, which keeps its lease);
// after that, or when the worker shuts down and a lease has passed, the
// saved result waits for the agent's next start.
func (a *attempt) deliver(rep *api.ResultReport) {
	lattrace.Stamp(a.task.ID, "w.saved")
	err := a.sendUntil(resultRetryLeases, func(ctx context.Context) error {
		return a.w.reportResult(ctx, a.task.ID, a.task.Attempt, rep)
	})
	lattrace.Stamp(a.task.ID, "w.delivered")
	switch {
	case err == nil:
		a.w.forgetResult(a.task.ID, a.task.Attempt)
	case isClientError(err):
		a.w.logger.Warn("master refused the result", "id", a.task.ID, "attempt", a.task.Attempt, "status", rep.Status, "error", err)
		a.w.forgetResult(a.task.ID, a.task.Attempt)
	default:
		a.w.logger.Error("could not report result; it is kept for the agent's next start", "id", a.task.ID, "attempt", a.task.Attempt, "status", rep.Status, "error", err)
	}
}

// resultRetryLeases is how many leases a result is retried for while the
// worker runs.
const resultRetryLeases = 6

// send retries fn until it succeeds, the master answers with a client error
// (4xx: retrying cannot help), or a whole lease has passed.
func (a *attempt) send(fn func(ctx context.Context) error) error { return a.sendUntil(1, fn) }

// sendUntil is send for up to leases leases; once the worker shuts down it
// stops after one.
func (a *attempt) sendUntil(leases int, fn func(ctx context.Context) error) error {
	start := time.Now()
	backoff := 50 * time.Millisecond
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := fn(ctx)
		cancel()
		if err == nil || isClientError(err) {
			return err
		}
		spent := time.Since(start)
		if spent > time.Duration(leases)*a.w.cfg.LeaseTimeout || (spent > a.w.cfg.LeaseTimeout && a.w.closing()) {
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

// isClientError reports a 4xx answer: the master refused the request.
func isClientError(err error) bool {
	var ae *api.Error
	return errors.As(err, &ae) && ae.StatusCode >= 400 && ae.StatusCode < 500
}
