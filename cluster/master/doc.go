// Package master is the Scale Out Master: the service an agent runs on top of
// its Raft node. On every agent it validates and submits executions and
// serves reads from the local catalog; on the leader it also owns the lease
// table, answers workers' long-polls with tasks, and expires attempts whose
// worker stopped heartbeating.
//
// Every state change is a Raft command (package fsm); the lease table itself
// is soft state in the leader's memory, rebuilt from the replicated active
// executions, with a grace period, whenever a server becomes leader.
package master
