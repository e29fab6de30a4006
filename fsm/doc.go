// Package fsm is the Raft state machine of scaleout: the command types, their
// encoding, the table that dispatches each committed command to its applier,
// and snapshot/restore of the catalog store.
//
// It imports catalog and hashicorp/raft only. Appliers are deterministic: they
// never read the clock or random numbers; the leader stamps times and the
// catalog allocates ids from replicated counters. See DESIGN.md.
package fsm
