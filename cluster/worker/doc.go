// Package worker is the Scale Out Worker inside every agent, beside the
// master (cluster/master). It long-polls the master through the agent's
// HTTP API; each poll heartbeats the attempts it runs and may lease new
// ones. A leased task (api.Task) is complete: the worker fetches only the
// project archive by hash (cached), then runs the attempt in a child
// process (`scaleout exec`, the equivalent of SSIS's ISServerExec), streams
// the child's events back in batches, and reports the attempt's result.
//
// The child protocol is in protocol.go: one JSON Job (the task as leased,
// plus its directories) on the child's stdin, JSON lines (events, process
// groups, the result) on its stdout. The child treats EOF on stdin as the
// death of its worker, or a stop request where there are no signals, and
// stops everything. Unix-only process control lives in proc_unix.go; other
// platforms build (proc_other.go) with the limits stated there.
package worker
