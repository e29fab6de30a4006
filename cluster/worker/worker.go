package worker

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/scaleout/scaleout/api"
	"github.com/scaleout/scaleout/cluster/internal/failpoint"
	"github.com/scaleout/scaleout/cluster/internal/tick"
	"github.com/scaleout/scaleout/internal/lattrace"
)

// Config configures a worker.
type Config struct {
	// ID is the worker id (the node name). Required.
	ID string
	// Node is the agent's node name.
	Node string
	// Labels are the worker's labels.
	Labels map[string]string
	// MaxTasks is the number of attempts run at once (SSIS default 10).
	MaxTasks int
	// PollWait is the long-poll wait; because each poll renews the leases of
	// running attempts, it is also the heartbeat interval.
	PollWait time.Duration
	// LeaseTimeout is the master's lease: a worker that cannot reach the
	// master for this long stops its attempts itself, since the master will
	// have given them to another worker.
	LeaseTimeout time.Duration
	// KillGrace is how long a task gets between SIGTERM and SIGKILL.
	KillGrace time.Duration
	// EventFlush is how often buffered events are sent; EventBatch the size
	// at which they are sent at once.
	EventFlush time.Duration
	EventBatch int
	// MaxEvents caps the events of one attempt sent to the master (0:
	// DefaultMaxEvents); later ones are kept only in the attempt's log,
	// and one event says so.
	MaxEvents int
	// MaxBufferedBytes caps the message bytes of the events an attempt
	// holds for the master, sent or not (0: 1 MiB). When it is reached, the worker stops
	// reading the child's output until a batch is sent, which in turn
	// blocks the child's tasks on their output pipes (backpressure).
	MaxBufferedBytes int
	// LogDir holds the attempt logs (empty: WorkDir/logs).
	LogDir string
	// MaxLogBytes caps one attempt's log (0: 64 MiB); beyond it the oldest
	// half is dropped.
	MaxLogBytes int64
	// KeepLogs is how many attempt logs are kept (0: 200); older ones are
	// removed when an attempt ends.
	KeepLogs int
	// MaxStarting is how many child processes are being started at once
	// (0: 4). Leased attempts wait their turn, listed in every poll, so
	// starting hundreds of children cannot delay the heartbeat.
	MaxStarting int
	// ReuseChildren lets a package process that ended an attempt cleanly
	// run the next one (it says so with a Ready line after its result);
	// false starts one per attempt.
	ReuseChildren bool
	// WarmChildren is how many package processes are kept started and
	// waiting even when no attempt has come for IdleChildTimeout (with
	// ReuseChildren); up to MaxTasks are kept while attempts keep coming.
	WarmChildren     int
	IdleChildTimeout time.Duration
	// Cgroups starts each package process in a cgroup v2 of its own where
	// the kernel allows it (contain.go); false (or where it cannot):
	// process groups and a pid record in WorkDir/procs.
	Cgroups bool
	// Command is the child command line: the agent binary and its hidden
	// exec subcommand.
	Command []string
	// WorkDir is where each attempt gets a working directory.
	WorkDir string
	// TaskEnvAllow names the variables of the agent's environment that
	// package processes get besides DefaultTaskEnv (a name, or a prefix
	// ending in '*'); CredentialEnv is never passed (env.go).
	TaskEnvAllow []string
	// TaskAllowPaths are the directories outside an attempt's work
	// directory that a package's allow_paths may open to file operations
	// (the entry itself or a directory below one of these); empty: none.
	TaskAllowPaths []string
	// TaskRequestMaxCPU (percent of all CPUs) and TaskRequestMinMemory
	// (bytes available) are SSIS's admission thresholds: above the CPU
	// ceiling or below the memory floor the worker asks for no new work
	// (admission.go; Linux only). 0 turns each off.
	TaskRequestMaxCPU    float64
	TaskRequestMinMemory uint64
	// TaskNice is how much lower than the agent's the CPU priority of
	// package processes (and so their tasks) is: 0 to 19 (nice values;
	// Linux only). The agent's own work (heartbeats, the API, starting
	// children) then comes before the packages' when CPUs are short.
	TaskNice int
	// Client reaches the master through the local agent.
	Client *api.Client
	// Logger receives worker logs.
	Logger hclog.Logger
}

// Defaults of the output and start limits (Config).
const (
	DefaultMaxEvents        = 100_000
	DefaultMaxBufferedBytes = 1 << 20
	DefaultMaxLogBytes      = 64 << 20
	DefaultKeepLogs         = 200
	DefaultMaxStarting      = 4
	DefaultTaskNice         = 5
)

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{MaxTasks: 10, PollWait: 2 * time.Second, LeaseTimeout: 10 * time.Second,
		KillGrace: 3 * time.Second, EventFlush: 200 * time.Millisecond, EventBatch: 500,
		MaxEvents: DefaultMaxEvents, MaxBufferedBytes: DefaultMaxBufferedBytes, MaxLogBytes: DefaultMaxLogBytes,
		KeepLogs: DefaultKeepLogs, MaxStarting: DefaultMaxStarting,
		ReuseChildren: true, WarmChildren: 1, IdleChildTimeout: 30 * time.Second, Cgroups: true, TaskNice: DefaultTaskNice}
}

// Validate reports the first problem with c.
func (c *Config) Validate() error {
	switch {
	case c.ID == "":
		return errors.New("worker id is empty")
	case c.MaxTasks <= 0:
		return errors.New("max tasks must be positive")
	case c.PollWait <= 0 || c.LeaseTimeout <= 0 || c.KillGrace <= 0 || c.EventFlush <= 0:
		return errors.New("worker timings must be positive")
	case c.PollWait >= c.LeaseTimeout:
		return fmt.Errorf("poll wait %s must be shorter than the lease %s", c.PollWait, c.LeaseTimeout)
	case c.EventBatch <= 0:
		return errors.New("event batch must be positive")
	case c.WarmChildren < 0 || c.WarmChildren > c.MaxTasks:
		return fmt.Errorf("warm children must be between 0 and max tasks (%d), got %d", c.MaxTasks, c.WarmChildren)
	case c.MaxEvents < 0 || c.MaxBufferedBytes < 0 || c.MaxLogBytes < 0 || c.KeepLogs < 0 || c.MaxStarting < 0:
		return errors.New("worker output and start limits must not be negative")
	case len(c.Command) == 0:
		return errors.New("child command is empty")
	case c.WorkDir == "":
		return errors.New("work dir is empty")
	case c.Client == nil:
		return errors.New("api client is nil")
	case c.TaskRequestMaxCPU < 0 || c.TaskRequestMaxCPU > 100:
		return fmt.Errorf("task request max CPU must be between 0 (off) and 100 percent, got %g", c.TaskRequestMaxCPU)
	case c.TaskNice < 0 || c.TaskNice > 19:
		return fmt.Errorf("task nice must be between 0 and 19, got %d", c.TaskNice)
	}
	return CheckTaskSettings(c.TaskEnvAllow, c.TaskAllowPaths)
}

// maxPollBackoff caps the wait between failed polls.
const maxPollBackoff = 250 * time.Millisecond

// Worker runs attempts leased from the master.
type Worker struct {
	cfg    Config
	logger hclog.Logger

	mu           sync.Mutex
	running      map[uint64]*attempt
	lastContact  time.Time
	draining     bool          // lease nothing new
	shuttingDown bool          // Run's context ended: results are retried for one lease only
	ended        chan struct{} // closed and replaced whenever an attempt ends

	starting   chan struct{} // a slot per child being started (MaxStarting)
	pool       *pool         // package processes waiting for an attempt
	contain    *containment  // where package processes and what they start are kept
	pruneMu    sync.Mutex    // one pruneLogs at a time; guards the two below
	logsListed bool          // endedLogs was read from LogDir
	endedLogs  []endedLog    // logs of ended attempts, oldest first

	tokens    *pollTokens   // names polls, remembers unanswered ones
	compat    compat        // an older leader: leave the new protocol fields out
	admit     *admission    // TaskRequestMaxCPU / MinMemory
	refused   string        // the admission's last refusal, logged when it changes
	childEnv  []string      // the package processes' environment (TaskEnv)
	ready     chan struct{} // closed after the first successful poll
	readyOnce sync.Once
	wg        sync.WaitGroup
}

// Ready is closed once the worker has registered and polled the master
// successfully.
func (w *Worker) Ready() <-chan struct{} { return w.ready }

// New returns a worker; Run starts it.
func New(cfg Config) (*Worker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("worker config: %w", err)
	}
	if cfg.Logger == nil {
		cfg.Logger = hclog.NewNullLogger()
	}
	def := DefaultConfig()
	for _, f := range []struct{ v, d *int }{{&cfg.MaxEvents, &def.MaxEvents}, {&cfg.MaxBufferedBytes, &def.MaxBufferedBytes}, {&cfg.KeepLogs, &def.KeepLogs}, {&cfg.MaxStarting, &def.MaxStarting}} {
		if *f.v == 0 {
			*f.v = *f.d
		}
	}
	if cfg.MaxLogBytes == 0 {
		cfg.MaxLogBytes = def.MaxLogBytes
	}
	if cfg.LogDir == "" {
		cfg.LogDir = filepath.Join(cfg.WorkDir, "logs")
	}
	if err := os.MkdirAll(cfg.WorkDir, 0o700); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.LogDir, 0o700); err != nil {
		return nil, err
	}
	w := &Worker{cfg: cfg, logger: cfg.Logger.Named("worker"), running: map[uint64]*attempt{}, ready: make(chan struct{}), ended: make(chan struct{}),
		starting: make(chan struct{}, cfg.MaxStarting), childEnv: TaskEnv(os.Environ(), cfg.TaskEnvAllow)}
	w.pool = &pool{w: w}
	var err error
	if w.contain, err = newContainment(cfg.WorkDir, cfg.Cgroups, w.logger); err != nil {
		return nil, err
	}
	// What package processes of an earlier run of this data dir left (the
	// agent was killed with them) ends before this worker starts any or
	// reports anything.
	w.contain.sweep()
	w.tokens = newPollTokens()
	w.admit = newAdmission(cfg.TaskRequestMaxCPU, cfg.TaskRequestMinMemory, nil)
	return w, nil
}

// Running returns the number of attempts running.
func (w *Worker) Running() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.running)
}

// Run registers the worker and polls until ctx ends. Then it stops every
// running attempt (SIGTERM, SIGKILL after the grace period) and reports each
// as interrupted, so the master retries it or records it as stopped.
func (w *Worker) Run(ctx context.Context) {
	w.register(ctx)
	w.mu.Lock()
	w.lastContact = time.Now()
	w.mu.Unlock()
	w.redeliver()
	// Fence on a clock of its own: a poll that hangs (a partition that
	// drops packets) must not postpone it past the lease.
	go tick.Every(w.cfg.LeaseTimeout/10, ctx.Done(), w.fenceIfCutOff)
	if w.cfg.ReuseChildren {
		go w.pool.warmUp(w.cfg.WarmChildren)
		idle := w.cfg.IdleChildTimeout
		if idle <= 0 {
			idle = DefaultConfig().IdleChildTimeout
		}
		go tick.Every(max(idle/4, 10*time.Millisecond), ctx.Done(), func() { w.pool.trim(idle, w.cfg.WarmChildren) })
	}
	backoff := 50 * time.Millisecond
	for ctx.Err() == nil {
		err := w.pollOnce(ctx)
		if err == nil {
			backoff = 50 * time.Millisecond
			continue
		}
		if ctx.Err() != nil {
			break
		}
		if api.IsStatus(err, http.StatusNotFound) {
			w.register(ctx)
			continue
		}
		w.logger.Warn("poll failed", "error", err, "retry_in", backoff)
		w.fenceIfCutOff()
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		// Capped low: while a new leader is elected every poll fails fast
		// (503), and the first poll after the election is what resumes
		// dispatch, so a long wait here would add straight to failover.
		if backoff *= 2; backoff > maxPollBackoff {
			backoff = maxPollBackoff
		}
	}
	w.shutdown()
}

func (w *Worker) register(ctx context.Context) {
	backoff := 50 * time.Millisecond
	for ctx.Err() == nil {
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := w.cfg.Client.Workers().Register(rctx, &api.Worker{ID: w.cfg.ID, Node: w.cfg.Node, Labels: w.cfg.Labels, MaxTasks: w.cfg.MaxTasks})
		cancel()
		if err == nil {
			w.logger.Info("registered", "id", w.cfg.ID, "max_tasks", w.cfg.MaxTasks)
			return
		}
		w.logger.Debug("register failed; retrying", "error", err)
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		if backoff *= 2; backoff > 2*time.Second {
			backoff = 2 * time.Second
		}
	}
}

func (w *Worker) pollOnce(ctx context.Context) error {
	w.mu.Lock()
	req := &api.PollRequest{Slots: w.cfg.MaxTasks, WaitMS: int(w.cfg.PollWait / time.Millisecond)}
	if w.draining {
		req.Slots = 0
	}
	for _, a := range w.running {
		ref := a.ref()
		req.Running = append(req.Running, ref)
		if !ref.Ending {
			req.Slots-- // an attempt that is only reporting holds no process
		}
	}
	if req.Slots < 0 {
		req.Slots = 0
	}
	w.mu.Unlock()
	w.admitSlots(req)

	// The request must not be cut short by ctx: an answer that leases tasks
	// and is then dropped costs those executions an attempt. Bound it by
	// time instead.
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.cfg.PollWait+5*time.Second)
	defer cancel()
	// The master renews the leases when the poll arrives, not when it
	// answers (up to PollWait later): count the lease from the sending.
	// An attempt leased by a poll whose answer is lost is handed again
	// while the lease lasts; the master expires it after that.
	req.Token, req.Unanswered = w.tokens.next(2 * w.cfg.LeaseTimeout)
	if w.compat.legacy() {
		req.Token, req.Unanswered = "", nil
	}
	sent := time.Now()
	resp, err := w.cfg.Client.Workers().Poll(pctx, w.cfg.ID, req)
	if err == nil && len(resp.Tasks) > 0 && failpoint.Once("worker-poll-answer-lost") {
		err = errors.New("failpoint: the answer of a poll that leased attempts is lost")
	}
	if err != nil {
		w.tokens.lost(req.Token)
		if w.olderLeader(err) {
			return nil // nothing was leased: poll again at once, the old way
		}
		return err
	}
	w.readyOnce.Do(func() { close(w.ready) })
	w.mu.Lock()
	w.lastContact = sent
	w.mu.Unlock()
	// Renew a child's fence when less than seven eighths of the budget is
	// left of it: one short line per child about every eighth of the
	// budget however often polls are answered.
	left, budget := w.fenceBudget()-time.Since(sent), w.fenceBudget()
	for _, a := range w.attempts() {
		a.renew(left, budget*7/8)
	}
	for _, ref := range resp.Drop {
		if a := w.get(ref); a != nil && !a.ref().Ending {
			w.logger.Warn("master no longer accepts attempt; killing it", "id", ref.ID, "attempt", ref.Attempt)
			a.drop()
		}
	}
	for _, ref := range resp.Stop {
		if a := w.get(ref); a != nil {
			w.logger.Info("stopping attempt", "id", ref.ID, "attempt", ref.Attempt)
			a.stop()
		}
	}
	for _, t := range resp.Tasks {
		lattrace.Stamp(t.ID, "w.polled")
		w.start(ctx, t)
	}
	return nil
}

func (w *Worker) get(ref api.AttemptRef) *attempt {
	w.mu.Lock()
	defer w.mu.Unlock()
	if a := w.running[ref.ID]; a != nil && a.task.Attempt == ref.Attempt {
		return a
	}
	return nil
}

// fenceBudget is how long a package process may run an attempt after the
// sending of the worker's last answered poll: the lease, as for the
// worker's own fence. The master renewed the lease when that poll arrived,
// which is no earlier, so a child whose worker cannot renew it (frozen,
// cut off) has killed its tasks (SIGKILL, no grace) before the master can
// expire the attempt and give it to another worker. (Nine tenths of the
// lease fenced healthy attempts under load: a poll that took most of the
// lease to come back left the attempt it leased too little, and the next
// poll's own wait used the rest.) At least two poll waits.
func (w *Worker) fenceBudget() time.Duration {
	return max(w.cfg.LeaseTimeout, 2*w.cfg.PollWait)
}

// fenceLeft is what is left of the fence budget now.
func (w *Worker) fenceLeft() time.Duration {
	w.mu.Lock()
	last := w.lastContact
	w.mu.Unlock()
	return w.fenceBudget() - time.Since(last)
}

// fenceIfCutOff kills every attempt when the master has been unreachable
// for a whole lease: by then it has expired them and may have given them to
// another worker, and two copies must not run.
func (w *Worker) fenceIfCutOff() {
	w.mu.Lock()
	cut := time.Since(w.lastContact) > w.cfg.LeaseTimeout
	w.mu.Unlock()
	if !cut {
		return
	}
	for _, a := range w.attempts() {
		if a.packageEnded() {
			// Its package has ended (its last events or its result may
			// still be on the way): there is nothing to kill, and its
			// result is still worth delivering (a new leader gives every
			// running attempt a full lease; a master that expired it
			// refuses it as stale). Dropping it threw finished work away.
			continue
		}
		w.logger.Error("master unreachable for a whole lease; killing attempt", "id", a.task.ID, "attempt", a.task.Attempt)
		a.drop()
	}
}

func (w *Worker) start(ctx context.Context, t api.Task) {
	a := newAttempt(w, t)
	w.mu.Lock()
	if old := w.running[t.ID]; old != nil {
		// A newer attempt of the same execution supersedes the old one.
		old.drop()
	}
	w.running[t.ID] = a
	w.mu.Unlock()
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		a.run(ctx)
		w.attemptEnded(a)
	}()
}

// attemptEnded removes an attempt whose result was reported.
func (w *Worker) attemptEnded(a *attempt) {
	w.mu.Lock()
	if w.running[a.task.ID] == a {
		delete(w.running, a.task.ID)
	}
	close(w.ended)
	w.ended = make(chan struct{})
	w.mu.Unlock()
}

// closing reports whether the worker is shutting down.
func (w *Worker) closing() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.shuttingDown
}

// Drain stops leasing new attempts, lets running ones finish for up to
// timeout, then hands the rest back to the master so that other workers run
// them (without using up their retries). It returns when every attempt has
// ended and been reported. Run keeps polling meanwhile, so stops and leases
// keep working.
func (w *Worker) Drain(timeout time.Duration) {
	w.mu.Lock()
	w.draining = true
	n := len(w.running)
	w.mu.Unlock()
	w.logger.Info("draining", "running", n, "timeout", timeout)
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		w.mu.Lock()
		n, ended := len(w.running), w.ended
		w.mu.Unlock()
		if n == 0 {
			break
		}
		select {
		case <-ended:
			continue
		case <-timer.C:
		}
		break
	}
	for _, a := range w.attempts() {
		w.logger.Info("handing attempt back", "id", a.task.ID, "attempt", a.task.Attempt)
		a.handBackNow()
	}
	w.wg.Wait()
}

// Abandon kills every attempt without reporting anything, as if the agent
// had died with them (tests use it to simulate a crash in one process).
func (w *Worker) Abandon() {
	for _, a := range w.attempts() {
		a.drop()
	}
}

func (w *Worker) shutdown() {
	w.mu.Lock()
	w.shuttingDown = true
	w.mu.Unlock()
	for _, a := range w.attempts() {
		a.interrupt()
	}
	w.wg.Wait()
	w.pool.shutdown()
	w.contain.close()
}

// attempts returns the running attempts.
func (w *Worker) attempts() []*attempt {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Collect(maps.Values(w.running))
}

func (w *Worker) attemptDir(t api.Task) string {
	return filepath.Join(w.cfg.WorkDir, fmt.Sprintf("%d-%d", t.ID, t.Attempt))
}
