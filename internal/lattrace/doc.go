// Package lattrace stamps the stages of an execution's path (submission,
// commits, lease, worker, package process, task process, result) for the
// latency breakdown in docs/PERFORMANCE.md. It costs nothing unless the
// binary is built with -tags lattrace: then, while the file
// /tmp/lattrace.log exists, every process of the binary (agents, package
// processes, the bench) appends "unixnano pid execution-id stage" lines
// to it, and `go run ./internal/lattrace/cmd/latreport /tmp/lattrace.log`
// prints the median time of each stage.
package lattrace
