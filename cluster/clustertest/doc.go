// Package clustertest starts clusters of real agents inside one test
// process: real TCP on 127.0.0.1 with random ports, t.TempDir() data
// directories, fast Raft and gossip timings, logs routed to t.Log, and a
// fault layer that cuts Raft traffic between chosen nodes.
//
// Packages that use it must call RunChildOrTests from TestMain, because the
// workers run each attempt by re-executing the test binary.
package clustertest
