package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// RaftState is what a scrape reads of Raft (cluster.RaftStats, without the
// import). Server is false on a worker-only agent: no Raft metrics then.
type RaftState struct {
	Server                               bool
	State                                string // leader, follower, candidate, shutdown
	HasLeader                            bool
	Term                                 uint64
	LastIndex, CommitIndex, AppliedIndex uint64
	LastContact                          time.Time
}

// Queue counts the executions that are not over, as the local catalog copy
// holds them.
type Queue struct {
	Pending, Running, Stopping int
}

// Slots is this agent's worker: executions running and the most it runs at once.
type Slots struct {
	Used, Total int
}

// Source is what the agent reads at scrape time. Each method must be cheap
// and safe for concurrent use; an error leaves that group out of the scrape.
type Source interface {
	Raft() RaftState
	// Queue is only called on servers (worker-only agents hold no catalog).
	Queue() (Queue, error)
	Slots() Slots
}

// Statuses of the executions counted by ExecutionFinished (catalog's terminal statuses).
var terminal = []string{"succeeded", "failed", "canceled", "ended_unexpectedly"}

// Metrics is one agent's registry and the metrics recorded into it.
type Metrics struct {
	reg *prometheus.Registry

	applyDuration *prometheus.HistogramVec
	finished      *prometheus.CounterVec
	submitToStart prometheus.Histogram
	duration      *prometheus.HistogramVec
	retried       prometheus.Counter
	leased        prometheus.Counter
	events        prometheus.Counter
	forwardErrors *prometheus.CounterVec
	submitted     prometheus.Counter
	httpDuration  *prometheus.HistogramVec
}

// New returns the metrics of one agent reading gauges from src.
func New(src Source) *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{reg: reg}
	m.applyDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "scaleout_raft_apply_duration_seconds",
		Help:    "Time from proposing a Raft command on the leader to the FSM's answer (commit on a quorum plus apply), by command.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
	}, []string{"command"})
	m.finished = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "scaleout_executions_finished_total",
		Help: "Executions that reached a terminal status, by status (counted by the leader that recorded the result).",
	}, []string{"status"})
	for _, s := range terminal {
		m.finished.WithLabelValues(s)
	}
	m.submitted = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "scaleout_executions_submitted_total",
		Help: "Executions created through this agent's leader (inline and deployed packages).",
	})
	m.submitToStart = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "scaleout_execution_submit_to_start_seconds",
		Help:    "Time from an execution's creation to its first lease to a worker.",
		Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600},
	})
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "scaleout_execution_duration_seconds",
		Help:    "Time from an execution's first start to its end, by package and terminal status.",
		Buckets: []float64{.1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200},
	}, []string{"package", "status"})
	m.leased = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "scaleout_execution_attempts_total",
		Help: "Attempts leased to workers (every lease, first or retry).",
	})
	m.retried = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "scaleout_execution_attempts_retried_total",
		Help: "Attempts leased after the first one of their execution (retries and hand-backs).",
	})
	m.events = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "scaleout_events_written_total",
		Help: "Execution events accepted from workers by this agent's leader and written through Raft.",
	})
	m.forwardErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "scaleout_forward_errors_total",
		Help: "API requests this agent could not forward to the leader, by reason (no_leader, unreachable, loop, leader_moved).",
	}, []string{"reason"})
	for _, r := range []string{"no_leader", "unreachable", "loop", "leader_moved"} {
		m.forwardErrors.WithLabelValues(r)
	}
	m.httpDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "scaleout_http_request_duration_seconds",
		Help:    "Time this agent took to answer an API request, from the handler's start to its return (forwarding and long-poll waits included), by route (the method and path pattern, e.g. \"GET /v1/executions/{id}\").",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300},
	}, []string{"route"})
	reg.MustRegister(m.applyDuration, m.finished, m.submitted, m.submitToStart, m.duration, m.leased,
		m.retried, m.events, m.forwardErrors, m.httpDuration, &gauges{src: src},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Registry is the agent's registry (serve it with promhttp.HandlerFor).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// RaftApplied records one Raft command's apply time on the leader.
func (m *Metrics) RaftApplied(command string, d time.Duration) {
	m.applyDuration.WithLabelValues(command).Observe(d.Seconds())
}

// Submitted counts n executions created.
func (m *Metrics) Submitted(n int) { m.submitted.Add(float64(n)) }

// Leased records an attempt leased to a worker: attempt is its number,
// created the execution's creation time (the wait is recorded for the
// first attempt only).
func (m *Metrics) Leased(attempt int, created, now time.Time) {
	m.leased.Inc()
	if attempt > 1 {
		m.retried.Inc()
		return
	}
	if d := now.Sub(created); d >= 0 {
		m.submitToStart.Observe(d.Seconds())
	}
}

// Finished records an execution that reached a terminal status; ran is
// from its start to its end (negative: it never started, no duration).
func (m *Metrics) Finished(pkg, status string, ran time.Duration) {
	m.finished.WithLabelValues(status).Inc()
	if ran >= 0 {
		m.duration.WithLabelValues(pkg, status).Observe(ran.Seconds())
	}
}

// EventsWritten counts n events accepted.
func (m *Metrics) EventsWritten(n int) { m.events.Add(float64(n)) }

// HTTPServed records how long the agent took to answer one request of
// route (a pattern of the API's mux: a bounded set).
func (m *Metrics) HTTPServed(route string, d time.Duration) {
	m.httpDuration.WithLabelValues(route).Observe(d.Seconds())
}

// ForwardError counts a request that could not be forwarded.
func (m *Metrics) ForwardError(reason string) { m.forwardErrors.WithLabelValues(reason).Inc() }
