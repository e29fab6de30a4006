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

// opsLevel is what this version gossips as NodeMeta.Ops: level 1 applies
// the commands of the access control lists and the operations log
// (60-65), level 2 also the submission that leases (70).
const opsLevel = 2

// opsGate remembers, for a second, the command level every server of the
// Raft configuration applies. While one applies less (a rolling upgrade),
// the leader writes none of the commands above it: below level 1 changes go
// unwrapped (not in the operations log) and ACL commands are refused, so
// that an older server never meets a command it would stop at.
type opsGate struct {
	mu     sync.Mutex
	at     time.Time
	levels map[string]int // server id -> the level it gossips (0: not seen)
}

// opsGateTTL is how long a check that found every server at this
// version's level is reused (a quarter of it for one that did not).
const opsGateTTL = time.Second

// opsReady reports whether every server in the Raft configuration gossips
// at least level (as last seen, also while it is down); missing names the
// others.
func (c *Cluster) opsReady(level int) (bool, string) {
	g := &c.ops
	g.mu.Lock()
	defer g.mu.Unlock()
	current := g.levels != nil
	for _, l := range g.levels {
		current = current && l >= opsLevel
	}
	if ttl := map[bool]time.Duration{true: opsGateTTL, false: opsGateTTL / 4}[current]; g.levels == nil || time.Since(g.at) >= ttl {
		if conf, err := c.configuration(); err == nil {
			seen := map[string]int{}
			for _, m := range c.mem.list() {
				seen[m.Name] = m.Meta.Ops
			}
			g.levels = map[string]int{}
			for _, s := range conf.Servers {
				g.levels[string(s.ID)] = seen[string(s.ID)]
			}
			g.at = time.Now()
		}
	}
	var missing []string
	for id, l := range g.levels {
		if l < level {
			missing = append(missing, id)
		}
	}
	sort.Strings(missing)
	return g.levels != nil && len(missing) == 0, strings.Join(missing, ", ")
}

// opsLevelOf is the level of command type t: 0 for those every version
// applies.
func opsLevelOf(t fsm.MessageType) int {
	switch {
	case t >= fsm.ACLBootstrapType && t <= fsm.OperationType:
		return 1
	case t == fsm.ExecutionSubmitLeaseType:
		return 2
	}
	return 0
}

// Supports reports whether every server of the configuration applies
// commands of type t, so that the leader may write them.
func (c *Cluster) Supports(t fsm.MessageType) bool {
	if c.raft == nil {
		return false
	}
	ok, _ := c.opsReady(opsLevelOf(t))
	return ok
}

// encode encodes a command; one that the operations log records is
// wrapped in an fsm.OperationRequest naming the caller (service.CallerFrom)
// and the time, so that the change and its log entry are one apply. While
// a server of an older version is in the configuration nothing is wrapped
// and the new command types are refused (service.ErrOlderServers).
func (c *Cluster) encode(ctx context.Context, t fsm.MessageType, msg any) ([]byte, error) {
	level := opsLevelOf(t)
	if !fsm.Logged(t) && level == 0 {
		return fsm.Encode(t, msg)
	}
	if ready, missing := c.opsReady(level); !ready && level > 0 {
		what := "acl, workers approve, operator settings or the operations log"
		if level > 1 {
			what = t.String()
		}
		return nil, fmt.Errorf("%w (%s, or a server not seen since this agent started): upgrade every server before using "+
			"%s", service.ErrOlderServers, missing, what)
	}
	if ready, _ := c.opsReady(1); !ready {
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
