package catalog

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/scaleout/scaleout/catalog/pkgspec"
)

// A Schedule fires runs at its ticks (SQL Server Agent's job schedule).
// Each run is a job of steps (Steps); a schedule of one package is a job of
// one step. The timing fields are the leader's input: the FSM stores them
// and never evaluates them (it never reads the clock).
type Schedule struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// Exactly one of Cron (a standard 5-field cron expression or a
	// descriptor such as @daily, evaluated in TZ), Every (ticks at the
	// multiples of the interval since Start, or the Unix epoch) and At (one
	// tick).
	Cron  string        `json:"cron,omitempty"`
	Every time.Duration `json:"every,omitempty"`
	At    *time.Time    `json:"at,omitempty"`
	TZ    string        `json:"tz,omitempty"`
	// Start and End bound the ticks (inclusive); nil: unbounded.
	Start *time.Time `json:"start,omitempty"`
	End   *time.Time `json:"end,omitempty"`
	// CatchUp says what happens to ticks missed by more than Grace (the
	// cluster was down): "skip", "once" or "all:N".
	CatchUp string        `json:"catch_up"`
	Grace   time.Duration `json:"grace"`
	// Overlap says what a tick does while the schedule's previous run is
	// still running: "allow", "skip" or "queue".
	Overlap string     `json:"overlap"`
	Steps   []JobStep  `json:"steps"`
	Notify  *Notify    `json:"notify,omitempty"`
	Paused  bool       `json:"paused,omitempty"`
	Created time.Time  `json:"created"`
	Updated time.Time  `json:"updated"`
	State   SchedState `json:"state"`
}

// SchedState is what the schedule's fires have done so far.
type SchedState struct {
	// LastTick is the latest tick fired or skipped by the overlap policy;
	// a fire of a tick not after it is a duplicate and changes nothing.
	LastTick time.Time `json:"last_tick,omitzero"`
	Fires    uint64    `json:"fires,omitempty"`
	// Missed counts ticks not run because of the catch-up policy; Skipped
	// the ticks the overlap policy skipped.
	Missed  uint64 `json:"missed,omitempty"`
	Skipped uint64 `json:"skipped,omitempty"`
	LastRun uint64 `json:"last_run,omitempty"`
}

// JobStep is one step of a job: a deployed package (Folder/Project/Package)
// or an inline one (Source), with its values.
type JobStep struct {
	Name        string            `json:"name,omitempty"`
	Folder      string            `json:"folder,omitempty"`
	Project     string            `json:"project,omitempty"`
	Package     string            `json:"package,omitempty"`
	Environment string            `json:"environment,omitempty"`
	Source      string            `json:"source,omitempty"`
	File        string            `json:"file,omitempty"`
	Params      map[string]string `json:"params,omitempty"`
	// Retries are the execution's own retries (of a lost worker).
	Retries      int    `json:"retries,omitempty"`
	LoggingLevel string `json:"logging_level,omitempty"`
	// OnSuccess and OnFailure: "next", "goto:N" (1-based), "quit_success"
	// or "quit_failure". Defaults: next, quit_failure.
	OnSuccess string `json:"on_success,omitempty"`
	OnFailure string `json:"on_failure,omitempty"`
	// RetryCount more tries of a failed step, RetryInterval apart; each
	// try is a new execution recorded on the run.
	RetryCount    int           `json:"retry_count,omitempty"`
	RetryInterval time.Duration `json:"retry_interval,omitempty"`
}

// Notify says whom to tell when a run or an execution ends: one definition,
// pkgspec's (a package file's notify key has the same shape).
type Notify = pkgspec.Notify

// CheckNotify checks what the FSM can check of a notification: the rules of
// pkgspec.Notify.Check and the size of each (sealed) header value.
func CheckNotify(n *Notify) error {
	if err := n.Check(); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	for _, v := range n.Headers {
		if err := checkBytes("header value", v, maxSealedValueBytes); err != nil {
			return err
		}
	}
	return nil
}

// runWants reports whether a run ending in status st is notified.
func runWants(n *Notify, st RunStatus) bool {
	return st != RunSkipped && st != RunRunning && n.Wants(st == RunSucceeded, st == RunFailed)
}

// RunStatus is the status of a schedule's run.
type RunStatus string

// Run statuses.
const (
	RunRunning   RunStatus = "running"
	RunSucceeded RunStatus = "succeeded"
	RunFailed    RunStatus = "failed"
	RunSkipped   RunStatus = "skipped" // the overlap policy skipped the tick
)

// MaxRunSteps bounds the step tries of one run (goto loops end there).
const MaxRunSteps = 1000

// MaxJobSteps bounds the steps of a job.
const MaxJobSteps = 100

// Run is one fire of a schedule: a job run whose steps are executions.
type Run struct {
	ID       uint64    `json:"id"`
	Schedule string    `json:"schedule"`
	Tick     time.Time `json:"tick"`
	Manual   bool      `json:"manual,omitempty"`
	Status   RunStatus `json:"status"`
	Message  string    `json:"message,omitempty"`
	// Step (1-based) and Try are the step try running now (or last).
	Step    int        `json:"step"`
	Try     int        `json:"try"`
	Steps   []StepRun  `json:"steps"`
	Created time.Time  `json:"created"`
	Ended   *time.Time `json:"ended,omitempty"`
	// Job is the schedule's steps as of the fire; Notify its notification.
	Job    []JobStep `json:"job"`
	Notify *Notify   `json:"notify,omitempty"`
	// Delivery is the notification's outcome, once recorded.
	Delivery *Delivery `json:"delivery,omitempty"`
}

// StepRun is one try of one step: an execution, or an error that kept it
// from being created.
type StepRun struct {
	Step      int        `json:"step"`
	Try       int        `json:"try"`
	Execution uint64     `json:"execution,omitempty"`
	Status    Status     `json:"status,omitempty"` // "" while it runs
	Message   string     `json:"message,omitempty"`
	Started   time.Time  `json:"started"`
	Ended     *time.Time `json:"ended,omitempty"`
}

// Delivery records a notification's delivery.
type Delivery struct {
	Delivered bool      `json:"delivered"`
	Attempts  int       `json:"attempts"`
	Error     string    `json:"error,omitempty"`
	Time      time.Time `json:"time"`
}

// NeedsDelivery reports whether the run has ended and its notification is
// still to be delivered.
func (r *Run) NeedsDelivery() bool {
	return r.Status != RunRunning && r.Delivery == nil && runWants(r.Notify, r.Status)
}

// Current returns the step try running now.
func (r *Run) Current() *StepRun {
	if len(r.Steps) == 0 {
		return nil
	}
	return &r.Steps[len(r.Steps)-1]
}

// Next decides what follows the current step try, which ended with ok
// (succeeded or not): another try of the same step (retry), another step,
// or the end of the run with its status. It is deterministic: the leader
// uses it to resolve the next step's package, the FSM to check it.
func (r *Run) Next(ok bool) (step, try int, end RunStatus, err error) {
	if r.Step < 1 || r.Step > len(r.Job) {
		return 0, 0, RunFailed, invalidf("run %d is at step %d of %d", r.ID, r.Step, len(r.Job))
	}
	s := r.Job[r.Step-1]
	if !ok && r.Try <= s.RetryCount {
		return r.Step, r.Try + 1, "", nil
	}
	action := s.OnSuccess
	if !ok {
		action = s.OnFailure
	}
	if action == "" {
		action = map[bool]string{true: "next", false: "quit_failure"}[ok]
	}
	if len(r.Steps) >= MaxRunSteps {
		return 0, 0, RunFailed, nil
	}
	switch n, _ := parseGoto(action); {
	case action == "quit_success":
		return 0, 0, RunSucceeded, nil
	case action == "quit_failure":
		return 0, 0, RunFailed, nil
	case action == "next":
		if r.Step == len(r.Job) {
			return 0, 0, map[bool]RunStatus{true: RunSucceeded, false: RunFailed}[ok], nil
		}
		return r.Step + 1, 1, "", nil
	case n >= 1 && n <= len(r.Job):
		return n, 1, "", nil
	}
	return 0, 0, RunFailed, invalidf("step %d: action %q", r.Step, action)
}

func parseGoto(a string) (int, bool) {
	s, ok := strings.CutPrefix(a, "goto:")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	return n, err == nil
}

// CheckStepAction checks an on_success/on_failure action of a job of n steps.
func CheckStepAction(a string, n int) error {
	switch a {
	case "", "next", "quit_success", "quit_failure":
		return nil
	}
	if k, ok := parseGoto(a); ok {
		if k < 1 || k > n {
			return invalidf("action %q: the job has steps 1 to %d", a, n)
		}
		return nil
	}
	return invalidf("unknown action %q (want next, goto:N, quit_success or quit_failure)", a)
}

// ParseCatchUp reads a catch-up policy: skip, once or all:N (N from 1 to
// 1000); it returns the kind and N (1 for once, 0 for skip).
func ParseCatchUp(p string) (kind string, n int, err error) {
	switch p {
	case "skip":
		return p, 0, nil
	case "once":
		return p, 1, nil
	}
	if s, ok := strings.CutPrefix(p, "all:"); ok {
		if n, err := strconv.Atoi(s); err == nil && n >= 1 && n <= 1000 {
			return "all", n, nil
		}
	}
	return "", 0, invalidf("catch-up policy %q: want skip, once or all:N with N from 1 to 1000", p)
}

// CheckSchedule checks what the FSM can check of a schedule: names, sizes,
// policies and the job's shape. The leader parsed the timing before.
func CheckSchedule(s *Schedule) error {
	if err := ValidateObjectName("schedule", s.Name); err != nil {
		return err
	}
	if err := CheckDescription("schedule", s.Description); err != nil {
		return err
	}
	timings := 0
	for _, set := range []bool{s.Cron != "", s.Every > 0, s.At != nil} {
		if set {
			timings++
		}
	}
	if timings != 1 {
		return invalidf("schedule %s: give exactly one of cron, every and at", s.Name)
	}
	if s.Every < 0 || s.Grace < 0 || len(s.Cron) > 256 || len(s.TZ) > 128 {
		return invalidf("schedule %s: bad timing", s.Name)
	}
	if _, _, err := ParseCatchUp(s.CatchUp); err != nil {
		return err
	}
	if s.Overlap != "allow" && s.Overlap != "skip" && s.Overlap != "queue" {
		return invalidf("overlap policy %q: want allow, skip or queue", s.Overlap)
	}
	if len(s.Steps) == 0 || len(s.Steps) > MaxJobSteps {
		return invalidf("schedule %s has %d steps (want 1 to %d)", s.Name, len(s.Steps), MaxJobSteps)
	}
	for i, st := range s.Steps {
		if err := checkStep(st, len(s.Steps)); err != nil {
			return fmt.Errorf("step %d: %w", i+1, err)
		}
	}
	if s.Notify != nil {
		if err := CheckNotify(s.Notify); err != nil {
			return err
		}
	}
	return nil
}

func checkStep(st JobStep, n int) error {
	deployed := st.Project != ""
	if deployed == (st.Source != "") {
		return invalidf("a step runs exactly one of a deployed package (folder/project/package) and an inline package")
	}
	if deployed && (st.Folder == "" || st.Package == "") {
		return invalidf("a deployed package needs folder, project and package")
	}
	if len(st.Source) > MaxPackageSourceBytes || len(st.Params) > MaxParams || len(st.Name) > MaxNameBytes {
		return invalidf("step over a size limit")
	}
	for k, v := range st.Params {
		if err := checkBytes("parameter name", k, MaxNameBytes); err != nil {
			return err
		}
		if err := checkBytes("parameter value", v, maxSealedValueBytes); err != nil {
			return err
		}
	}
	if st.RetryCount < 0 || st.RetryCount > 100 || st.RetryInterval < 0 || st.Retries < 0 {
		return invalidf("retry count must be 0 to 100, intervals not negative")
	}
	if err := CheckStepAction(st.OnSuccess, n); err != nil {
		return err
	}
	return CheckStepAction(st.OnFailure, n)
}
