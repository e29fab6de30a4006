package cluster

import (
	"encoding/json"
	"fmt"
	"io"
	"log"
	"maps"
	"math/rand/v2"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/memberlist"
	"github.com/scaleout/scaleout/cluster/internal/tick"
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
	// KeyID identifies a server's encryption key (catalog.Cipher.KeyID).
	KeyID string `json:"k,omitempty"`
	// Leaving is set just before a graceful leave, so that the others
	// record the node as left rather than failed (memberlist itself does not
	// tell the two apart in its events).
	Leaving bool `json:"x,omitempty"`
	// Ops is the level of commands the agent applies beyond those every
	// version knows (1: the access control lists and the operations log,
	// fsm types 60-65; 2: also the submission that leases, 70); an older
	// agent gossips less or none.
	Ops int `json:"o,omitempty"`
	// ACL is set by a server that requires ACL tokens from the start (TLS
	// and no --insecure): the leader then switches the cluster's
	// acl_required setting on. Older agents gossip none.
	ACL bool `json:"s,omitempty"`
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
	Local bool
	// WrapTransport, if set, wraps gossip's network transport (tests cut
	// the network with it).
	WrapTransport func(memberlist.NodeAwareTransport) memberlist.NodeAwareTransport
	// Keyring, if set, encrypts and authenticates every gossip message.
	Keyring *memberlist.Keyring
	Logger  hclog.Logger
}

// membership wraps memberlist with a table of every node ever seen, so that
// failed and left nodes can be listed and timed.
type membership struct {
	ml      *memberlist.Memberlist
	logger  hclog.Logger
	local   bool
	metaMu  sync.Mutex
	meta    []byte
	ownMeta NodeMeta
	ownName string
	// encrypted is set when gossip is encrypted (a keyring is installed).
	encrypted bool

	mu      sync.Mutex
	members map[string]*Member
	suspect map[string]time.Time // node -> until when it counts as suspect
	events  chan Member          // failed/left notifications for the master; dropped when full
}

func newMembership(cfg MemberConfig) (*membership, error) {
	meta, err := json.Marshal(cfg.Meta)
	if err != nil {
		return nil, err
	}
	if len(meta) > memberlist.MetaMaxSize {
		return nil, fmt.Errorf("node metadata is %d bytes, over gossip's limit of %d: use fewer or shorter labels", len(meta), memberlist.MetaMaxSize)
	}
	m := &membership{logger: cfg.Logger.Named("gossip"), meta: meta, ownMeta: cfg.Meta, ownName: cfg.NodeName, local: cfg.Local,
		members: map[string]*Member{}, suspect: map[string]time.Time{}, events: make(chan Member, 256)}
	mc := memberlist.DefaultLANConfig()
	if cfg.Local {
		mc = memberlist.DefaultLocalConfig()
		mc.ProbeInterval = 200 * time.Millisecond
		mc.ProbeTimeout = 100 * time.Millisecond
		mc.GossipInterval = 50 * time.Millisecond
		mc.SuspicionMult = 2
		mc.GossipToTheDeadTime = 2 * time.Second
	}
	mc.Name = cfg.NodeName
	mc.BindAddr = cfg.BindAddr
	mc.BindPort = cfg.BindPort
	mc.AdvertiseAddr = cfg.AdvertiseAddr
	mc.AdvertisePort = cfg.AdvertisePort
	mc.Delegate = m
	mc.Events = m
	if cfg.Keyring != nil {
		mc.Keyring = cfg.Keyring
		mc.GossipVerifyIncoming, mc.GossipVerifyOutgoing = true, true
	}
	m.encrypted = cfg.Keyring != nil
	// memberlist reports suspicion only in its log, so the log passes
	// through a scanner on its way to hclog.
	std := cfg.Logger.Named("memberlist").StandardWriter(&hclog.StandardLoggerOptions{InferLevels: true})
	mc.Logger = log.New(&suspicionScanner{m: m, out: std}, "", 0)
	if cfg.WrapTransport != nil {
		nt, err := memberlist.NewNetTransport(&memberlist.NetTransportConfig{
			BindAddrs: []string{cfg.BindAddr}, BindPort: cfg.BindPort, Logger: mc.Logger})
		if err != nil {
			return nil, fmt.Errorf("gossip on %s:%d: %w", cfg.BindAddr, cfg.BindPort, err)
		}
		mc.Transport = cfg.WrapTransport(nt)
	}
	ml, err := memberlist.Create(mc)
	if err != nil {
		return nil, fmt.Errorf("gossip on %s:%d: %w", cfg.BindAddr, cfg.BindPort, err)
	}
	m.ml = ml
	return m, nil
}

// NodeMeta implements memberlist.Delegate.
func (m *membership) NodeMeta(limit int) []byte {
	m.metaMu.Lock()
	defer m.metaMu.Unlock()
	return m.meta
}

// suspicionScanner forwards memberlist's log and notes the nodes it
// suspects ("Suspect NAME has failed, no acks received").
type suspicionScanner struct {
	m   *membership
	out io.Writer
}

var suspectLine = regexp.MustCompile(`Suspect (\S+) has failed`)

func (s *suspicionScanner) Write(p []byte) (int, error) {
	if sm := suspectLine.FindSubmatch(p); sm != nil {
		s.m.markSuspect(string(sm[1]))
	}
	return s.out.Write(p)
}

// markSuspect records that gossip suspects name. A suspect node is declared
// failed within the suspicion timeout or refutes it; memberlist tells only
// the first, so the mark simply expires.
func (m *membership) markSuspect(name string) {
	d := 10 * time.Second
	if m.local {
		d = 2 * time.Second
	}
	m.mu.Lock()
	m.suspect[name] = time.Now().Add(d)
	m.mu.Unlock()
}

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
	if status == StatusFailed && old != nil && old.Meta.Leaving {
		status = StatusLeft
	}
	if status != StatusAlive {
		delete(m.suspect, n.Name)
	}
	if len(n.Meta) == 0 && old != nil {
		meta = old.Meta
	}
	if ours := m.ownMeta.KeyID; ours != "" && meta.KeyID != "" && meta.KeyID != ours && n.Name != m.ownName &&
		(old == nil || old.Meta.KeyID != meta.KeyID) {
		m.logger.Error("server uses a different encryption key: values one seals the other cannot open; give every server the same --encrypt-key",
			"node", n.Name, "their_key_id", meta.KeyID, "our_key_id", ours)
	}
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

// NotifyLeave implements memberlist.EventDelegate. memberlist does not say
// whether the node left or failed (its Node.State is not maintained); a node
// that announced Leaving in its metadata is recorded as left.
func (m *membership) NotifyLeave(n *memberlist.Node) {
	m.update(n, StatusFailed)
	mem, _ := m.member(n.Name)
	m.logger.Info("member gone", "node", n.Name, "status", mem.Status)
}

// list returns every node seen, with suspect nodes marked from memberlist's
// live view, sorted by name.
func (m *membership) list() []Member {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now()
	suspect := map[string]bool{}
	for name, until := range m.suspect {
		if now.Before(until) {
			suspect[name] = true
		} else {
			delete(m.suspect, name)
		}
	}
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
		m.logger.Warn("join failed; retrying", "addrs", addrs, "error", err, "retry_in", backoff, "hint", joinHint(err, m.encrypted))
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

// reconnectTimeout is how long a failed member is still tried by reconnect.
const reconnectTimeout = 24 * time.Hour

// reconnect joins a failed (not left) member every interval until stop is
// closed. memberlist gossips to a dead node only for GossipToTheDeadTime and
// pushes/pulls only with live ones, so after a partition longer than that
// both sides hold the other as failed for good, although the network is
// back (and Raft, which dials by address, already works again): the leader
// would then remove healthy servers after the dead-server grace. A join
// exchanges the full state and the node that was declared dead refutes it
// (Serf's reconnector does the same).
func (m *membership) reconnect(interval time.Duration, stop <-chan struct{}) {
	tick.Every(interval, stop, func() {
		var failed []string
		m.mu.Lock()
		for _, mem := range m.members {
			if mem.Status == StatusFailed && time.Since(mem.Since) < reconnectTimeout {
				failed = append(failed, mem.Addr)
			}
		}
		m.mu.Unlock()
		if len(failed) == 0 {
			return
		}
		addr := failed[rand.IntN(len(failed))]
		if n, err := m.ml.Join([]string{addr}); n > 0 {
			m.logger.Info("reconnected to a failed member", "addr", addr)
		} else {
			m.logger.Debug("reconnect to a failed member failed", "addr", addr, "error", err)
		}
	})
}

// announceLeaving sets Leaving in this node's metadata and gossips it: the
// others record its departure as a leave, not a failure, and the leader
// removes a leaving server from Raft (reconcile).
func (m *membership) announceLeaving(timeout time.Duration) {
	m.metaMu.Lock()
	m.ownMeta.Leaving = true
	m.meta, _ = json.Marshal(m.ownMeta)
	m.metaMu.Unlock()
	if err := m.ml.UpdateNode(timeout); err != nil {
		m.logger.Warn("announce leaving", "error", err)
	}
}

// leave sends memberlist's leave broadcast.
func (m *membership) leave(timeout time.Duration) error { return m.ml.Leave(timeout) }

func (m *membership) shutdown() error {
	return m.ml.Shutdown()
}

func (m *membership) localAddr() string {
	n := m.ml.LocalNode()
	return net.JoinHostPort(n.Addr.String(), strconv.Itoa(int(n.Port)))
}

// joinHint explains the usual cause of a failed join: a gossip key that
// differs from the cluster's (or encryption on one side only) shows as a
// decryption error or a connection the other side closed at once.
func joinHint(err error, encrypted bool) string {
	if err == nil {
		return ""
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "decrypt") || strings.Contains(msg, "encrypt"):
		return "gossip key mismatch: this agent and the one it joins do not share a gossip key (gossip_key, 'scaleout operator keyring list')"
	case strings.Contains(msg, "EOF") || strings.Contains(msg, "reset by peer"):
		if encrypted {
			return "the other agent closed the connection: its gossip key may differ from this agent's (gossip_key), or it does not encrypt gossip"
		}
		return "the other agent closed the connection: it may encrypt gossip (gossip_key) while this agent does not"
	}
	return "is the address right and the agent running?"
}
