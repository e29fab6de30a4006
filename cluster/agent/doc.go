// Package agent wires one scaleout agent together: the cluster (gossip and,
// on servers, Raft with the FSM and catalog), the master service, the HTTP
// API and the worker. cmd/scaleout turns flags and the config file into a
// Config; tests start several agents in one process with it.
package agent
