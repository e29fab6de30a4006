// Package catalog owns the domain types of scaleout (executions, their
// attempts and events, workers) and the bbolt-backed Store that the FSM
// applies Raft commands into.
//
// The catalog is the Scale Out Master's state, the equivalent of the SSISDB
// catalog. It never imports raft, memberlist, fsm, api or executor: every write
// method is called by the FSM with the Raft index of the command being applied,
// and the rules for execution status transitions are pure methods on
// Execution so that they can be tested without storage.
package catalog
