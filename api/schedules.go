package api

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// ScheduleRequest creates (POST /v1/schedules) or replaces (PUT
// /v1/schedules/{name}) a schedule. Timing: exactly one of Cron (5 fields or
// a descriptor such as @daily, in TZ), Every (a Go duration of whole
// seconds: "10m") and At (one tick). What it runs: Package ("FOLDER/
// PROJECT/PACKAGE") or Source (an inline package's YAML) with its values,
// or Steps (a job). Notify is told when a run ends.
type ScheduleRequest struct {
	Name        string     `json:"name"`
	Description string     `json:"description,omitempty"`
	Cron        string     `json:"cron,omitempty"`
	Every       string     `json:"every,omitempty"`
	At          *time.Time `json:"at,omitempty"`
	TZ          string     `json:"tz,omitempty"`
	Start       *time.Time `json:"start,omitempty"`
	End         *time.Time `json:"end,omitempty"`
	// CatchUp: skip (default), once or all:N; Grace (default 1m): how late
	// a tick may fire before it counts as missed.
	CatchUp string `json:"catch_up,omitempty"`
	Grace   string `json:"grace,omitempty"`
	// Overlap: allow (default), skip or queue.
	Overlap string `json:"overlap,omitempty"`
	JobStep
	Steps  []JobStep `json:"steps,omitempty"`
	Notify *Notify   `json:"notify,omitempty"`
	Paused bool      `json:"paused,omitempty"`
}

// JobStep is one step of a job: Package ("FOLDER/PROJECT/PACKAGE") or
// Source (inline YAML; File names it), with Environment and Params.
// OnSuccess and OnFailure: next, goto:N, quit_success or quit_failure
// (defaults next and quit_failure). RetryCount more tries of a failed step
// run RetryInterval (a Go duration) after it ended.
type JobStep struct {
	Name          string            `json:"step_name,omitempty"`
	Package       string            `json:"package,omitempty"`
	Environment   string            `json:"environment,omitempty"`
	Source        string            `json:"source,omitempty"`
	File          string            `json:"file,omitempty"`
	Params        map[string]string `json:"params,omitempty"`
	Retries       int               `json:"retries,omitempty"`
	LoggingLevel  string            `json:"logging_level,omitempty"`
	OnSuccess     string            `json:"on_success,omitempty"`
	OnFailure     string            `json:"on_failure,omitempty"`
	RetryCount    int               `json:"retry_count,omitempty"`
	RetryInterval string            `json:"retry_interval,omitempty"`
}

// Notify sends a webhook (POST of a JSON Notification) and/or a mail to
// Email (through the agents' SMTP server) when a run ends with one of On:
// failure, success, completion. Header values are sealed and read back
// Masked.
type Notify struct {
	On      []string          `json:"on"`
	Webhook string            `json:"webhook,omitempty"`
	Email   []string          `json:"email,omitempty"`
	Headers map[string]string `json:"headers,omitempty"`
}

// Schedule is a schedule as read: its definition, its state and its next
// fire times.
type Schedule struct {
	ScheduleRequest
	Created  time.Time   `json:"created"`
	Updated  time.Time   `json:"updated"`
	LastTick *time.Time  `json:"last_tick,omitempty"`
	Fires    uint64      `json:"fires"`
	Missed   uint64      `json:"missed"`
	Skipped  uint64      `json:"skipped"`
	LastRun  uint64      `json:"last_run,omitempty"`
	Next     []time.Time `json:"next,omitempty"`
}

// Run is one run of a schedule (a job run): each step try is an execution.
type Run struct {
	ID       uint64     `json:"id"`
	Schedule string     `json:"schedule"`
	Tick     time.Time  `json:"tick"`
	Manual   bool       `json:"manual,omitempty"`
	Status   string     `json:"status"`
	Message  string     `json:"message,omitempty"`
	Step     int        `json:"step"`
	Try      int        `json:"try"`
	Steps    []StepRun  `json:"steps"`
	Created  time.Time  `json:"created"`
	Ended    *time.Time `json:"ended,omitempty"`
	Delivery *Delivery  `json:"delivery,omitempty"`
}

// StepRun is one try of one step.
type StepRun struct {
	Step      int        `json:"step"`
	Name      string     `json:"name,omitempty"`
	Try       int        `json:"try"`
	Execution uint64     `json:"execution,omitempty"`
	Status    string     `json:"status,omitempty"`
	Message   string     `json:"message,omitempty"`
	Started   time.Time  `json:"started"`
	Ended     *time.Time `json:"ended,omitempty"`
}

// Delivery is the recorded outcome of a run's notification.
type Delivery struct {
	Delivered bool      `json:"delivered"`
	Attempts  int       `json:"attempts"`
	Error     string    `json:"error,omitempty"`
	Time      time.Time `json:"time"`
}

// Notification is the JSON body POSTed to a webhook when a schedule's run
// ends (Event "run.failed" or "run.succeeded": the schedule fields) or when
// an execution of a package with a notify key ends (Event
// "execution.failed", "execution.succeeded", "execution.canceled" or
// "execution.ended_unexpectedly": the execution fields). Event, Status,
// Message, Created and Ended are common to both.
type Notification struct {
	Event    string     `json:"event"`
	Schedule string     `json:"schedule,omitempty"`
	Run      uint64     `json:"run,omitempty"`
	Tick     time.Time  `json:"tick,omitzero"`
	Manual   bool       `json:"manual,omitempty"`
	Status   string     `json:"status"`
	Message  string     `json:"message,omitempty"`
	Steps    []StepRun  `json:"steps,omitempty"`
	Created  time.Time  `json:"created"`
	Ended    *time.Time `json:"ended,omitempty"`

	// An execution's: its id, package (and for a deployed package its
	// folder, project, version and environment), who created it
	// (schedule:NAME for a schedule's step), its attempts, the worker of
	// the last one and when the first started. Message has every
	// sensitive value masked.
	Execution      uint64     `json:"execution,omitempty"`
	Package        string     `json:"package,omitempty"`
	Folder         string     `json:"folder,omitempty"`
	Project        string     `json:"project,omitempty"`
	ProjectVersion uint64     `json:"project_version,omitempty"`
	Environment    string     `json:"environment,omitempty"`
	Caller         string     `json:"caller,omitempty"`
	Attempts       int        `json:"attempts,omitempty"`
	Worker         string     `json:"worker,omitempty"`
	Started        *time.Time `json:"started,omitempty"`
}

// RunNowResponse names the run a run-now started.
type RunNowResponse struct {
	Run       uint64 `json:"run"`
	Execution uint64 `json:"execution,omitempty"`
}

// Schedules returns the schedule endpoints.
func (c *Client) Schedules() *Schedules { return &Schedules{c} }

// Schedules is the handle for /v1/schedules.
type Schedules struct{ c *Client }

func (s *Schedules) path(name string, rest ...string) string {
	p := "/v1/schedules/" + esc(name)
	for _, r := range rest {
		p += "/" + r
	}
	return p
}

// Create creates a schedule.
func (s *Schedules) Create(ctx context.Context, req *ScheduleRequest) error {
	return s.c.do(ctx, http.MethodPost, "/v1/schedules", nil, req, nil)
}

// Update replaces a schedule's definition; its fire state is kept.
func (s *Schedules) Update(ctx context.Context, req *ScheduleRequest) error {
	return s.c.do(ctx, http.MethodPut, s.path(req.Name), nil, req, nil)
}

// List lists the schedules by name.
func (s *Schedules) List(ctx context.Context) ([]Schedule, error) {
	return getList[Schedule](ctx, s.c, "/v1/schedules")
}

// Info reads one schedule.
func (s *Schedules) Info(ctx context.Context, name string) (*Schedule, error) {
	return getOne[Schedule](ctx, s.c, s.path(name))
}

// Delete deletes a schedule (its runs are kept).
func (s *Schedules) Delete(ctx context.Context, name string) error {
	return s.c.do(ctx, http.MethodDelete, s.path(name), nil, nil, nil)
}

// Pause stops a schedule's fires; Resume starts them again (ticks missed
// meanwhile follow the catch-up policy).
func (s *Schedules) Pause(ctx context.Context, name string) error {
	return s.c.do(ctx, http.MethodPost, s.path(name, "pause"), nil, nil, nil)
}

// Resume resumes a paused schedule.
func (s *Schedules) Resume(ctx context.Context, name string) error {
	return s.c.do(ctx, http.MethodPost, s.path(name, "resume"), nil, nil, nil)
}

// RunNow starts a run at once, outside the timing.
func (s *Schedules) RunNow(ctx context.Context, name string) (*RunNowResponse, error) {
	var out RunNowResponse
	return &out, s.c.do(ctx, http.MethodPost, s.path(name, "run-now"), nil, nil, &out)
}

// Runs lists a schedule's runs, newest first (limit 0: the server's
// default, 100).
func (s *Schedules) Runs(ctx context.Context, name string, limit int) ([]Run, error) {
	q := url.Values{}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var out []Run
	return out, s.c.do(ctx, http.MethodGet, s.path(name, "runs"), q, nil, &out)
}

// Run reads one run of a schedule.
func (s *Schedules) Run(ctx context.Context, name string, id uint64) (*Run, error) {
	return getOne[Run](ctx, s.c, s.path(name, "runs", strconv.FormatUint(id, 10)))
}
