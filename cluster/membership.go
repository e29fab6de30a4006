package cluster

import (
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/memberlist"
)

// Roles of an agent in gossip metadata.
const (
	RoleServer = "server" // holds Raft state; may be elected master
	RoleWorker = "worker" // worker-only agent: no Raft state
)

// Member statuses, as `scaleout members` shows them.
const (
	StatusAlive   = "alive"
	StatusSuspect = "suspect"
	StatusFailed  = "failed"
	StatusLeft    = "left"
)

// NodeMeta is what every agent gossips about itself. It must stay under
// memberlist's 512-byte limit, so labels are checked at start.
type NodeMeta struct {
	Role    string            `json:"r"`
	API     string            `json:"a"`
	Raft    string            `json:"f,omitempty"`
	Expect  int               `json:"e,omitempty"`
	Version string            `json:"v,omitempty"`
	Labels  map[string]string `json:"l,omitempty"`
}

// Member is one agent as this agent's gossip sees it.
type Member struct {
	Name   string
	Addr   string // gossip host:port
	Status string
	Meta   NodeMeta
	// Since is when the member entered its current status (as seen here).
	Since time.Time
}

// MemberConfig configures gossip.
type MemberConfig struct {
	NodeName      string
	BindAddr      string
	BindPort      int // 0 picks a free port
	AdvertiseAddr string
	AdvertisePort int
	Meta          NodeMeta
	// Local uses memberlist's loopback timings (dev mode and tests).
	Local  bool
	Logger hclog.Logger
}

// membership wraps memberlist with a table of every node ever seen, so that
// failed and left nodes can be listed and timed.
type membership struct {
	ml     *memberlist.Memberlist
	logger hclog.Logger
	meta   []byte

	mu      sync.Mutex
	members map[string]*Member
	events  chan Member // failed/left notifications for the master; dropped when full
}

func newMembership(cfg MemberConfig) (*membership, error) {
	meta, err := json.Marshal(cfg.Meta)
	if err != nil {
		return nil, err
	}
	if len(meta) > memberlist.MetaMaxSize {
		return nil, fmt.Errorf("node metadata is %d bytes, over gossip's limit of %d: use fewer or shorter labels", len(meta), memberlist.MetaMaxSize)
	}
	m := &membership{logger: cfg.Logger.Named("gossip"), meta: meta, members: map[string]*Member{}, events: make(chan Member, 256)}
	mc := memberlist.DefaultLANConfig()
	if cfg.Local {
		mc = memberlist.DefaultLocalConfig()
		mc.ProbeInterval = 200 * time.Millisecond
		mc.ProbeTimeout = 100 * time.Millisecond
		mc.GossipInterval = 50 * time.Millisecond
		mc.SuspicionMult = 2
	}
	mc.Name = cfg.NodeName
	mc.BindAddr = cfg.BindAddr
	mc.BindPort = cfg.BindPort
	mc.AdvertiseAddr = cfg.AdvertiseAddr
	mc.AdvertisePort = cfg.AdvertisePort
	mc.Delegate = m
	mc.Events = m
	mc.Logger = cfg.Logger.Named("memberlist").StandardLogger(&hclog.StandardLoggerOptions{InferLevels: true})
	ml, err := memberlist.Create(mc)
	if err != nil {
		return nil, fmt.Errorf("gossip on %s:%d: %w", cfg.BindAddr, cfg.BindPort, err)
	}
	m.ml = ml
	return m, nil
}

// NodeMeta implements memberlist.Delegate.
func (m *membership) NodeMeta(limit int) []byte { return m.meta }

// NotifyMsg implements memberlist.Delegate (unused).
func (m *membership) NotifyMsg([]byte) {}

// GetBroadcasts implements memberlist.Delegate (unused).
func (m *membership) GetBroadcasts(overhead, limit int) [][]byte { return nil }

// LocalState implements memberlist.Delegate (unused).
func (m *membership) LocalState(join bool) []byte { return nil }

// MergeRemoteState implements memberlist.Delegate (unused).
func (m *membership) MergeRemoteState(buf []byte, join bool) {}

func (m *membership) update(n *memberlist.Node, status string) {
	var meta NodeMeta
	if err := json.Unmarshal(n.Meta, &meta); err != nil && len(n.Meta) > 0 {
		m.logger.Warn("unreadable metadata from node", "node", n.Name, "error", err)
	}
	m.mu.Lock()
	old := m.members[n.Name]
	mem := &Member{Name: n.Name, Addr: net.JoinHostPort(n.Addr.String(), strconv.Itoa(int(n.Port))), Status: status, Meta: meta, Since: time.Now()}
	if old != nil && old.Status == status {
		mem.Since = old.Since
	}
	m.members[n.Name] = mem
	m.mu.Unlock()
	if status == StatusFailed || status == StatusLeft {
		select {
		case m.events <- *mem:
		default:
		}
	}
}

// NotifyJoin implements memberlist.EventDelegate.
func (m *membership) NotifyJoin(n *memberlist.Node) {
	m.logger.Info("member joined", "node", n.Name, "addr", n.Address())
	m.update(n, StatusAlive)
}

// NotifyUpdate implements memberlist.EventDelegate.
func (m *membership) NotifyUpdate(n *memberlist.Node) { m.update(n, StatusAlive) }

// NotifyLeave implements memberlist.EventDelegate.
func (m *membership) NotifyLeave(n *memberlist.Node) {
	status := StatusFailed
	if n.State == memberlist.StateLeft {
		status = StatusLeft
	}
	m.logger.Info("member gone", "node", n.Name, "status", status)
	m.update(n, status)
}

// list returns every node seen, with suspect nodes marked from memberlist's
// live view, sorted by name.
func (m *membership) list() []Member {
	suspect := map[string]bool{}
	for _, n := range m.ml.Members() {
		if n.State == memberlist.StateSuspect {
			suspect[n.Name] = true
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Member, 0, len(m.members))
	for _, name := range slices.Sorted(maps.Keys(m.members)) {
		mem := *m.members[name]
		if mem.Status == StatusAlive && suspect[name] {
			mem.Status = StatusSuspect
		}
		out = append(out, mem)
	}
	return out
}

func (m *membership) member(name string) (Member, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	mem, ok := m.members[name]
	if !ok {
		return Member{}, false
	}
	return *mem, true
}

// join contacts addrs until one answers or stop is closed.
func (m *membership) join(addrs []string, stop <-chan struct{}) {
	if len(addrs) == 0 {
		return
	}
	backoff := 200 * time.Millisecond
	for {
		n, err := m.ml.Join(addrs)
		if n > 0 {
			m.logger.Info("joined the cluster", "contacted", n)
			return
		}
		m.logger.Warn("join failed; retrying", "addrs", addrs, "error", err, "retry_in", backoff)
		select {
		case <-stop:
			return
		case <-time.After(backoff):
		}
		if backoff *= 2; backoff > 5*time.Second {
			backoff = 5 * time.Second
		}
	}
}

func (m *membership) leave(timeout time.Duration) error {
	return m.ml.Leave(timeout)
}

func (m *membership) shutdown() error {
	return m.ml.Shutdown()
}

func (m *membership) localAddr() string {
	n := m.ml.LocalNode()
	return net.JoinHostPort(n.Addr.String(), strconv.Itoa(int(n.Port)))
}
