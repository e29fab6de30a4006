package cluster

import (
	"time"

	"github.com/hashicorp/raft"
	"github.com/scaleout/scaleout/cluster/internal/tick"
)

// reconcileLoop makes the Raft configuration follow gossip while this server
// leads: alive servers are added (voters up to MaxVoters, then non-voters,
// promoted when a voter slot frees up), servers that left are removed at
// once (as are servers that announced they are leaving), and servers that
// stayed failed past DeadServerGrace are removed.
func (c *Cluster) reconcileLoop() {
	tick.Every(c.cfg.ReconcileInterval, c.stop, func() {
		if c.IsLeader() {
			c.reconcile()
		}
	})
}

func (c *Cluster) reconcile() {
	conf, err := c.configuration()
	if err != nil {
		return
	}
	inConf := map[string]raft.Server{}
	voters := 0
	for _, s := range conf.Servers {
		inConf[string(s.ID)] = s
		if s.Suffrage == raft.Voter {
			voters++
		}
	}
	members := map[string]Member{}
	for _, m := range c.mem.list() {
		members[m.Name] = m
	}
	timeout := c.cfg.ApplyTimeout

	// Remove departed servers first, so their voter slots can be reused.
	for id, s := range inConf {
		if id == c.cfg.NodeName {
			continue
		}
		m, seen := members[id]
		remove := ""
		switch {
		case seen && m.Status == StatusLeft:
			remove = "left the cluster"
		case seen && m.Status == StatusAlive && m.Meta.Leaving:
			// It announced a graceful leave and waits for this removal
			// before it leaves gossip (Cluster.Leave).
			remove = "is leaving the cluster"
		case seen && m.Status == StatusFailed && time.Since(m.Since) > c.cfg.DeadServerGrace:
			remove = "failed for longer than the dead-server grace"
		case seen && m.Meta.Role != RoleServer:
			remove = "is no longer a server"
		}
		if remove == "" {
			continue
		}
		if err := c.raft.RemoveServer(s.ID, 0, timeout).Error(); err != nil {
			c.logger.Warn("remove raft peer", "id", id, "error", err)
			return
		}
		c.logger.Info("removed raft peer", "id", id, "reason", remove)
		delete(inConf, id)
		if s.Suffrage == raft.Voter {
			voters--
		}
	}

	for _, m := range members {
		if m.Meta.Role != RoleServer || m.Status != StatusAlive || m.Meta.Raft == "" || m.Meta.Leaving {
			continue
		}
		s, ok := inConf[m.Name]
		if (!ok || string(s.Address) != m.Meta.Raft) && !c.raftTrusted(m) {
			continue
		}
		switch {
		case !ok && voters < c.cfg.MaxVoters:
			if err := c.raft.AddVoter(raft.ServerID(m.Name), raft.ServerAddress(m.Meta.Raft), 0, timeout).Error(); err != nil {
				c.logger.Warn("add voter", "id", m.Name, "error", err)
				return
			}
			voters++
			c.logger.Info("added raft voter", "id", m.Name, "addr", m.Meta.Raft)
		case !ok:
			if err := c.raft.AddNonvoter(raft.ServerID(m.Name), raft.ServerAddress(m.Meta.Raft), 0, timeout).Error(); err != nil {
				c.logger.Warn("add nonvoter", "id", m.Name, "error", err)
				return
			}
			c.logger.Info("added raft non-voter (max voters reached)", "id", m.Name, "max_voters", c.cfg.MaxVoters)
		case s.Suffrage != raft.Voter && voters < c.cfg.MaxVoters:
			if err := c.raft.AddVoter(s.ID, s.Address, 0, timeout).Error(); err != nil {
				c.logger.Warn("promote to voter", "id", m.Name, "error", err)
				return
			}
			voters++
			c.logger.Info("promoted raft non-voter to voter", "id", m.Name)
		case string(s.Address) != m.Meta.Raft:
			// The server came back on another address: re-adding it with
			// the same suffrage updates the address.
			add := c.raft.AddVoter
			if s.Suffrage != raft.Voter {
				add = c.raft.AddNonvoter
			}
			if err := add(s.ID, raft.ServerAddress(m.Meta.Raft), 0, timeout).Error(); err != nil {
				c.logger.Warn("update raft address", "id", m.Name, "error", err)
			}
		}
	}
}
