package cluster

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/raft"
	"github.com/scaleout/scaleout/api"
)

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
	f := c.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return nil, translate(err)
	}
	_, leader := c.raft.LeaderWithID()
	var out []Peer
	for _, s := range f.Configuration().Servers {
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

// ErrUnknownPeer means the named server is not in the Raft configuration.
var ErrUnknownPeer = errors.New("unknown peer")

// leaderFromServers asks alive servers who leads (worker-only agents).
func (c *Cluster) leaderFromServers() (LeaderInfo, error) {
	c.leaderMu.Lock()
	defer c.leaderMu.Unlock()
	if c.leaderCache.Node != "" && time.Since(c.leaderAt) < time.Second {
		return c.leaderCache, nil
	}
	for _, addr := range c.Servers() {
		cl, err := api.NewClient(api.Config{Address: addr})
		if err != nil {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		l, err := cl.Status().Leader(ctx)
		cancel()
		if err == nil && l.Node != "" {
			c.leaderCache, c.leaderAt = LeaderInfo{Node: l.Node, API: l.API}, time.Now()
			return c.leaderCache, nil
		}
	}
	return LeaderInfo{}, ErrNoLeader
}
