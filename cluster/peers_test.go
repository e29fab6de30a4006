package cluster

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/scaleout/scaleout/cluster/clustertest/poll"
)

// fakePeers is a PeerClient that answers from a table and records the API
// addresses it was asked.
type fakePeers struct {
	mu     sync.Mutex
	asked  []string
	peers  map[string][]Peer     // API address -> its raft peers
	leader map[string]LeaderInfo // API address -> the leader it knows
}

func (f *fakePeers) RaftPeers(_ context.Context, addr string) ([]Peer, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked = append(f.asked, "peers "+addr)
	return f.peers[addr], nil
}

func (f *fakePeers) Leader(_ context.Context, addr string) (LeaderInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked = append(f.asked, "leader "+addr)
	if l, ok := f.leader[addr]; ok {
		return l, nil
	}
	return LeaderInfo{}, fmt.Errorf("%s: %w", addr, ErrNoLeader)
}

func (f *fakePeers) wasAsked(q string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Contains(f.asked, q)
}

// TestCluster_WorkerOnlyLeaderFromPeerClient: a worker-only agent has no
// Raft and learns the leader by asking a server through its PeerClient, at
// the API address the server gossips.
func TestCluster_WorkerOnlyLeaderFromPeerClient(t *testing.T) {
	scfg := testConfig(t, t.TempDir())
	scfg.NodeName, scfg.Bootstrap, scfg.APIAddr = "s1", true, "http://s1.test:8391"
	s := newTestCluster(t, scfg)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := s.WaitForLeader(ctx); err != nil {
		t.Fatal(err)
	}
	fake := &fakePeers{leader: map[string]LeaderInfo{"http://s1.test:8391": {Node: "s1", API: "http://s1.test:8391"}}}
	wcfg := testConfig(t, t.TempDir())
	wcfg.NodeName, wcfg.Server, wcfg.Bootstrap, wcfg.Join, wcfg.PeerClient = "w1", false, false, []string{s.GossipAddr()}, fake
	w := newTestCluster(t, wcfg)
	poll.Until(t, 10*time.Second, "worker-only agent learns the leader", func() (bool, string) {
		l, err := w.Leader()
		return err == nil && l.Node == "s1" && l.API == "http://s1.test:8391", fmt.Sprintf("%+v %v", l, err)
	})
	if !fake.wasAsked("leader http://s1.test:8391") {
		t.Fatalf("the server was not asked through the PeerClient: %v", fake.asked)
	}
}

// TestCluster_BootstrapAsksPeerClient: servers started with BootstrapExpect
// ask each other, through the PeerClient, whether one already has a
// cluster; when none has, they bootstrap together.
func TestCluster_BootstrapAsksPeerClient(t *testing.T) {
	fake := &fakePeers{}
	var cs []*Cluster
	for i, name := range []string{"s1", "s2"} {
		cfg := testConfig(t, t.TempDir())
		cfg.NodeName, cfg.Bootstrap, cfg.BootstrapExpect, cfg.PeerClient = name, false, 2, fake
		cfg.APIAddr = fmt.Sprintf("http://%s.test:8391", name)
		if i > 0 {
			cfg.Join = []string{cs[0].GossipAddr()}
		}
		cs = append(cs, newTestCluster(t, cfg))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := cs[0].WaitForLeader(ctx); err != nil {
		t.Fatalf("no leader after the bootstrap: %v (PeerClient asked %v)", err, fake.asked)
	}
	poll.Until(t, 10*time.Second, "both servers in the configuration", func() (bool, string) {
		p, err := cs[0].Peers()
		return err == nil && len(p) == 2, fmt.Sprintf("%+v %v", p, err)
	})
	if !fake.wasAsked("peers http://s1.test:8391") || !fake.wasAsked("peers http://s2.test:8391") {
		t.Fatalf("servers did not ask each other through the PeerClient: %v", fake.asked)
	}
}

// TestConfig_PeerClientRequired: bootstrapping with other servers and
// running worker-only both need a PeerClient.
func TestConfig_PeerClientRequired(t *testing.T) {
	c := testConfig(t, t.TempDir())
	c.Bootstrap, c.BootstrapExpect = false, 3
	if err := c.Validate(); err == nil {
		t.Error("bootstrap-expect without a peer client accepted")
	}
	c = testConfig(t, t.TempDir())
	c.Server, c.Bootstrap = false, false
	if err := c.Validate(); err == nil {
		t.Error("worker-only without a peer client accepted")
	}
	c.PeerClient = &fakePeers{}
	if err := c.Validate(); err != nil {
		t.Errorf("worker-only with a peer client: %v", err)
	}
}
