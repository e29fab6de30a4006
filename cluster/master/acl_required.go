package master

import (
	"context"
	"errors"
	"time"

	"github.com/scaleout/scaleout/catalog"
	"github.com/scaleout/scaleout/catalog/service"
	"github.com/scaleout/scaleout/cluster"
)

// Secure by default (docs/SECURITY.md). A server that runs with TLS and
// without --insecure requires ACL tokens from its first start
// (Config.ACLRequired) and says so in gossip (NodeMeta.ACL). The leader
// writes the replicated setting acl_required as soon as it, or any alive
// server, requires tokens: from then on every agent of the cluster denies
// requests without a token, also an agent restarted with --insecure or one
// whose configuration disagrees. The setting is only ever switched on.

// aclRequiredRetry is how long the leader waits after a failed write of
// acl_required (a server of an older version in the cluster refuses the
// settings command) before it tries again.
const aclRequiredRetry = 30 * time.Second

// aclRequirer is the leader's state of that write (one per term). It
// looks once a second (a snapshot restore may have put back a catalog
// from before the setting).
type aclRequirer struct {
	next   time.Time
	warned bool
}

// ensure writes acl_required when it is off and this server or an alive
// server requires tokens. It runs on the leader's expiry tick.
func (a *aclRequirer) ensure(ctx context.Context, m *Master) {
	if time.Now().Before(a.next) || m.store == nil {
		return
	}
	a.next = time.Now().Add(time.Second)
	on, err := catalog.Read(m.store, func(tx *catalog.Tx) (bool, error) { return tx.ACLRequired(), nil })
	if err != nil {
		return
	}
	who := m.aclRequiredBy()
	if on || who == "" {
		return
	}
	wctx, cancel := context.WithTimeout(service.WithCaller(ctx, "agent:"+who), 10*time.Second)
	defer cancel()
	if err := m.SetSetting(wctx, catalog.SettingACLRequired, "true"); err != nil {
		a.next = time.Now().Add(aclRequiredRetry)
		if !a.warned || !errors.Is(err, service.ErrOlderServers) {
			m.logger.Warn("cannot switch acl_required on; retrying", "requested_by", who, "error", err)
			a.warned = true
		}
		return
	}
	m.logger.Info("ACL tokens required from now on (acl_required): a server runs with TLS and without --insecure", "server", who)
}

// aclRequiredBy names a server that requires tokens: this one, or an
// alive server that gossips it ("" if none).
func (m *Master) aclRequiredBy() string {
	if m.cfg.ACLRequired {
		if li, err := m.raft.Leader(); err == nil {
			return li.Node
		}
		return "leader"
	}
	for _, mem := range m.raft.Members() {
		if mem.Meta.Role == cluster.RoleServer && mem.Status == cluster.StatusAlive && mem.Meta.ACL {
			return mem.Name
		}
	}
	return ""
}
