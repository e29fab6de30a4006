package clustertest

import (
	"errors"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
)

// errPartitioned is what a cut link answers.
var errPartitioned = errors.New("clustertest: network partitioned")

// Partitioner decides which links are cut, for Raft and gossip alike.
// Outgoing Raft connections of every node go through Dialer, gossip through
// GossipTransport; a connection checks the partition on every read and
// write, so a cut also breaks pooled connections (the accepting side then
// sees EOF).
type Partitioner struct {
	mu      sync.Mutex
	addrs   map[string]string          // raft or gossip address -> node name
	cut     map[string]map[string]bool // node -> nodes it cannot reach
	isolate map[string]bool
}

// NewPartitioner returns a partitioner with every link up.
func NewPartitioner() *Partitioner {
	return &Partitioner{addrs: map[string]string{}, cut: map[string]map[string]bool{}, isolate: map[string]bool{}}
}

// Register records one of node's addresses (Raft or gossip).
func (p *Partitioner) Register(node, addr string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if addr != "" {
		p.addrs[addr] = node
	}
}

func (p *Partitioner) blocked(from, toAddr string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	to := p.addrs[toAddr]
	return p.isolate[from] || p.isolate[to] || p.cut[from][to]
}

// Partition cuts every link between the group and the other nodes.
func (p *Partitioner) Partition(group ...string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	in := map[string]bool{}
	for _, g := range group {
		in[g] = true
	}
	var all []string
	for _, n := range p.addrs {
		all = append(all, n)
	}
	for _, a := range all {
		for _, b := range all {
			if in[a] != in[b] {
				if p.cut[a] == nil {
					p.cut[a] = map[string]bool{}
				}
				p.cut[a][b] = true
			}
		}
	}
}

// Isolate cuts every link of node.
func (p *Partitioner) Isolate(node string) {
	p.mu.Lock()
	p.isolate[node] = true
	p.mu.Unlock()
}

// Heal restores the links of node.
func (p *Partitioner) Heal(node string) {
	p.mu.Lock()
	delete(p.isolate, node)
	p.mu.Unlock()
}

// HealAll restores every link.
func (p *Partitioner) HealAll() {
	p.mu.Lock()
	p.cut = map[string]map[string]bool{}
	p.isolate = map[string]bool{}
	p.mu.Unlock()
}

// Dialer returns the Raft dialer of node from.
func (p *Partitioner) Dialer(from string) func(addr string, timeout time.Duration) (net.Conn, error) {
	return func(addr string, timeout time.Duration) (net.Conn, error) {
		if p.blocked(from, addr) {
			return nil, errPartitioned
		}
		c, err := net.DialTimeout("tcp", addr, timeout)
		if err != nil {
			return nil, err
		}
		return &faultConn{Conn: c, p: p, from: from, to: addr}, nil
	}
}

type faultConn struct {
	net.Conn
	p        *Partitioner
	from, to string
}

func (c *faultConn) check() error {
	if c.p.blocked(c.from, c.to) {
		c.Conn.Close()
		return errPartitioned
	}
	return nil
}

func (c *faultConn) Read(b []byte) (int, error) {
	if err := c.check(); err != nil {
		return 0, err
	}
	n, err := c.Conn.Read(b)
	if err == nil {
		err = c.check()
	}
	return n, err
}

func (c *faultConn) Write(b []byte) (int, error) {
	if err := c.check(); err != nil {
		return 0, err
	}
	return c.Conn.Write(b)
}

// GossipTransport returns the gossip transport wrapper of node from: packets
// to a node it cannot reach are dropped (as a cut network drops UDP) and
// streams to it fail. Cutting the sending side of every link is enough,
// because a partition is symmetric: replies go through the other node's
// transport.
func (p *Partitioner) GossipTransport(from string) func(memberlist.NodeAwareTransport) memberlist.NodeAwareTransport {
	return func(inner memberlist.NodeAwareTransport) memberlist.NodeAwareTransport {
		return &faultTransport{NodeAwareTransport: inner, p: p, from: from}
	}
}

type faultTransport struct {
	memberlist.NodeAwareTransport
	p    *Partitioner
	from string
}

func (t *faultTransport) WriteTo(b []byte, addr string) (time.Time, error) {
	if t.p.blocked(t.from, addr) {
		return time.Now(), nil
	}
	return t.NodeAwareTransport.WriteTo(b, addr)
}

func (t *faultTransport) WriteToAddress(b []byte, a memberlist.Address) (time.Time, error) {
	if t.p.blocked(t.from, a.Addr) {
		return time.Now(), nil
	}
	return t.NodeAwareTransport.WriteToAddress(b, a)
}

func (t *faultTransport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	return t.DialAddressTimeout(memberlist.Address{Addr: addr}, timeout)
}

func (t *faultTransport) DialAddressTimeout(a memberlist.Address, timeout time.Duration) (net.Conn, error) {
	if t.p.blocked(t.from, a.Addr) {
		return nil, errPartitioned
	}
	c, err := t.NodeAwareTransport.DialAddressTimeout(a, timeout)
	if err != nil {
		return nil, err
	}
	return &faultConn{Conn: c, p: t.p, from: t.from, to: a.Addr}, nil
}
