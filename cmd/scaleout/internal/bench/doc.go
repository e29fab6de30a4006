// Package bench is `scaleout bench`: it measures a scaleout cluster
// (submission rate, throughput, latency, failover, memory) against a
// trivial Raft baseline and reports one table.
//
// It drives the cluster only through the public api client and through
// processes: with Options.Local it starts `scaleout agent` servers from
// Options.Exe, the childstart scenario runs `scaleout exec` children, and the
// failover scenario kills the leader with kill -9 (or Options.KillCmd). What
// needs the product's internals (the in-process Raft baseline, the child's
// job format) is passed in by cmd/scaleout as Options.StartBaseline and
// Options.ChildJob.
package bench
