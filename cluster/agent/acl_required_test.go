package agent_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/scaleout/scaleout/api"
	"github.com/scaleout/scaleout/catalog"
	"github.com/scaleout/scaleout/cluster/agent"
	"github.com/scaleout/scaleout/cluster/clustertest"
	"github.com/scaleout/scaleout/cluster/tlsutil"
)

// aclRequiredOn reports whether n's replica has acl_required on.
func aclRequiredOn(n *clustertest.Node) bool {
	st := n.Agent.Cluster().Store()
	if st == nil {
		return false
	}
	on, _ := catalog.Read(st, func(tx *catalog.Tx) (bool, error) { return tx.ACLRequired(), nil })
	return on
}

// TestCluster_ACLRequiredFromTheStart: agents with TLS and without
// --insecure require a token before acl bootstrap: a client certificate
// alone gets 401 on reads and writes on every agent, while the cluster
// forms (the agents' own traffic runs on their certificates), the leader
// switches acl_required on in the replicated settings, and after
// bootstrap the management token runs a package on the worker-only agent.
func TestCluster_ACLRequiredFromTheStart(t *testing.T) {
	ca := clustertest.NewTLS(t)
	c := clustertest.NewCluster(t, clustertest.Options{Servers: 3, Workers: 1, TLS: ca, ACLRequired: true})
	leader := c.WaitForLeader()
	w1 := c.Node("w1")
	for _, n := range []*clustertest.Node{leader, c.Followers()[0], w1} {
		ctx := clustertest.Ctx(t, 10*time.Second)
		_, err := n.Client.Members(ctx)
		if !api.IsStatus(err, 401) {
			t.Errorf("%s: members with a client certificate and no token: %v, want 401", n.Name, err)
		}
		if n.Name != "w1" && (err == nil || !strings.Contains(err.Error(), "acl bootstrap")) {
			t.Errorf("%s: the 401 does not say how to get a token: %v", n.Name, err)
		}
		if _, err := n.Client.Executions().Submit(ctx, &api.SubmitRequest{Package: echoPkg}); !api.IsStatus(err, 401) {
			t.Errorf("%s: submit with a client certificate and no token: %v, want 401", n.Name, err)
		}
	}
	// The agents' own credential still lists the cluster: a server
	// certificate sees every member alive.
	cert, key := ca.Issue(t, tlsutil.RoleServer, "probe")
	agentClient, err := api.NewClient(api.Config{Address: leader.Agent.APIAddr(), TLS: &api.TLSConfig{CACert: ca.CA, ClientCert: cert, ClientKey: key}, NoEnvToken: true})
	if err != nil {
		t.Fatal(err)
	}
	ms, err := agentClient.Members(clustertest.Ctx(t, 10*time.Second))
	if err != nil || len(ms) != 4 {
		t.Fatalf("members with a server certificate: %v %v", ms, err)
	}
	clustertest.WaitFor(t, 30*time.Second, "acl_required on every server's replica", func() (bool, string) {
		for _, n := range c.Nodes {
			if n.Agent.Cluster().Store() != nil && !aclRequiredOn(n) {
				return false, n.Name + " has it off"
			}
		}
		return true, ""
	})

	// Bootstrap (the one write without a token) through a follower; the
	// management token then works on every agent.
	// An election on a loaded machine answers 503: ask again.
	var boot *api.ACLToken
	clustertest.WaitFor(t, 60*time.Second, "acl bootstrap", func() (bool, string) {
		var err error
		boot, err = c.Followers()[0].Client.ACL().Bootstrap(clustertest.Ctx(t, 30*time.Second))
		if err != nil && !api.IsStatus(err, 503) && !api.IsStatus(err, 502) {
			t.Fatalf("bootstrap: %v", err)
		}
		return err == nil && boot.SecretID != "", fmt.Sprint(err)
	})
	admin, err := api.NewClient(api.Config{Address: w1.Agent.APIAddr(), TLS: ca.ClientTLS(t, "admin"), Token: boot.SecretID})
	if err != nil {
		t.Fatal(err)
	}
	id := submitRetry(t, admin, api.SubmitRequest{Package: echoPkg, Workers: []string{"w1"}})
	if e := waitEnded(t, admin, id, 60*time.Second); e.Status != "succeeded" {
		t.Fatalf("execution %d on w1 after bootstrap: %s %s", id, e.Status, e.Message)
	}
	set, err := admin.Operator().Settings(clustertest.Ctx(t, 10*time.Second))
	if err != nil || set[catalog.SettingACLRequired] != "true" {
		t.Fatalf("settings: %v %v", set, err)
	}
	if err := admin.Operator().SetSetting(clustertest.Ctx(t, 10*time.Second), catalog.SettingACLRequired, "false"); !api.IsStatus(err, 400) {
		t.Errorf("switching acl_required off: %v, want 400", err)
	}
}

// TestCluster_ACLRequiredBySecureServer: in a cluster whose servers run
// with TLS and --insecure (open until bootstrap), one server that joins
// without --insecure makes the leader switch acl_required on, and from
// then on the other servers refuse a client certificate without a token
// too: the cluster agrees, whatever each agent's flags say.
func TestCluster_ACLRequiredBySecureServer(t *testing.T) {
	ca := clustertest.NewTLS(t)
	c := clustertest.NewCluster(t, clustertest.Options{Servers: 3, TLS: ca})
	leader := c.WaitForLeader()
	if _, err := leader.Client.Members(clustertest.Ctx(t, 10*time.Second)); err != nil {
		t.Fatalf("members before a secure server joined (open until bootstrap): %v", err)
	}
	if aclRequiredOn(leader) {
		t.Fatal("acl_required is on in a cluster of --insecure servers")
	}
	if _, err := c.AddNode("s4", true, func(cfg *agent.Config) { cfg.Insecure = false }); err != nil {
		t.Fatal(err)
	}
	clustertest.WaitFor(t, 60*time.Second, "acl_required on the --insecure servers' replicas", func() (bool, string) {
		for _, n := range c.Nodes {
			if !aclRequiredOn(n) {
				return false, n.Name + " has it off"
			}
		}
		return true, ""
	})
	for _, n := range c.Nodes {
		_, err := n.Client.Members(context.Background())
		if !api.IsStatus(err, 401) {
			t.Errorf("%s (--insecure) after acl_required: members with a client certificate only: %v, want 401", n.Name, err)
		}
	}
	ops, err := catalogOps(leader)
	if err != nil || !strings.Contains(ops, "acl_required=true") || !strings.Contains(ops, "agent:s4") {
		t.Errorf("operations log: %s %v; want set_setting acl_required=true by agent:s4", ops, err)
	}
}

// catalogOps is n's operations log, a line per entry.
func catalogOps(n *clustertest.Node) (string, error) {
	ops, err := catalog.Read(n.Agent.Cluster().Store(), func(tx *catalog.Tx) ([]*catalog.Operation, error) {
		ops, _, err := tx.Operations(catalog.OperationFilter{Limit: 100}, 1000)
		return ops, err
	})
	var b strings.Builder
	for _, o := range ops {
		fmt.Fprintf(&b, "%s %s %s %s\n", o.Type, o.Object, o.Caller, o.Result)
	}
	return b.String(), err
}
