package cluster

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/hashicorp/raft"
)

// bootstrapWhenExpected waits until BootstrapExpect servers (this one
// included) see each other through gossip, then bootstraps Raft with all of
// them. Every server computes the same configuration from the same gossip,
// so the concurrent bootstraps agree. It never bootstraps a server that
// already has Raft state, nor when any server it sees already belongs to a
// cluster: then the leader adds this server instead.
func (c *Cluster) bootstrapWhenExpected() {
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	warned := time.Time{}
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
		}
		has, err := raft.HasExistingState(c.logStore, c.logStore, c.snaps)
		if err != nil {
			c.logger.Error("bootstrap: read raft state", "error", err)
			continue
		}
		if has {
			return // bootstrapped before, or added by a leader
		}
		servers, ok := c.expectedServers(&warned)
		if !ok {
			continue
		}
		if c.anyPeerHasCluster(servers) {
			c.logger.Info("bootstrap: found an existing cluster; waiting for its leader to add this server")
			return
		}
		var conf raft.Configuration
		for i, m := range servers {
			suffrage := raft.Voter
			if i >= c.cfg.MaxVoters {
				suffrage = raft.Nonvoter
			}
			conf.Servers = append(conf.Servers, raft.Server{Suffrage: suffrage, ID: raft.ServerID(m.Name), Address: raft.ServerAddress(m.Meta.Raft)})
		}
		err = c.raft.BootstrapCluster(conf).Error()
		if err != nil && !errors.Is(err, raft.ErrCantBootstrap) {
			c.logger.Error("bootstrap failed", "error", err)
			continue
		}
		names := make([]string, len(servers))
		for i, m := range servers {
			names[i] = m.Name
		}
		c.logger.Info("bootstrapped raft", "servers", names)
		return
	}
}

// expectedServers returns the alive servers (sorted by name) once there are
// at least BootstrapExpect of them and none disagrees about the number.
func (c *Cluster) expectedServers(warned *time.Time) ([]Member, bool) {
	var servers []Member
	for _, m := range c.mem.list() {
		if m.Meta.Role != RoleServer || m.Status != StatusAlive {
			continue
		}
		if m.Meta.Expect != 0 && m.Meta.Expect != c.cfg.BootstrapExpect {
			if time.Since(*warned) > 10*time.Second {
				c.logger.Error("bootstrap: servers disagree on --bootstrap-expect; not bootstrapping",
					"node", m.Name, "theirs", m.Meta.Expect, "ours", c.cfg.BootstrapExpect)
				*warned = time.Now()
			}
			return nil, false
		}
		servers = append(servers, m)
	}
	if len(servers) < c.cfg.BootstrapExpect {
		return nil, false
	}
	slices.SortFunc(servers, func(a, b Member) int {
		if a.Name < b.Name {
			return -1
		}
		if a.Name > b.Name {
			return 1
		}
		return 0
	})
	return servers, true
}

// anyPeerHasCluster asks each other server for its Raft configuration.
func (c *Cluster) anyPeerHasCluster(servers []Member) bool {
	for _, m := range servers {
		if m.Name == c.cfg.NodeName || m.Meta.API == "" {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		peers, err := c.cfg.PeerClient.RaftPeers(ctx, m.Meta.API)
		cancel()
		if err == nil && len(peers) > 0 {
			return true
		}
		if err != nil {
			c.logger.Debug("bootstrap: asking a server for its raft peers", "node", m.Name, "error", err)
		}
	}
	return false
}
