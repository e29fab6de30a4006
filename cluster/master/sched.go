package master

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/scaleout/scaleout/api"
	"github.com/scaleout/scaleout/catalog"
	"github.com/scaleout/scaleout/cluster/internal/tick"
	"github.com/scaleout/scaleout/fsm"
)

// Notifier delivers a notification (a run's or an execution's): a POST of
// body to a webhook with headers (values opened), a mail through the
// agents' SMTP server. cluster/agent implements it over HTTP and net/smtp
// (the master knows no network protocol but Raft's).
type Notifier interface {
	Deliver(ctx context.Context, webhook string, headers map[string]string, body []byte) error
	// Mail sends a mail of subject and the JSON body to the addresses.
	Mail(ctx context.Context, to []string, subject string, body []byte) error
}

// SchedulerConfig configures the scheduler.
type SchedulerConfig struct {
	// Interval is how often the leader looks for due ticks, ended steps
	// and notifications to deliver.
	Interval time.Duration
	// DefaultGrace is how late a tick may fire before it counts as missed,
	// for schedules that name none.
	DefaultGrace time.Duration
	// DeliveryAttempts and DeliveryBackoff: a webhook is tried this many
	// times, the waits doubling from DeliveryBackoff up to a minute.
	DeliveryAttempts int
	DeliveryBackoff  time.Duration
	// Notifier sends webhooks; nil records every notification as failed.
	Notifier Notifier
	Logger   hclog.Logger
}

// DefaultSchedulerConfig returns the defaults: a look every 250 ms, ticks
// late by up to a minute still fire, 8 delivery attempts from 1 s.
func DefaultSchedulerConfig() SchedulerConfig {
	return SchedulerConfig{Interval: 250 * time.Millisecond, DefaultGrace: time.Minute, DeliveryAttempts: 8, DeliveryBackoff: time.Second}
}

// Scheduler is the schedules service: definitions through Raft, and on the
// leader the loop that fires ticks, advances job runs and delivers
// notifications.
type Scheduler struct {
	cfg    SchedulerConfig
	m      *Master
	c      *Catalog
	logger hclog.Logger

	mu           sync.Mutex
	delivering   map[notifyKey]bool              // notifications being sent (notify.go)
	toRecord     map[notifyKey]*catalog.Delivery // sent, not yet recorded
	execInFlight int                             // executions' notifications among delivering
	warned       map[string]string               // schedule -> last problem logged
	lastPurge    time.Time                       // of runs past the retention (pass only)

	ctx    context.Context // canceled by Close: ends webhook calls in flight
	cancel context.CancelFunc
	done   chan struct{}
	wg     sync.WaitGroup
}

// NewScheduler returns the scheduler over m (executions) and c (deployed
// packages, the cipher) and starts its loop; the loop acts only while this
// server leads.
func NewScheduler(cfg SchedulerConfig, m *Master, c *Catalog) (*Scheduler, error) {
	if cfg.Interval <= 0 || cfg.DefaultGrace < 0 || cfg.DeliveryAttempts <= 0 || cfg.DeliveryBackoff <= 0 {
		return nil, errors.New("scheduler: interval, attempts and backoff must be positive")
	}
	if cfg.Logger == nil {
		cfg.Logger = hclog.NewNullLogger()
	}
	s := &Scheduler{cfg: cfg, m: m, c: c, logger: cfg.Logger.Named("scheduler"), delivering: map[notifyKey]bool{},
		toRecord: map[notifyKey]*catalog.Delivery{}, warned: map[string]string{}, done: make(chan struct{})}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	if m.raft.IsServer() {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			tick.Every(cfg.Interval, s.done, s.pass)
		}()
	}
	return s, nil
}

// Close stops the loop and waits for deliveries in flight.
func (s *Scheduler) Close() {
	if closeOnce(s.done) {
		s.cancel()
		s.wg.Wait()
	}
}

func (s *Scheduler) view(fn func(tx *catalog.Tx) error) error { return s.m.store.View(fn) }

// Put creates (or with replace, replaces) a schedule after checking its
// timing, resolving every step once (so a typo is a 400 now, not a failed
// run tonight) and sealing the notification's header values.
func (s *Scheduler) Put(ctx context.Context, req *api.ScheduleRequest, replace bool) error {
	sc, err := s.fromRequest(ctx, req, replace)
	if err != nil {
		return err
	}
	_, err = s.m.apply(ctx, fsm.SchedulePutType, &fsm.SchedulePutRequest{Time: s.m.now(), Schedule: *sc, Replace: replace})
	return err
}

func (s *Scheduler) fromRequest(ctx context.Context, req *api.ScheduleRequest, replace bool) (*catalog.Schedule, error) {
	sc := &catalog.Schedule{Name: req.Name, Description: req.Description, Cron: req.Cron, At: req.At, TZ: req.TZ,
		Start: req.Start, End: req.End, CatchUp: req.CatchUp, Overlap: req.Overlap, Paused: req.Paused, Grace: s.cfg.DefaultGrace}
	if err := catalog.ValidateObjectName("schedule", req.Name); err != nil {
		return nil, err
	}
	var err error
	if req.Every != "" {
		if sc.Every, err = time.ParseDuration(req.Every); err != nil || sc.Every <= 0 {
			return nil, invalidf("every %q: want a positive duration such as 10m or 2s", req.Every)
		}
	}
	if req.Grace != "" {
		if sc.Grace, err = time.ParseDuration(req.Grace); err != nil || sc.Grace < 0 {
			return nil, invalidf("grace %q: want a duration such as 1m", req.Grace)
		}
	}
	if sc.CatchUp == "" {
		sc.CatchUp = "skip"
	}
	if sc.Overlap == "" {
		sc.Overlap = "allow"
	}
	if _, err := parseTiming(sc); err != nil {
		return nil, invalid(err)
	}
	if sc.At != nil && !sc.At.After(s.m.now()) {
		return nil, invalidf("at %s is in the past", sc.At.UTC().Format(time.RFC3339))
	}
	steps := req.Steps
	single := req.JobStep.Package != "" || req.JobStep.Source != ""
	switch {
	case single && len(steps) > 0:
		return nil, invalidf("give either a package (or inline package) or a job's steps, not both")
	case single:
		steps = []api.JobStep{req.JobStep}
	case len(steps) == 0:
		return nil, invalidf("schedule %s runs nothing: give --package, --file or a job's steps", req.Name)
	}
	for i, st := range steps {
		cs, err := s.stepFromRequest(ctx, st)
		if err != nil {
			return nil, invalid(fmt.Errorf("step %d: %w", i+1, err))
		}
		sc.Steps = append(sc.Steps, cs)
	}
	if req.Notify != nil {
		if sc.Notify, err = s.notifyFromRequest(req.Name, req.Notify, replace); err != nil {
			return nil, invalid(err)
		}
	}
	if err := catalog.CheckSchedule(sc); err != nil {
		return nil, invalid(err)
	}
	return sc, nil
}

func (s *Scheduler) stepFromRequest(ctx context.Context, st api.JobStep) (catalog.JobStep, error) {
	cs := catalog.JobStep{Name: st.Name, Environment: st.Environment, Source: st.Source, File: st.File, Params: st.Params,
		Retries: st.Retries, LoggingLevel: st.LoggingLevel, OnSuccess: st.OnSuccess, OnFailure: st.OnFailure, RetryCount: st.RetryCount}
	if st.Package != "" {
		if st.Source != "" {
			return cs, errors.New("give either package or source, not both")
		}
		p := strings.Split(st.Package, "/")
		if len(p) != 3 || p[0] == "" || p[1] == "" || p[2] == "" {
			return cs, fmt.Errorf("package %q: want FOLDER/PROJECT/PACKAGE", st.Package)
		}
		cs.Folder, cs.Project, cs.Package = p[0], p[1], p[2]
	} else if st.Environment != "" {
		return cs, errors.New("an environment applies to a deployed package only")
	}
	if st.RetryInterval != "" {
		d, err := time.ParseDuration(st.RetryInterval)
		if err != nil || d < 0 {
			return cs, fmt.Errorf("retry interval %q: want a duration such as 30s", st.RetryInterval)
		}
		cs.RetryInterval = d
	}
	if _, err := s.stepSpec(ctx, cs); err != nil {
		return cs, err
	}
	return cs, nil
}

func (s *Scheduler) notifyFromRequest(name string, n *api.Notify, replace bool) (*catalog.Notify, error) {
	out := &catalog.Notify{On: n.On, Webhook: n.Webhook, Email: n.Email, Headers: map[string]string{}}
	if len(out.On) == 0 {
		out.On = []string{"failure"}
	}
	var old *catalog.Notify
	if replace {
		if sc, err := catalog.Read(s.m.store, func(tx *catalog.Tx) (*catalog.Schedule, error) { return tx.Schedule(name) }); err == nil {
			old = sc.Notify
		}
	}
	for k, v := range n.Headers {
		if v == api.Masked && old != nil && old.Headers[k] != "" {
			out.Headers[k] = old.Headers[k] // unchanged: keep the sealed value
			continue
		}
		sealed, err := s.c.cfg.Cipher.Seal(v)
		if err != nil {
			return nil, fmt.Errorf("seal header %s: %w", k, err)
		}
		out.Headers[k] = sealed
	}
	if len(out.Headers) == 0 {
		out.Headers = nil
	}
	if err := out.Check(); err != nil {
		return nil, err
	}
	return out, nil
}

// stepSpec resolves a step into an execution spec, the way the API resolves
// an execution of the same package: deployed packages through the catalog's
// resolution (environment, server values, defaults, sealed sensitive
// values), inline ones through the inline submission's checks.
func (s *Scheduler) stepSpec(ctx context.Context, st catalog.JobStep) (catalog.ExecutionSpec, error) {
	var spec catalog.ExecutionSpec
	var err error
	if st.Project != "" {
		spec, err = s.c.executionSpec(st.Folder, st.Project, st.Package, &api.CreateExecutionRequest{
			Environment: st.Environment, Params: st.Params, LoggingLevel: st.LoggingLevel, Retries: st.Retries})
	} else {
		spec, err = s.m.inlineSpec(ctx, &api.SubmitRequest{Package: st.Source, File: st.File, Params: st.Params, Retries: st.Retries})
		if err == nil && st.LoggingLevel != "" {
			spec.LoggingLevel = st.LoggingLevel
		}
	}
	if err != nil {
		return spec, err
	}
	return spec, s.m.prepareSpec(&spec)
}

// Delete deletes a schedule; its runs are kept and end as usual.
func (s *Scheduler) Delete(ctx context.Context, name string) error {
	_, err := s.m.apply(ctx, fsm.ScheduleDeleteType, &fsm.ScheduleDeleteRequest{Name: name})
	return err
}

// SetPaused pauses or resumes a schedule.
func (s *Scheduler) SetPaused(ctx context.Context, name string, paused bool) error {
	_, err := s.m.apply(ctx, fsm.SchedulePauseType, &fsm.SchedulePauseRequest{Time: s.m.now(), Name: name, Paused: paused})
	return err
}

// RunNow starts a run of the schedule at once (paused or not; overlap
// policies do not apply), outside its ticks.
func (s *Scheduler) RunNow(ctx context.Context, name string) (run, execution uint64, err error) {
	sc, err := catalog.Read(s.m.store, func(tx *catalog.Tx) (*catalog.Schedule, error) { return tx.Schedule(name) })
	if err != nil {
		return 0, 0, err
	}
	now := s.m.now()
	req := &fsm.ScheduleFireRequest{Time: now, Name: name, Tick: now, Manual: true}
	spec, err := s.stepSpec(ctx, sc.Steps[0])
	if err != nil {
		return 0, 0, invalid(fmt.Errorf("step 1: %w", err))
	}
	req.Spec = &spec
	resp, err := s.m.apply(ctx, fsm.ScheduleFireType, req)
	if err != nil {
		return 0, 0, err
	}
	fr, _ := resp.(*fsm.FireResponse)
	if fr == nil {
		return 0, 0, fmt.Errorf("run-now: unexpected answer %T", resp)
	}
	return fr.Run, fr.Execution, nil
}

// Schedules lists every schedule.
func (s *Scheduler) Schedules() ([]*catalog.Schedule, error) {
	return catalog.Read(s.m.store, (*catalog.Tx).Schedules)
}

// Schedule reads one schedule.
func (s *Scheduler) Schedule(name string) (*catalog.Schedule, error) {
	return catalog.Read(s.m.store, func(tx *catalog.Tx) (*catalog.Schedule, error) { return tx.Schedule(name) })
}

// NextFires returns the next n ticks of a schedule (none while paused).
func (s *Scheduler) NextFires(sc *catalog.Schedule, n int) []time.Time {
	t, err := parseTiming(sc)
	if err != nil || sc.Paused {
		return nil
	}
	from := s.m.now()
	if sc.State.LastTick.After(from) {
		from = sc.State.LastTick
	}
	return t.upcoming(from, n)
}

// Runs lists a schedule's runs, newest first.
func (s *Scheduler) Runs(name string, limit int) ([]*catalog.Run, error) {
	return catalog.Read(s.m.store, func(tx *catalog.Tx) ([]*catalog.Run, error) { return tx.Runs(name, limit) })
}

// Run reads a run of a schedule.
func (s *Scheduler) Run(name string, id uint64) (*catalog.Run, error) {
	r, err := catalog.Read(s.m.store, func(tx *catalog.Tx) (*catalog.Run, error) { return tx.Run(id) })
	if err == nil && r.Schedule != name {
		return nil, fmt.Errorf("run %d of schedule %s: %w", id, name, catalog.ErrNotFound)
	}
	return r, err
}
