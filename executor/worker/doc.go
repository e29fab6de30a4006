// Package worker is the Scale Out Worker inside every agent. It long-polls the
// master (through the agent's HTTP API) for tasks, runs each attempt in a
// child process (`scaleout exec`, the equivalent of SSIS's ISServerExec),
// streams the child's events back in batches, heartbeats through its polls,
// and reports each attempt's result.
//
// The child protocol is in protocol.go: one JSON job on the child's stdin,
// JSON lines (events, process groups, the result) on its stdout. The child
// treats EOF on stdin as the death of its worker and stops everything.
package worker
