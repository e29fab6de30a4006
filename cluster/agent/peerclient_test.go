package agent

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/scaleout/scaleout/api"
	"github.com/scaleout/scaleout/api/server"
	"github.com/scaleout/scaleout/catalog/service"
	"github.com/scaleout/scaleout/cluster"
)

// statusStub is the StatusService of a server as another agent sees it.
type statusStub struct {
	peers []api.Peer
	err   error
}

func (s *statusStub) Leader() (service.LeaderStatus, error) {
	return service.LeaderStatus{Node: "s2", API: "http://s2:8391", Index: 9}, s.err
}
func (s *statusStub) Peers() ([]api.Peer, error)               { return s.peers, s.err }
func (s *statusStub) Members() []api.Member                    { return nil }
func (s *statusStub) RemovePeer(context.Context, string) error { return nil }

// TestPeerClient_OverTheAPI: cluster's PeerClient reaches another agent's
// real API handler and converts its answers back into cluster types.
func TestPeerClient_OverTheAPI(t *testing.T) {
	st := &statusStub{peers: []api.Peer{{ID: "s1", Address: "10.0.0.1:8392", Suffrage: "voter", Leader: true}, {ID: "s2", Address: "10.0.0.2:8392", Suffrage: "nonvoter"}}}
	ts := httptest.NewServer(server.New(server.DefaultConfig(), server.Services{Status: st}))
	t.Cleanup(ts.Close)
	var pc cluster.PeerClient = newPeerClient(nil, "")
	ctx := context.Background()

	peers, err := pc.RaftPeers(ctx, ts.URL)
	want := []cluster.Peer{{ID: "s1", Address: "10.0.0.1:8392", Suffrage: "voter", Leader: true}, {ID: "s2", Address: "10.0.0.2:8392", Suffrage: "nonvoter"}}
	if err != nil || len(peers) != 2 || peers[0] != want[0] || peers[1] != want[1] {
		t.Fatalf("raft peers: %+v %v", peers, err)
	}
	l, err := pc.Leader(ctx, ts.URL)
	if err != nil || l.Node != "s2" || l.API != "http://s2:8391" {
		t.Fatalf("leader: %+v %v", l, err)
	}

	st.err = cluster.ErrNoLeader
	if _, err := pc.Leader(ctx, ts.URL); !api.IsStatus(err, 503) {
		t.Fatalf("leader while none is elected: %v, want a 503", err)
	}
	if _, err := pc.RaftPeers(ctx, "http://127.0.0.1:1"); err == nil {
		t.Fatal("unreachable agent: no error")
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := pc.Leader(cctx, ts.URL); !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled context: %v", err)
	}
}
