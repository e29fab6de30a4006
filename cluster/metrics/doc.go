// Package metrics holds one agent's Prometheus registry and the metrics
// docs/metrics.md lists. It knows nothing of the services: gauges are read at
// scrape time from a Source the agent implements, and the agent calls the
// Record methods where things happen (the leader's lease and result
// handling, Raft applies, forwarding). Every agent has its own registry (no
// global default registry), so several agents can run in one test process.
package metrics
