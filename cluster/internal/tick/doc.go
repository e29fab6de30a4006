// Package tick runs the periodic loops of the cluster's background work
// (reconciliation, lease expiry, retention, the worker's fence, gossip
// reconnects): one function called at an interval until a stop channel is
// closed.
package tick
