package agent_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/scaleout/scaleout/api"
	"github.com/scaleout/scaleout/catalog"
	"github.com/scaleout/scaleout/cluster/agent"
	"github.com/scaleout/scaleout/cluster/clustertest"
	"github.com/scaleout/scaleout/cluster/tlsutil"
)

// syncBuffer is a log sink tests can read while agents write.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func hostOf(t *testing.T, u string) string {
	t.Helper()
	p, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	return p.Host
}

func TestCluster_TLS(t *testing.T) {
	ca := clustertest.NewTLS(t)
	gossipKey := catalog.GenerateKey()
	c := clustertest.NewCluster(t, clustertest.Options{Servers: 3, Workers: 1, TLS: ca, GossipKey: gossipKey})
	leader := c.WaitForLeader()

	// An execution through the worker-only agent: forwarded to the leader
	// over TLS, run by any worker over TLS polls.
	w1 := c.Node("w1")
	id := submitRetry(t, w1.Client, api.SubmitRequest{})
	if e := waitEnded(t, w1.Client, id, 60*time.Second); e.Status != "succeeded" {
		t.Fatalf("execution %d: %s", id, e.Status)
	}
	h, err := w1.Client.Status().Health(clustertest.Ctx(t, 10*time.Second))
	if err != nil || !h.TLS || h.Insecure || !h.GossipEncrypted {
		t.Fatalf("health %+v, %v", h, err)
	}

	// The API without a client certificate: 401 on the leader and on a
	// follower (which would forward), whatever the route.
	pool := x509.NewCertPool()
	caPEM, _ := os.ReadFile(ca.CA)
	pool.AppendCertsFromPEM(caPEM)
	for _, n := range []*clustertest.Node{leader, c.Followers()[0], w1} {
		anon, err := api.NewClient(api.Config{Address: n.Agent.APIAddr(), TLS: &api.TLSConfig{CACert: ca.CA}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := anon.Members(clustertest.Ctx(t, 10*time.Second)); !api.IsStatus(err, 401) {
			t.Errorf("%s: members without a certificate: %v, want 401", n.Name, err)
		}
		if _, err := anon.Executions().Submit(clustertest.Ctx(t, 10*time.Second), &api.SubmitRequest{Package: echoPkg}); !api.IsStatus(err, 401) {
			t.Errorf("%s: submit without a certificate: %v, want 401", n.Name, err)
		}
		// Plain HTTP to the TLS port gets nothing useful either.
		plain, _ := api.NewClient(api.Config{Address: strings.Replace(n.Agent.APIAddr(), "https://", "http://", 1)})
		if _, err := plain.Members(clustertest.Ctx(t, 10*time.Second)); err == nil {
			t.Errorf("%s: plain HTTP was served", n.Name)
		}
		// A client certificate of another CA is refused by TLS itself.
		other := clustertest.NewTLS(t)
		foreign, _ := api.NewClient(api.Config{Address: n.Agent.APIAddr(), TLS: other.ClientTLS(t, "mallory")})
		if _, err := foreign.Members(clustertest.Ctx(t, 10*time.Second)); err == nil || api.IsStatus(err, 200) {
			t.Errorf("%s: foreign client certificate accepted", n.Name)
		}
	}

	// The Raft port: no certificate, a client certificate, a worker
	// certificate and a server certificate of another CA are all refused;
	// a server certificate of the cluster is accepted.
	raftAddr := leader.Agent.Cluster().RaftAddr()
	loadPair := func(cert, key string) tls.Certificate {
		p, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	base := func(certs ...tls.Certificate) *tls.Config {
		return &tls.Config{RootCAs: pool, ServerName: tlsutil.ServerName, Certificates: certs}
	}
	otherCA := clustertest.NewTLS(t)
	cases := map[string]*tls.Config{
		"no certificate":            base(),
		"client certificate":        base(loadPair(ca.Issue(t, tlsutil.RoleClient, "eve"))),
		"worker certificate":        base(loadPair(ca.Issue(t, tlsutil.RoleWorker, "wx"))),
		"server cert of another CA": base(loadPair(otherCA.Issue(t, tlsutil.RoleServer, "rogue0"))),
	}
	for name, cfg := range cases {
		if err := clustertest.RefusedTLS(raftAddr, cfg); err == nil {
			t.Errorf("raft port accepted a connection with %s", name)
		}
	}
	if err := clustertest.RefusedTLS(raftAddr, base(loadPair(ca.Issue(t, tlsutil.RoleServer, "probe")))); err != nil {
		t.Errorf("raft port refused a server certificate of the cluster: %v", err)
	}

	// A server with a certificate of another CA joins gossip (it has the
	// gossip key) but is never added to Raft. s4, started after it with
	// a proper certificate, is added: the leader's reconciliation looked
	// at the rogue first (members in name order) and skipped it.
	rogue, err := c.AddNode("rogue", true, func(cfg *agent.Config) {
		cfg.TLSCA = otherCA.CA
		cfg.TLSCert, cfg.TLSKey = otherCA.Issue(t, tlsutil.RoleServer, "rogue")
	})
	if err != nil {
		t.Fatal(err)
	}
	clustertest.WaitFor(t, 30*time.Second, "the rogue alive in the leader's gossip", func() (bool, string) {
		for _, m := range leader.Agent.Cluster().Members() {
			if m.Name == "rogue" {
				return m.Status == "alive", m.Status
			}
		}
		return false, "not seen"
	})
	if _, err := c.AddNode("s4", true, nil); err != nil {
		t.Fatal(err)
	}
	clustertest.WaitFor(t, 90*time.Second, "s4 in the Raft configuration", func() (bool, string) {
		peers, err := leader.Client.Status().Peers(clustertest.Ctx(t, 5*time.Second))
		if err != nil {
			return false, err.Error()
		}
		ids := []string{}
		for _, p := range peers {
			ids = append(ids, p.ID)
		}
		if slices.Contains(ids, "rogue") {
			t.Fatalf("the rogue server was added to Raft: %v", ids)
		}
		return slices.Contains(ids, "s4"), fmt.Sprint(ids)
	})
	if _, err := rogue.Agent.Cluster().Leader(); err == nil {
		t.Error("the rogue server knows a leader: it received Raft traffic")
	}
	if st := rogue.Agent.Cluster().Store(); st != nil {
		if applied, _, _ := st.Applied(); applied != 0 {
			t.Errorf("the rogue server applied %d entries of the log", applied)
		}
	}

	// An agent with another gossip key cannot join, and says so.
	var badLog syncBuffer
	if _, err := c.AddNode("badkey", false, func(cfg *agent.Config) {
		cfg.GossipKey = catalog.GenerateKey()
		cfg.Logger = hclog.New(&hclog.LoggerOptions{Name: "badkey", Level: hclog.Info, Output: &badLog})
	}); err != nil {
		t.Fatal(err)
	}
	clustertest.WaitFor(t, 30*time.Second, "the wrong gossip key logged", func() (bool, string) {
		return strings.Contains(badLog.String(), "gossip key mismatch"), ""
	})
	for _, m := range leader.Agent.Cluster().Members() {
		if m.Name == "badkey" {
			t.Errorf("an agent with another gossip key joined: %+v", m)
		}
	}
}

// TestCluster_TLSRotationAndKeyring rotates a server's certificate and the
// gossip key on a running cluster while executions run: nothing fails,
// nothing is lost.
func TestCluster_TLSRotationAndKeyring(t *testing.T) {
	ca := clustertest.NewTLS(t)
	oldKey := catalog.GenerateKey()
	c := clustertest.NewCluster(t, clustertest.Options{Servers: 3, TLS: ca, GossipKey: oldKey})
	c.WaitForLeader()

	// Retries cover an attempt whose lease answer is lost in a leader
	// change (elections happen on a loaded test machine, rotation or not);
	// every execution must still succeed.
	var ids []uint64
	for i := range 12 {
		n := c.Nodes[i%len(c.Nodes)]
		ids = append(ids, submitRetry(t, n.Client, api.SubmitRequest{Package: sleepPkg, Params: map[string]string{"s": "0.3"}, Retries: 2}))
	}

	// Gossip key rotation through one agent, acting on all.
	newKey := catalog.GenerateKey()
	via := c.Node("s2").Client
	// Each step is repeated, as an operator would, until every agent
	// answered it: on a loaded machine gossip may hold one as failed for
	// a moment, and the steps are idempotent.
	for _, step := range []struct{ op, key string }{{"install", newKey}, {"use", newKey}, {"remove", oldKey}} {
		clustertest.WaitFor(t, 60*time.Second, "keyring "+step.op+" on all 3 agents", func() (bool, string) {
			nodes, err := via.Operator().ChangeKeyring(clustertest.Ctx(t, 30*time.Second), step.op, step.key, false)
			if err != nil {
				return false, err.Error()
			}
			for _, n := range nodes {
				if n.Error != "" {
					return false, n.Node + ": " + n.Error
				}
			}
			return len(nodes) == 3, fmt.Sprintf("%+v", nodes)
		})
	}
	nodes, err := via.Operator().Keyring(clustertest.Ctx(t, 10*time.Second), false)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		if !slices.Equal(n.Keys, []string{newKey}) {
			t.Errorf("%s keyring after rotation: %v", n.Node, n.Keys)
		}
	}
	// Removing the primary is refused.
	if nodes, _ := via.Operator().ChangeKeyring(clustertest.Ctx(t, 10*time.Second), "remove", newKey, true); len(nodes) != 1 || nodes[0].Error == "" {
		t.Errorf("removing the primary key: %+v", nodes)
	}

	// Certificate rotation of s1: new files, picked up without a restart.
	s1 := c.Node("s1")
	before := servedSerial(t, s1.Agent.APIAddr(), ca)
	ca.Issue(t, tlsutil.RoleServer, "s1") // same paths as the agent's
	clustertest.WaitFor(t, 30*time.Second, "s1 to serve its new certificate", func() (bool, string) {
		return servedSerial(t, s1.Agent.APIAddr(), ca) != before, ""
	})
	ids = append(ids, submitRetry(t, s1.Client, api.SubmitRequest{}))

	for _, id := range ids {
		if e := waitEnded(t, c.Node("s3").Client, id, 60*time.Second); e.Status != "succeeded" {
			t.Errorf("execution %d: %s", id, e.Status)
		}
	}
	// Gossip may suspect a member for a moment on a loaded machine; after
	// the rotations every agent must see every other alive again.
	for _, n := range c.Nodes {
		clustertest.WaitFor(t, 60*time.Second, n.Name+" to see every member alive after the rotations", func() (bool, string) {
			ms, err := n.Client.Members(clustertest.Ctx(t, 10*time.Second))
			if err != nil {
				return false, err.Error()
			}
			for _, m := range ms {
				if m.Status != "alive" {
					return false, m.Name + " " + m.Status
				}
			}
			return true, ""
		})
	}
}

// servedSerial returns the serial number of the certificate an agent's API
// presents now.
func servedSerial(t *testing.T, apiURL string, ca *clustertest.TLS) string {
	t.Helper()
	cert, key := ca.Issue(t, tlsutil.RoleClient, "serial-probe")
	pair, err := tls.LoadX509KeyPair(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pem, _ := os.ReadFile(ca.CA)
	pool.AppendCertsFromPEM(pem)
	conn, err := tls.Dial("tcp", hostOf(t, apiURL), &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber.String()
}

// submitRetry submits with an idempotency key and retries while the
// cluster answers 503 (an election on a loaded machine): the key makes the
// retries create one execution.
func submitRetry(t *testing.T, c *api.Client, req api.SubmitRequest) uint64 {
	t.Helper()
	if req.Package == "" {
		req.Package = echoPkg
	}
	if req.IdempotencyKey == "" {
		req.IdempotencyKey = fmt.Sprintf("test-%d", time.Now().UnixNano())
	}
	var id uint64
	clustertest.WaitFor(t, 60*time.Second, "a submission", func() (bool, string) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		var err error
		id, err = c.Executions().Submit(ctx, &req)
		if err != nil && !api.IsStatus(err, 503) && !api.IsStatus(err, 502) {
			t.Fatalf("submit: %v", err)
		}
		return err == nil, fmt.Sprint(err)
	})
	return id
}

var _ = io.EOF
