package service

import "errors"

// Sentinel errors of cluster availability. Package cluster re-exports them
// (cluster.ErrNotLeader is ErrNotLeader), so errors.Is works with either
// name; api/server answers all three with 503 and ErrUnknownPeer with 404.
var (
	// ErrNotLeader means the command must be sent to the leader.
	ErrNotLeader = errors.New("not the leader")
	// ErrNoLeader means the cluster has no leader at the moment.
	ErrNoLeader = errors.New("no leader elected")
	// ErrOlderServers refuses a command that a server of an older version
	// in the Raft configuration could not apply (it would stop there).
	ErrOlderServers = errors.New("a server of an older version is in the cluster")
	// ErrShutdown means the cluster is shutting down.
	ErrShutdown = errors.New("cluster is shutting down")
	// ErrUnknownPeer means the named server is not in the Raft configuration.
	ErrUnknownPeer = errors.New("unknown peer")
)

// Classify returns an error whose message is exactly err's and which also
// matches kind with errors.Is (a sentinel such as catalog.ErrInvalid). Use it
// where a prefix "kind: " would make a message the user reads worse; else
// prefer fmt.Errorf("%w: ...", kind). Classify(kind, nil) is nil.
func Classify(kind, err error) error {
	if err == nil {
		return nil
	}
	return &classified{kind: kind, err: err}
}

type classified struct{ kind, err error }

func (e *classified) Error() string   { return e.err.Error() }
func (e *classified) Unwrap() []error { return []error{e.err, e.kind} }
