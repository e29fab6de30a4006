package agent

import (
	"context"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/scaleout/scaleout/api"
	"github.com/scaleout/scaleout/cluster"
	"github.com/scaleout/scaleout/cluster/tlsutil"
)

// keyringService is server.KeyringService: a local call changes this
// agent's gossip keyring; otherwise the agent asks every alive member (and
// itself; suspect ones too) through their APIs with local=true, so an operator rotates the
// key of the whole cluster with one command.
type keyringService struct {
	a  *Agent
	hc *http.Client
}

func newKeyringService(a *Agent) keyringService {
	tr := a.httpTransport(tlsutil.RoleServer, tlsutil.RoleWorker)
	if tr == nil {
		tr = &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 4, IdleConnTimeout: 90 * time.Second}
	}
	return keyringService{a: a, hc: &http.Client{Transport: tr}}
}

// Keyring implements server.KeyringService.
func (k keyringService) Keyring(ctx context.Context, op, key string, local bool) ([]api.KeyringNode, error) {
	if local {
		return []api.KeyringNode{k.local(op, key)}, nil
	}
	self := k.a.cfg.Node
	var targets []cluster.Member
	for _, m := range k.a.cluster.Members() {
		// A suspect member is most likely alive and slow: ask it too (a
		// failure shows in its answer, and the step can be repeated).
		if (m.Status == cluster.StatusAlive || m.Status == cluster.StatusSuspect) && m.Name != self && m.Meta.API != "" {
			targets = append(targets, m)
		}
	}
	out := make([]api.KeyringNode, len(targets)+1)
	out[0] = k.local(op, key)
	var wg sync.WaitGroup
	for i, m := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i+1] = k.remote(ctx, m, op, key)
		}()
	}
	wg.Wait()
	sort.Slice(out, func(i, j int) bool { return out[i].Node < out[j].Node })
	return out, nil
}

func (k keyringService) local(op, key string) api.KeyringNode {
	c := k.a.cluster
	n := api.KeyringNode{Node: k.a.cfg.Node}
	if op != "" {
		if err := c.ChangeGossipKeys(op, key); err != nil {
			n.Error = err.Error()
			return n
		}
		k.a.logger.Info("gossip keyring changed", "op", op)
	}
	keys, err := c.GossipKeys()
	if err != nil {
		n.Error = err.Error()
	}
	n.Keys = keys
	return n
}

func (k keyringService) remote(ctx context.Context, m cluster.Member, op, key string) api.KeyringNode {
	fail := func(err error) api.KeyringNode { return api.KeyringNode{Node: m.Name, Error: err.Error()} }
	c, err := api.NewClient(api.Config{Address: m.Meta.API, HTTPClient: k.hc, Caller: "keyring@" + k.a.cfg.Node, Token: k.a.cfg.ACLAgentToken, NoEnvToken: true})
	if err != nil {
		return fail(err)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var nodes []api.KeyringNode
	if op == "" {
		nodes, err = c.Operator().Keyring(ctx, true)
	} else {
		nodes, err = c.Operator().ChangeKeyring(ctx, op, key, true)
	}
	if err != nil {
		return fail(err)
	}
	if len(nodes) != 1 {
		return api.KeyringNode{Node: m.Name, Error: "unexpected answer: not one keyring"}
	}
	return nodes[0]
}
