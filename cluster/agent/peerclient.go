package agent

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"time"

	"github.com/scaleout/scaleout/api"
	"github.com/scaleout/scaleout/cluster"
)

// peerClient is cluster.PeerClient over the agents' public API
// (GET /v1/status/peers and /v1/status/leader), so that cluster itself knows
// no HTTP. One HTTP client (one connection pool) serves every call.
type peerClient struct {
	hc    *http.Client
	token string // acl_agent_token (empty: none)
}

// newPeerClient returns a peer client; tc (nil without TLS) verifies the
// called agent's certificate and presents this agent's.
func newPeerClient(tc *tls.Config, token string) *peerClient {
	return &peerClient{token: token, hc: &http.Client{Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 4, IdleConnTimeout: 90 * time.Second,
		DialContext: (&net.Dialer{Timeout: 2 * time.Second, KeepAlive: 15 * time.Second}).DialContext, TLSClientConfig: tc}}}
}

func (p *peerClient) client(apiAddr string) (*api.Client, error) {
	return api.NewClient(api.Config{Address: apiAddr, HTTPClient: p.hc, Token: p.token, NoEnvToken: true})
}

// RaftPeers implements cluster.PeerClient. It asks for the configuration of
// that server itself, not its leader's (a plain read is served locally).
func (p *peerClient) RaftPeers(ctx context.Context, apiAddr string) ([]cluster.Peer, error) {
	c, err := p.client(apiAddr)
	if err != nil {
		return nil, err
	}
	peers, err := c.Status().Peers(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]cluster.Peer, 0, len(peers))
	for _, pr := range peers {
		out = append(out, cluster.Peer{ID: pr.ID, Address: pr.Address, Suffrage: pr.Suffrage, Leader: pr.Leader})
	}
	return out, nil
}

// Leader implements cluster.PeerClient.
func (p *peerClient) Leader(ctx context.Context, apiAddr string) (cluster.LeaderInfo, error) {
	c, err := p.client(apiAddr)
	if err != nil {
		return cluster.LeaderInfo{}, err
	}
	l, err := c.Status().Leader(ctx)
	if err != nil {
		return cluster.LeaderInfo{}, err
	}
	return cluster.LeaderInfo{Node: l.Node, API: l.API}, nil
}
