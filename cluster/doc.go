// Package cluster owns Raft for an agent: the log and stable store
// (raft-boltdb), file snapshots, the TCP transport, bootstrap, and leadership.
// It exposes a small surface (Apply, IsLeader, Leader, WaitForLeader,
// Shutdown) to the rest of the agent and translates raft errors into its own
// sentinel errors. See DESIGN.md.
package cluster
