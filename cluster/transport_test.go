package cluster

import (
	"errors"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// TestTransport_NoPipelinedReplication: the Raft transport refuses to open
// an append pipeline, so raft replicates one append at a time. Its
// pipeline (hashicorp/raft v1.8.0) can wedge a follower and the leader's
// shutdown for good (see maxRPCsInFlight); raft falls back to plain
// appends when the transport says it does not pipeline.
func TestTransport_NoPipelinedReplication(t *testing.T) {
	cfg := Config{RaftBind: "127.0.0.1:0"}
	trans, _, err := newTransport(cfg, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer trans.Close()
	_, err = trans.AppendEntriesPipeline("peer", trans.LocalAddr())
	if !errors.Is(err, raft.ErrPipelineReplicationNotSupported) {
		t.Fatalf("AppendEntriesPipeline: %v, want %v", err, raft.ErrPipelineReplicationNotSupported)
	}
}
