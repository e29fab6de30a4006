package cluster

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// maxRPCsInFlight is 1: no pipelined replication. hashicorp/raft's pipeline
// (v1.8.0, default 2 in flight) can wedge for good: when a follower
// answers an append with Success=false (a failed log write, a term change),
// the pipeline's decoder returns while the sender may still be about to
// send; that send blocks on a channel nobody reads, and the pipeline's
// shutdown is deferred in the blocked function. The follower then gets
// heartbeats but never another entry, and the leader's Shutdown waits
// forever (seen here: a test cluster's shutdown hung 39 minutes in
// pipelineSend under load; also hashicorp/raft#612). Commands are batched
// (BatchApplyCh, the coalescers), which is where the pipeline's gain was
// small anyway (hashicorp/raft#541).
const maxRPCsInFlight = 1

func newTransport(cfg Config, logger hclog.Logger) (*raft.NetworkTransport, *streamLayer, error) {
	ln, err := net.Listen("tcp", cfg.RaftBind)
	if err != nil {
		return nil, nil, fmt.Errorf("raft transport on %s: %w", cfg.RaftBind, err)
	}
	adv := ln.Addr()
	if cfg.RaftAdvertise != "" {
		if adv, err = net.ResolveTCPAddr("tcp", cfg.RaftAdvertise); err != nil {
			ln.Close()
			return nil, nil, fmt.Errorf("raft advertise %q: %w", cfg.RaftAdvertise, err)
		}
	} else if ta := adv.(*net.TCPAddr); ta.IP.IsUnspecified() {
		ln.Close()
		return nil, nil, fmt.Errorf("raft bind %s is not an address other servers can dial: set an advertise address", cfg.RaftBind)
	}
	layer := &streamLayer{ln: ln, adv: adv, dial: cfg.Dialer, tlsServer: cfg.RaftTLSServer, tlsClient: cfg.RaftTLSClient}
	return raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream: layer, MaxPool: 3, Timeout: 10 * time.Second, Logger: logger.Named("transport"),
		MaxRPCsInFlight: maxRPCsInFlight,
	}), layer, nil
}

// streamLayer is raft's TCP stream layer with an injectable dialer and,
// when configured, mutual TLS on both sides: a peer without a server
// certificate of the cluster CA fails the handshake, so it can neither
// send Raft RPCs to this server nor receive any from it.
type streamLayer struct {
	ln        net.Listener
	adv       net.Addr
	dial      func(addr string, timeout time.Duration) (net.Conn, error)
	tlsServer *tls.Config
	tlsClient *tls.Config
}

// Accept returns the next connection. A TLS handshake runs on the
// connection's first read, in raft's goroutine for that connection, so a
// slow or refused peer does not hold up the accept loop.
func (s *streamLayer) Accept() (net.Conn, error) {
	conn, err := s.ln.Accept()
	if err != nil || s.tlsServer == nil {
		return conn, err
	}
	return tls.Server(conn, s.tlsServer), nil
}

func (s *streamLayer) Close() error   { return s.ln.Close() }
func (s *streamLayer) Addr() net.Addr { return s.adv }

// raftTrusted reports whether a server that gossip announced may be added
// to the Raft configuration: with TLS, its Raft port must complete a
// handshake as a server of the cluster CA. Without this check a server
// with a foreign certificate would enter the configuration as a voter that
// can never be reached (it still could not read or write the log). A
// refusal is logged at most every 30 s per server.
func (c *Cluster) raftTrusted(m Member) bool {
	if c.layer == nil || c.layer.tlsClient == nil {
		return true
	}
	conn, err := c.layer.Dial(raft.ServerAddress(m.Meta.Raft), 5*time.Second)
	if err == nil {
		conn.Close()
		delete(c.refused, m.Name)
		return true
	}
	if last, ok := c.refused[m.Name]; !ok || time.Since(last) > 30*time.Second {
		c.refused[m.Name] = time.Now()
		c.logger.Error("server not added to Raft: its Raft port does not present a server certificate of this cluster's CA",
			"id", m.Name, "addr", m.Meta.Raft, "error", err)
	}
	return false
}

// Dial connects to a server and, with TLS, completes the handshake within
// timeout so that a peer that is not a cluster server is an error here.
func (s *streamLayer) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	var conn net.Conn
	var err error
	if s.dial != nil {
		conn, err = s.dial(string(addr), timeout)
	} else {
		conn, err = net.DialTimeout("tcp", string(addr), timeout)
	}
	if err != nil || s.tlsClient == nil {
		return conn, err
	}
	tc := tls.Client(conn, s.tlsClient)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		conn.Close()
		return nil, fmt.Errorf("raft TLS handshake with %s: %w", addr, err)
	}
	return tc, nil
}
