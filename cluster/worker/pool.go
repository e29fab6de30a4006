package worker

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"sync"
	"time"

	"github.com/scaleout/scaleout/executor"
)

// maxStderrLine cuts what a child writes to stderr into events.
const maxStderrLine = executor.MaxMessage

// child is one package-runtime process (`scaleout exec`) the worker
// started. It runs one attempt at a time; the pool keeps it between
// attempts when the child says it left nothing of a run behind
// (a Ready line after its result), so that an attempt does not pay for starting a
// process of its own. A child that is stopped, crashes, hangs or runs
// something that cannot be cleaned up is never reused: it exits, or is
// killed with its process group, and only its own attempt sees it.
type child struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	box   *box // its containment: cgroup and pid record
	jobs  int  // jobs sent to it (only by the attempt that holds it)

	ready  chan struct{} // gets a value at each Ready line (buffered: 1)
	dead   chan struct{} // closed when its stdout ended: it exited or is about to
	exited chan struct{} // closed once it was reaped (waitErr set)

	wmu     sync.Mutex // one writer of stdin at a time
	fenceAt time.Time  // on wmu: the fence the child was last given (job or Renew line)

	mu        sync.Mutex
	cur       *attempt // the attempt it runs, which gets its output
	reaped    bool     // waited for: its pid may be reused, never signal it again
	waitErr   error
	idleSince time.Time
}

// attach routes the child's output to a.
func (c *child) attach(a *attempt) {
	c.mu.Lock()
	c.cur = a
	c.mu.Unlock()
}

// detach stops routing the child's output to an attempt.
func (c *child) detach() {
	c.mu.Lock()
	c.cur = nil
	c.mu.Unlock()
}

func (c *child) current() *attempt {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cur
}

// killTree SIGKILLs the child's process group unless it was reaped.
func (c *child) killTree() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.reaped {
		killTree(c.cmd.Process)
	}
}

// send writes a job line to the child.
func (c *child) send(job *Job) error {
	line, err := json.Marshal(job)
	if err != nil {
		return err
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.fenceAt = time.Now().Add(time.Duration(job.FenceMS) * time.Millisecond)
	_, err = c.stdin.Write(append(line, '\n'))
	return err
}

// renew extends the fence of the attempt the child runs to d from now,
// unless more than keep is still left of it: it is called after every
// answered poll, which can be many a second. It never blocks: a child that
// does not read its stdin (hung) misses the renewal and fences itself.
func (c *child) renew(d, keep time.Duration) {
	if !c.wmu.TryLock() {
		return
	}
	if time.Until(c.fenceAt) > keep {
		c.wmu.Unlock()
		return
	}
	c.fenceAt = time.Now().Add(d)
	go func() {
		defer c.wmu.Unlock()
		line, _ := json.Marshal(Renew{RenewMS: max(int(d/time.Millisecond), 1)})
		_, _ = c.stdin.Write(append(line, '\n'))
	}()
}

// close asks an idle child to exit (EOF on its stdin) and kills it if it
// has not after grace.
func (c *child) close(grace time.Duration) {
	_ = c.stdin.Close()
	go func() {
		select {
		case <-c.exited:
		case <-time.After(grace):
			c.killTree()
		}
	}()
}

// pool holds the worker's idle children.
type pool struct {
	w *Worker

	mu      sync.Mutex
	idle    []*child      // newest last
	warming int           // children warmUp is starting
	changed chan struct{} // closed and replaced when a child is put, a warm start or a settle ends
	closed  bool
	// settling counts children that reported a result and have not yet
	// said whether they can take another job (settle); claims counts the
	// attempts in get waiting for one of them, so that no more attempts
	// wait than children may come back.
	settling, claims int
}

// notify wakes the attempts waiting in get; p.mu must be held.
func (p *pool) notify() {
	if p.changed != nil {
		close(p.changed)
	}
	p.changed = make(chan struct{})
}

// errQuit reports that an attempt ended (stopped, dropped...) while it
// waited for a child.
var errQuit = errors.New("attempt ended while waiting for a package process")

// get returns a child for a: the newest idle one, or a new one once a start
// slot is free (at most MaxStarting children start at once, so that
// starting hundreds cannot starve the heartbeat).
func (p *pool) get(a *attempt) (*child, error) {
	// A child that has just reported its result says within a millisecond
	// or so whether it can run another job; under load, the next lease
	// often comes in between. Waiting for it (up to claimWait) costs less
	// than starting a process, which is what the pool is there to avoid.
	claimUntil := time.Now().Add(claimWait)
	for {
		c, changed, claim := p.look(claimUntil)
		if c != nil {
			select {
			case <-c.dead:
				continue // exited while idle (killed from outside, say)
			default:
				return c, nil
			}
		}
		if changed == nil {
			break
		}
		// A warm child is on its way, or a child that ended its run may
		// come back: wait for it rather than start a second process at
		// the same time.
		var timeout <-chan time.Time
		var t *time.Timer
		if claim {
			t = time.NewTimer(time.Until(claimUntil))
			timeout = t.C
		}
		select {
		case <-changed:
		case <-timeout:
		case <-a.quit:
		}
		if claim {
			t.Stop()
			p.mu.Lock()
			p.claims--
			p.mu.Unlock()
		}
		select {
		case <-a.quit:
			return nil, errQuit
		default:
		}
	}
	select {
	case p.w.starting <- struct{}{}:
	case <-a.quit:
		return nil, errQuit
	}
	defer func() { <-p.w.starting }()
	return p.start(a.quit)
}

// look takes the newest idle child, if any. Otherwise it returns the
// channel to wait on when a child may come: a warm start is under way, or
// a child is settling that no other attempt has claimed (then claim is
// true and the caller holds the claim until it looks again); changed is
// nil when the caller should start a process.
func (p *pool) look(claimUntil time.Time) (c *child, changed chan struct{}, claim bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := len(p.idle); n > 0 {
		c, p.idle = p.idle[n-1], p.idle[:n-1]
		return c, nil, false
	}
	if p.changed == nil {
		p.changed = make(chan struct{})
	}
	if p.warming > 0 {
		return nil, p.changed, false
	}
	if p.settling > p.claims && time.Now().Before(claimUntil) {
		p.claims++
		return nil, p.changed, true
	}
	return nil, nil, false
}

// claimWait bounds how long an attempt waits for a settling child before
// it starts a process of its own (a child that hangs after its result is
// killed only after verdictWait).
const claimWait = 500 * time.Millisecond

// startTimeout bounds how long a new child may take to say it is ready.
const startTimeout = 30 * time.Second

// start starts a child and waits for its Ready line (or quit).
func (p *pool) start(quit <-chan struct{}) (*child, error) {
	cfg := p.w.cfg
	cmd := exec.Command(cfg.Command[0], cfg.Command[1:]...)
	cmd.Dir = cfg.WorkDir
	cmd.Env = p.w.childEnv // scrubbed: no agent credential (env.go)
	setGroup(cmd)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	bx := p.w.contain.newBox(cmd) // after setGroup: it adds to SysProcAttr
	if err := cmd.Start(); err != nil {
		if bx.startFailed() {
			return p.start(quit) // cgroups are off now: a new command without
		}
		return nil, err
	}
	bx.started(cmd.Process.Pid)
	lowerPriority(cmd.Process.Pid, cfg.TaskNice, p.w.logger)
	c := &child{cmd: cmd, stdin: stdin, box: bx, ready: make(chan struct{}, 1), dead: make(chan struct{}), exited: make(chan struct{})}
	var readers sync.WaitGroup
	readers.Add(2)
	go func() { defer readers.Done(); p.readMessages(c, stdout) }()
	go func() { defer readers.Done(); p.readStderr(c, stderr) }()
	go func() {
		readers.Wait()
		close(c.dead)
		// It closed its output, so it has exited or is about to. Kill
		// whatever it or its attempt left behind while its pid cannot yet
		// be reused, then reap it.
		if a := c.current(); a != nil {
			a.killGroups()
		}
		c.killTree()
		err := cmd.Wait()
		_ = stdin.Close()
		c.mu.Lock()
		c.reaped, c.waitErr = true, err
		c.mu.Unlock()
		// What escaped its process groups (setsid, double forks) is still
		// in its cgroup, where there is one.
		bx.release()
		close(c.exited)
	}()
	timer := time.NewTimer(startTimeout)
	defer timer.Stop()
	select {
	case <-c.ready:
		return c, nil
	case <-c.dead:
		<-c.exited
		return nil, fmt.Errorf("package process exited at start: %v", c.waitErr)
	case <-timer.C:
		c.killTree()
		return nil, fmt.Errorf("package process not ready after %s", startTimeout)
	case <-quit:
		c.close(cfg.KillGrace)
		return nil, errQuit
	}
}

// verdictWait bounds how long a child may take after its result to say it
// can run another attempt.
const verdictWait = 10 * time.Second

// startSettling counts a child as settling; the caller then runs settle for
// it. It is counted before settle's goroutine starts, so that a lease that
// comes at once already waits for the child instead of starting a new one.
func (p *pool) startSettling() {
	p.mu.Lock()
	p.settling++
	p.mu.Unlock()
}

// settle waits for the verdict of a child that reported a result for a
// (counted by startSettling): a Ready line (it left nothing behind: back
// to the pool) or its exit. A child that says neither in time is killed.
// It runs beside the report of the result, off the attempt's critical
// path.
func (p *pool) settle(c *child, a *attempt) {
	defer func() {
		p.mu.Lock()
		p.settling--
		p.notify() // the attempts that waited for it look again
		p.mu.Unlock()
	}()
	timer := time.NewTimer(verdictWait)
	defer timer.Stop()
	select {
	case <-c.ready:
		// Groups it announced and did not end (none, or it would not
		// offer itself again): killed like those of a child that exited.
		a.killGroups()
		p.put(c)
	case <-c.dead:
	case <-timer.C:
		p.w.logger.Warn("package process neither exited nor took another job after its result; killing it", "pid", c.cmd.Process.Pid)
		c.killTree()
	}
}

// put keeps a child that finished an attempt cleanly for the next one, up
// to MaxTasks idle children; others are closed.
func (p *pool) put(c *child) {
	c.detach()
	c.mu.Lock()
	c.idleSince = time.Now()
	c.mu.Unlock()
	p.mu.Lock()
	keep := !p.closed && len(p.idle) < p.w.cfg.MaxTasks
	if keep {
		p.idle = append(p.idle, c)
		p.notify()
	}
	p.mu.Unlock()
	if !keep {
		c.close(p.w.cfg.KillGrace)
	}
}

// trim closes children idle longer than idle, keeping the newest warm ones.
func (p *pool) trim(idle time.Duration, warm int) {
	p.mu.Lock()
	var old []*child
	for len(p.idle) > warm {
		c := p.idle[0]
		c.mu.Lock()
		since := c.idleSince
		c.mu.Unlock()
		if time.Since(since) < idle {
			break
		}
		old = append(old, c)
		p.idle = p.idle[1:]
	}
	p.mu.Unlock()
	for _, c := range old {
		c.close(p.w.cfg.KillGrace)
	}
}

// warmUp starts children until warm are idle (errors are logged: the next
// attempt starts its own).
func (p *pool) warmUp(warm int) {
	for {
		p.mu.Lock()
		n, closed := len(p.idle), p.closed
		if !closed && n < warm {
			p.warming++
		}
		p.mu.Unlock()
		if closed || n >= warm {
			return
		}
		c, err := p.start(nil)
		if err == nil {
			p.put(c) // before warming drops, so that no waiter starts another
		}
		p.mu.Lock()
		p.warming--
		p.notify()
		p.mu.Unlock()
		if err != nil {
			p.w.logger.Warn("could not start a waiting package process", "error", err)
			return
		}
	}
}

// shutdown closes every idle child and keeps the pool from taking more; it
// waits up to KillGrace for them to exit.
func (p *pool) shutdown() {
	p.mu.Lock()
	p.closed = true
	idle := p.idle
	p.idle = nil
	p.mu.Unlock()
	for _, c := range idle {
		c.close(p.w.cfg.KillGrace)
	}
	for _, c := range idle {
		<-c.exited
	}
}

// readMessages routes the child's lines to the attempt it runs.
func (p *pool) readMessages(c *child, r io.Reader) {
	err := readLines(r, maxChildLine, func(line []byte, cut bool) {
		if !cut && bytes.HasPrefix(line, []byte(`{"ready":`)) {
			select {
			case c.ready <- struct{}{}:
			default:
			}
			return
		}
		a := c.current()
		if a == nil {
			p.w.logger.Warn("package process wrote while it ran no attempt; ignored", "pid", c.cmd.Process.Pid, "bytes", len(line))
			return
		}
		a.message(line, cut)
	})
	if err != nil {
		if a := c.current(); a != nil {
			a.emit(a.errorf("reading package process output: %v", err))
		}
	}
}

// readStderr turns what the child itself writes to stderr (a Go panic, say)
// into error events of its attempt; lines are cut at the event size.
func (p *pool) readStderr(c *child, r io.Reader) {
	_ = readLines(r, maxStderrLine, func(line []byte, cut bool) {
		a := c.current()
		if a == nil {
			p.w.logger.Warn("package process: "+string(line), "pid", c.cmd.Process.Pid)
			return
		}
		if cut {
			a.emit(a.errorf("package process: a line over %d bytes was dropped", maxStderrLine))
			return
		}
		a.mu.Lock()
		a.heard++
		a.mu.Unlock()
		a.emit(a.errorf("package process: %s", line))
	})
}
