package cluster

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/raft"
)

// PeerClient is how cluster asks another agent, by the API address it
// gossips, what it cannot learn from gossip: a server's Raft configuration
// (bootstrap checks that no server already belongs to a cluster) and who
// leads (worker-only agents have no Raft). It is implemented outside cluster,
// over the agents' API (cluster/agent), so that cluster knows no HTTP.
// Implementations must be safe for concurrent use and honour ctx.
type PeerClient interface {
	// RaftPeers returns the Raft configuration the agent at apiAddr knows
	// (empty when it belongs to no cluster yet).
	RaftPeers(ctx context.Context, apiAddr string) ([]Peer, error)
	// Leader returns the leader the agent at apiAddr knows (Node and API
	// set), or an error when it knows none.
	Leader(ctx context.Context, apiAddr string) (LeaderInfo, error)
}

// Peer is a server in the Raft configuration.
type Peer struct {
	ID       string
	Address  string
	Suffrage string // "voter" or "nonvoter"
	Leader   bool
}

// Peers returns the Raft configuration as this server knows it.
func (c *Cluster) Peers() ([]Peer, error) {
	if c.raft == nil {
		return nil, ErrNotServer
	}
	conf, err := c.configuration()
	if err != nil {
		return nil, translate(err)
	}
	_, leader := c.raft.LeaderWithID()
	var out []Peer
	for _, s := range conf.Servers {
		suff := "voter"
		if s.Suffrage != raft.Voter {
			suff = "nonvoter"
		}
		out = append(out, Peer{ID: string(s.ID), Address: string(s.Address), Suffrage: suff, Leader: s.ID == leader})
	}
	return out, nil
}

// RemovePeer removes a server from the Raft configuration (leader only).
func (c *Cluster) RemovePeer(id string) error {
	if c.raft == nil {
		return ErrNotServer
	}
	peers, err := c.Peers()
	if err != nil {
		return err
	}
	found := false
	for _, p := range peers {
		found = found || p.ID == id
	}
	if !found {
		return fmt.Errorf("%w: no server %q in the raft configuration", ErrUnknownPeer, id)
	}
	if err := c.raft.RemoveServer(raft.ServerID(id), 0, c.cfg.ApplyTimeout).Error(); err != nil {
		return translate(err)
	}
	c.logger.Info("removed raft peer", "id", id)
	return nil
}

// leaderFromServers asks alive servers who leads (worker-only agents).
func (c *Cluster) leaderFromServers() (LeaderInfo, error) {
	c.leaderMu.Lock()
	defer c.leaderMu.Unlock()
	if c.leaderCache.Node != "" && time.Since(c.leaderAt) < time.Second {
		return c.leaderCache, nil
	}
	// Ask every alive server at once and take the first answer: a server
	// that died a moment ago (gossip has not noticed yet) must not hold
	// every caller for its timeout.
	servers := c.Servers()
	answers := make(chan LeaderInfo, len(servers))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, addr := range servers {
		go func() {
			l, err := c.cfg.PeerClient.Leader(ctx, addr)
			if err != nil {
				c.logger.Debug("asking a server for the leader", "server", addr, "error", err)
			}
			answers <- l // zero on error
		}()
	}
	for range servers {
		if l := <-answers; l.Node != "" {
			c.leaderCache, c.leaderAt = l, time.Now()
			return c.leaderCache, nil
		}
	}
	return LeaderInfo{}, ErrNoLeader
}
