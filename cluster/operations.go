package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/scaleout/scaleout/catalog/service"
	"github.com/scaleout/scaleout/fsm"
)

// opsLevel is what this version gossips as NodeMeta.Ops: it applies the
// commands of the access control lists and the operations log (60-65).
const opsLevel = 1

// opsGate remembers, for a second, whether every server of the Raft
// configuration applies those commands. While one does not (a rolling
// upgrade), the leader writes none of them: changes go unwrapped (not in
// the operations log) and ACL commands are refused, so that an older
// server never meets a command it would stop at.
type opsGate struct {
	mu      sync.Mutex
	at      time.Time
	ready   bool
	missing string
}

// opsGateTTL is how long a check that found every server ready is reused
// (a quarter of it for one that did not).
const opsGateTTL = time.Second

// opsReady reports whether every server in the Raft configuration gossips
// opsLevel (as last seen, also while it is down); missing names the others.
func (c *Cluster) opsReady() (bool, string) {
	g := &c.ops
	g.mu.Lock()
	defer g.mu.Unlock()
	if ttl := map[bool]time.Duration{true: opsGateTTL, false: opsGateTTL / 4}[g.ready]; time.Since(g.at) < ttl {
		return g.ready, g.missing
	}
	conf, err := c.configuration()
	if err != nil {
		return g.ready, g.missing
	}
	level := map[string]int{}
	for _, m := range c.mem.list() {
		level[m.Name] = m.Meta.Ops
	}
	var missing []string
	for _, s := range conf.Servers {
		if level[string(s.ID)] < opsLevel {
			missing = append(missing, string(s.ID))
		}
	}
	sort.Strings(missing)
	g.at, g.ready, g.missing = time.Now(), len(missing) == 0, strings.Join(missing, ", ")
	return g.ready, g.missing
}

// newTypes are the command types an older server does not know.
func newType(t fsm.MessageType) bool { return t >= fsm.ACLBootstrapType && t <= fsm.OperationType }

// encode encodes a command; one that the operations log records is
// wrapped in an fsm.OperationRequest naming the caller (service.CallerFrom)
// and the time, so that the change and its log entry are one apply. While
// a server of an older version is in the configuration nothing is wrapped
// and the new command types are refused (service.ErrOlderServers).
func (c *Cluster) encode(ctx context.Context, t fsm.MessageType, msg any) ([]byte, error) {
	if !fsm.Logged(t) && !newType(t) {
		return fsm.Encode(t, msg)
	}
	if ready, missing := c.opsReady(); !ready {
		if newType(t) {
			return nil, fmt.Errorf("%w (%s, or a server not seen since this agent started): upgrade every server before using "+
				"acl, workers approve, operator settings or the operations log", service.ErrOlderServers, missing)
		}
		return fsm.Encode(t, msg)
	}
	if !fsm.Logged(t) {
		return fsm.Encode(t, msg)
	}
	payload, err := json.Marshal(msg)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", t, err)
	}
	now := time.Now().UTC()
	op := &fsm.OperationRequest{Time: now, Caller: service.CallerFrom(ctx), Type: t, Payload: payload}
	if c.cfg.OperationRetention > 0 {
		op.PruneBefore = now.Add(-c.cfg.OperationRetention)
	}
	return fsm.Encode(fsm.OperationType, op)
}
