package master

import (
	"context"
	"errors"

	"github.com/scaleout/scaleout/api"
)

// LeaderAPI implements server.Router: the leader's API address, or
// self=true on the leader.
func (m *Master) LeaderAPI() (string, bool, error) {
	if m.raft.IsLeader() {
		return "", true, nil
	}
	li, err := m.raft.Leader()
	if err != nil {
		return "", false, err
	}
	if li.API == "" {
		return "", false, errors.New("the leader's API address is not known yet")
	}
	return li.API, false, nil
}

// HasState implements server.Router.
func (m *Master) HasState() bool { return m.raft.IsServer() }

// Barrier implements server.Router.
func (m *Master) Barrier(ctx context.Context) error { return m.raft.Barrier(ctx) }

// Members lists every agent gossip has seen, marking the leader.
func (m *Master) Members() []api.Member {
	li, _ := m.raft.Leader()
	var out []api.Member
	for _, mem := range m.raft.Members() {
		out = append(out, api.Member{Name: mem.Name, Addr: mem.Addr, Role: mem.Meta.Role, Status: mem.Status,
			API: mem.Meta.API, Raft: mem.Meta.Raft, Version: mem.Meta.Version, Labels: mem.Meta.Labels,
			Leader: li.Node != "" && li.Node == mem.Name})
	}
	return out
}

// Peers returns the Raft configuration.
func (m *Master) Peers() ([]api.Peer, error) {
	peers, err := m.raft.Peers()
	if err != nil {
		return nil, err
	}
	out := make([]api.Peer, 0, len(peers))
	for _, p := range peers {
		out = append(out, api.Peer{ID: p.ID, Address: p.Address, Suffrage: p.Suffrage, Leader: p.Leader})
	}
	return out, nil
}

// RemovePeer removes a server from the Raft configuration.
func (m *Master) RemovePeer(ctx context.Context, id string) error {
	return m.raft.RemovePeer(id)
}

// AppliedIndex implements server.IndexReader.
func (m *Master) AppliedIndex() uint64 { return m.raft.FSM().AppliedIndex() }

// WaitApplied implements server.IndexReader.
func (m *Master) WaitApplied(ctx context.Context, index uint64) bool {
	return m.raft.FSM().WaitApplied(ctx, index)
}
