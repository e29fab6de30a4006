package metrics

import (
	"errors"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
)

type fakeSource struct {
	raft  RaftState
	queue Queue
	qerr  error
	slots Slots
}

func (f *fakeSource) Raft() RaftState       { return f.raft }
func (f *fakeSource) Queue() (Queue, error) { return f.queue, f.qerr }
func (f *fakeSource) Slots() Slots          { return f.slots }

func gather(t *testing.T, m *Metrics) map[string]*dto.MetricFamily {
	t.Helper()
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	out := map[string]*dto.MetricFamily{}
	for _, f := range fams {
		out[f.GetName()] = f
	}
	return out
}

func one(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels ...string) *dto.Metric {
	t.Helper()
	f, ok := fams[name]
	if !ok {
		t.Fatalf("%s missing", name)
	}
next:
	for _, m := range f.GetMetric() {
		for i := 0; i+1 < len(labels); i += 2 {
			found := false
			for _, l := range m.GetLabel() {
				found = found || (l.GetName() == labels[i] && l.GetValue() == labels[i+1])
			}
			if !found {
				continue next
			}
		}
		return m
	}
	t.Fatalf("%s%v missing", name, labels)
	return nil
}

func TestMetrics_RecordAndScrape(t *testing.T) {
	src := &fakeSource{raft: RaftState{Server: true, State: "leader", HasLeader: true, Term: 3, LastIndex: 10, CommitIndex: 9, AppliedIndex: 8, LastContact: time.Now()},
		queue: Queue{Pending: 5, Running: 2, Stopping: 1}, slots: Slots{Used: 3, Total: 4}}
	m := New(src)
	created := time.Now()
	m.Submitted(2)
	m.Leased(1, created, created.Add(2*time.Second))
	m.Leased(2, created, created.Add(9*time.Second))
	m.Finished("etl", "succeeded", 3*time.Second)
	m.Finished("etl", "canceled", -1) // never started: counted, no duration
	m.EventsWritten(7)
	m.ForwardError("unreachable")
	m.RaftApplied("ExecutionSubmit", 4*time.Millisecond)
	m.HTTPServed("GET /v1/executions", 3*time.Millisecond)
	m.HTTPServed("GET /v1/executions", 5*time.Millisecond)

	f := gather(t, m)
	checks := []struct {
		got, want float64
		what      string
	}{
		{one(t, f, "scaleout_raft_leader").GetGauge().GetValue(), 1, "leader"},
		{one(t, f, "scaleout_raft_state", "state", "follower").GetGauge().GetValue(), 0, "state follower"},
		{one(t, f, "scaleout_raft_commit_index").GetGauge().GetValue(), 9, "commit index"},
		{one(t, f, "scaleout_queue_depth").GetGauge().GetValue(), 5, "queue depth"},
		{one(t, f, "scaleout_executions", "status", "stopping").GetGauge().GetValue(), 1, "stopping"},
		{one(t, f, "scaleout_worker_slots", "state", "free").GetGauge().GetValue(), 1, "free slots"},
		{one(t, f, "scaleout_executions_submitted_total").GetCounter().GetValue(), 2, "submitted"},
		{one(t, f, "scaleout_execution_attempts_total").GetCounter().GetValue(), 2, "attempts"},
		{one(t, f, "scaleout_execution_attempts_retried_total").GetCounter().GetValue(), 1, "retried"},
		{float64(one(t, f, "scaleout_execution_submit_to_start_seconds").GetHistogram().GetSampleCount()), 1, "waits (first attempts only)"},
		{one(t, f, "scaleout_execution_submit_to_start_seconds").GetHistogram().GetSampleSum(), 2, "wait sum"},
		{one(t, f, "scaleout_executions_finished_total", "status", "canceled").GetCounter().GetValue(), 1, "canceled"},
		{one(t, f, "scaleout_executions_finished_total", "status", "failed").GetCounter().GetValue(), 0, "failed (present at 0)"},
		{float64(one(t, f, "scaleout_execution_duration_seconds", "package", "etl", "status", "succeeded").GetHistogram().GetSampleCount()), 1, "durations"},
		{one(t, f, "scaleout_events_written_total").GetCounter().GetValue(), 7, "events"},
		{one(t, f, "scaleout_forward_errors_total", "reason", "unreachable").GetCounter().GetValue(), 1, "forward errors"},
		{float64(one(t, f, "scaleout_raft_apply_duration_seconds", "command", "ExecutionSubmit").GetHistogram().GetSampleCount()), 1, "applies"},
		{float64(one(t, f, "scaleout_http_request_duration_seconds", "route", "GET /v1/executions").GetHistogram().GetSampleCount()), 2, "requests"},
		{one(t, f, "scaleout_http_request_duration_seconds", "route", "GET /v1/executions").GetHistogram().GetSampleSum(), 0.008, "request time"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.what, c.got, c.want)
		}
	}
	if _, ok := f["go_goroutines"]; !ok {
		t.Error("Go runtime metrics missing")
	}
	if _, ok := f["scaleout_execution_duration_seconds"]; !ok {
		t.Error("duration histogram missing")
	}
	for _, m := range f["scaleout_execution_duration_seconds"].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetValue() == "canceled" {
				t.Error("an execution that never started got a duration")
			}
		}
	}
}

func TestMetrics_WorkerOnlyAgentHasNoRaftOrQueue(t *testing.T) {
	src := &fakeSource{raft: RaftState{HasLeader: true}, qerr: errors.New("no catalog"), slots: Slots{Total: 2}}
	f := gather(t, New(src))
	for _, name := range []string{"scaleout_raft_leader", "scaleout_raft_term", "scaleout_queue_depth"} {
		if _, ok := f[name]; ok {
			t.Errorf("%s on a worker-only agent", name)
		}
	}
	if one(t, f, "scaleout_raft_has_leader").GetGauge().GetValue() != 1 {
		t.Error("has_leader")
	}
	// Two registries in one process do not collide.
	_ = New(src)
}
