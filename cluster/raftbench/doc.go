// Package raftbench measures what Raft itself can do on this machine: three
// hashicorp/raft servers in one process, on loopback TCP, with the same log
// store (raft-boltdb/v2), the same batching settings and an FSM that writes
// the same kind of bbolt file the catalog uses (one transaction per batch,
// no fsync), but does nothing else. `scaleout bench` reports every figure
// as a ratio to this baseline, measured in the same run.
package raftbench
