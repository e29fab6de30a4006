package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

var (
	descRaftState = prometheus.NewDesc("scaleout_raft_state",
		"1 for this server's Raft state (leader, follower, candidate, shutdown), 0 for the others.", []string{"state"}, nil)
	descLeader = prometheus.NewDesc("scaleout_raft_leader",
		"1 while this server is the Raft leader.", nil, nil)
	descHasLeader = prometheus.NewDesc("scaleout_raft_has_leader",
		"1 while this agent knows a leader (worker-only agents too).", nil, nil)
	descTerm = prometheus.NewDesc("scaleout_raft_term",
		"Current Raft term.", nil, nil)
	descLastIndex = prometheus.NewDesc("scaleout_raft_last_index",
		"Index of the last entry in this server's Raft log.", nil, nil)
	descCommitIndex = prometheus.NewDesc("scaleout_raft_commit_index",
		"Last Raft index this server knows to be committed.", nil, nil)
	descAppliedIndex = prometheus.NewDesc("scaleout_raft_applied_index",
		"Last Raft index this server has handed to its FSM.", nil, nil)
	descLastContact = prometheus.NewDesc("scaleout_raft_last_contact_seconds",
		"Seconds since this follower last heard from the leader (0 on the leader; absent before any contact).", nil, nil)
	descExecutions = prometheus.NewDesc("scaleout_executions",
		"Executions not yet over in this server's catalog copy, by status (pending, running, stopping).", []string{"status"}, nil)
	descQueue = prometheus.NewDesc("scaleout_queue_depth",
		"Pending executions waiting for a worker (the same as scaleout_executions{status=\"pending\"}).", nil, nil)
	descSlots = prometheus.NewDesc("scaleout_worker_slots",
		"This agent's worker: executions it runs now (used) and could still take (free).", []string{"state"}, nil)
)

// gauges reads the Source at every scrape.
type gauges struct{ src Source }

func (g *gauges) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descRaftState, descLeader, descHasLeader, descTerm, descLastIndex,
		descCommitIndex, descAppliedIndex, descLastContact, descExecutions, descQueue, descSlots} {
		ch <- d
	}
}

func (g *gauges) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	b := func(v bool) float64 {
		if v {
			return 1
		}
		return 0
	}
	r := g.src.Raft()
	gauge(descHasLeader, b(r.HasLeader))
	if r.Server {
		for _, s := range []string{"leader", "follower", "candidate", "shutdown"} {
			gauge(descRaftState, b(r.State == s), s)
		}
		gauge(descLeader, b(r.State == "leader"))
		gauge(descTerm, float64(r.Term))
		gauge(descLastIndex, float64(r.LastIndex))
		gauge(descCommitIndex, float64(r.CommitIndex))
		gauge(descAppliedIndex, float64(r.AppliedIndex))
		if !r.LastContact.IsZero() {
			gauge(descLastContact, max(0, time.Since(r.LastContact).Seconds()))
		}
		if q, err := g.src.Queue(); err == nil {
			gauge(descExecutions, float64(q.Pending), "pending")
			gauge(descExecutions, float64(q.Running), "running")
			gauge(descExecutions, float64(q.Stopping), "stopping")
			gauge(descQueue, float64(q.Pending))
		}
	}
	s := g.src.Slots()
	gauge(descSlots, float64(s.Used), "used")
	gauge(descSlots, float64(max(0, s.Total-s.Used)), "free")
}
