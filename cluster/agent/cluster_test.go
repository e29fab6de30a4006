package agent_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/scaleout/scaleout/api"
	"github.com/scaleout/scaleout/cluster/clustertest"
)

func TestMain(m *testing.M) { os.Exit(clustertest.RunChildOrTests(m)) }

const echoPkg = `name: echo
parameters:
  msg: {type: string, default: hi}
tasks:
  - name: say
    exec:
      command: [/bin/echo, "${param.msg}"]
`

const sleepPkg = `name: sleep
parameters:
  s: {type: string, default: "0.5"}
tasks:
  - name: nap
    exec:
      command: [/bin/sleep, "${param.s}"]
`

// submit submits req (echoPkg when it names no package). A 502 or 503 (an
// election on a loaded machine, or leadership lost while committing) is
// retried with the same idempotency key, so that it creates one execution.
func submit(t *testing.T, c *api.Client, req api.SubmitRequest) uint64 {
	t.Helper()
	return submitRetry(t, c, req)
}

// setEnabled enables or disables a worker, retrying 502 and 503 (setting
// the same value again is harmless).
func setEnabled(t *testing.T, c *api.Client, worker string, on bool) {
	t.Helper()
	clustertest.WaitFor(t, 60*time.Second, fmt.Sprintf("worker %s enabled=%v", worker, on), func() (bool, string) {
		err := c.Workers().SetEnabled(clustertest.Ctx(t, 30*time.Second), worker, on)
		if err != nil && !api.IsStatus(err, 503) && !api.IsStatus(err, 502) {
			t.Fatalf("set worker %s enabled=%v: %v", worker, on, err)
		}
		return err == nil, fmt.Sprint(err)
	})
}

func waitEnded(t *testing.T, c *api.Client, id uint64, timeout time.Duration) *api.Execution {
	t.Helper()
	var e *api.Execution
	clustertest.WaitFor(t, timeout, fmt.Sprintf("execution %d to end", id), func() (bool, string) {
		var err error
		e, err = c.Executions().Info(context.Background(), id)
		if err != nil {
			return false, err.Error()
		}
		return api.Terminal(e.Status), e.Status
	})
	return e
}

func TestCluster_FormsAndServesThroughFollowers(t *testing.T) {
	c := clustertest.NewCluster(t, clustertest.Options{Servers: 3, Workers: 1})
	leader := c.WaitForLeader()

	// Members: 4 alive agents, one leader, seen from a worker-only agent too.
	for _, n := range []*clustertest.Node{c.Node("s1"), c.Node("w1")} {
		clustertest.WaitFor(t, 10*time.Second, "4 alive members seen by "+n.Name, func() (bool, string) {
			ms, err := n.Client.Members(context.Background())
			if err != nil {
				return false, err.Error()
			}
			alive, leaders := 0, 0
			for _, m := range ms {
				if m.Status == "alive" {
					alive++
				}
				if m.Leader {
					leaders++
				}
			}
			return alive == 4 && leaders == 1, fmt.Sprintf("%+v", ms)
		})
	}
	peers, err := leader.Client.Status().Peers(context.Background())
	if err != nil || len(peers) != 3 {
		t.Fatalf("raft peers %+v, %v", peers, err)
	}

	// Writes through a follower and through a worker-only agent.
	f := c.Followers()[0]
	for _, n := range []*clustertest.Node{f, c.Node("w1")} {
		id := submit(t, n.Client, api.SubmitRequest{Params: map[string]string{"msg": "via " + n.Name}})
		e := waitEnded(t, n.Client, id, 30*time.Second)
		if e.Status != "succeeded" {
			t.Fatalf("execution via %s: %s (%s)", n.Name, e.Status, e.Message)
		}
		evs, err := n.Client.Executions().Events(context.Background(), id, 0, 0, 0)
		if err != nil || !strings.Contains(fmt.Sprint(evs.Events), "via "+n.Name) {
			t.Fatalf("events via %s: %+v %v", n.Name, evs, err)
		}
	}
	// A consistent read on a follower sees the leader's state at once
	// (a plain read may lag behind by the replication delay): never a 404.
	// On a busy machine leadership may move meanwhile; the read then gets
	// 503 (no leader to ask) and is asked again, as a client would.
	for i := 0; i < 20; i++ {
		// A write whose commit meets a leadership change is not retried
		// by the agent (it may have committed): skip it, as its id is
		// unknown.
		id, err := leader.Client.Executions().Submit(clustertest.Ctx(t, 30*time.Second), &api.SubmitRequest{Package: echoPkg})
		if api.IsStatus(err, 503) {
			continue
		} else if err != nil {
			t.Fatalf("submit: %v", err)
		}
		deadline := time.Now().Add(15 * time.Second)
		for {
			_, err := f.Client.Consistent().Executions().Info(context.Background(), id)
			if err == nil {
				break
			}
			if !api.IsStatus(err, 503) || time.Now().After(deadline) {
				t.Fatalf("consistent read of execution %d on follower %s right after its submission: %v", id, f.Name, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

func TestCluster_LeaderFailover(t *testing.T) {
	c := clustertest.NewCluster(t, clustertest.Options{Servers: 3})
	old := c.WaitForLeader()
	survivor := c.Followers()[0]
	before := submit(t, survivor.Client, api.SubmitRequest{})
	waitEnded(t, survivor.Client, before, 30*time.Second)

	start := time.Now()
	c.Kill(old)
	leader := c.WaitForNewLeader(old)
	t.Logf("new leader %s after %s", leader.Name, time.Since(start))

	after := submit(t, survivor.Client, api.SubmitRequest{Params: map[string]string{"msg": "after failover"}})
	if e := waitEnded(t, survivor.Client, after, 30*time.Second); e.Status != "succeeded" {
		t.Fatalf("execution after failover: %s %s", e.Status, e.Message)
	}
	if e, err := leader.Client.Executions().Info(context.Background(), before); err != nil || e.Status != "succeeded" {
		t.Fatalf("execution from before the failover: %+v %v", e, err)
	}
}

func TestCluster_PartitionedMinorityCannotCommit(t *testing.T) {
	c := clustertest.NewCluster(t, clustertest.Options{Servers: 3})
	old := c.WaitForLeader()
	c.Partition(old.Name)

	// The old leader cannot commit: its submission does not succeed.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	_, err := old.Client.Executions().Submit(ctx, &api.SubmitRequest{Package: echoPkg})
	cancel()
	if err == nil {
		t.Fatal("a partitioned minority leader committed a submission")
	}
	// The majority elects a leader and commits.
	var leader *clustertest.Node
	clustertest.WaitFor(t, 30*time.Second, "a leader in the majority", func() (bool, string) {
		for _, n := range c.Nodes {
			if n != old && n.Agent.Cluster().IsLeader() {
				leader = n
				return true, ""
			}
		}
		return false, "none"
	})
	id := submit(t, leader.Client, api.SubmitRequest{})
	if e := waitEnded(t, leader.Client, id, 30*time.Second); e.Status != "succeeded" {
		t.Fatalf("majority execution: %s", e.Status)
	}
	// After healing, the old leader follows and catches up.
	c.Heal()
	clustertest.WaitFor(t, 30*time.Second, "the old leader to catch up", func() (bool, string) {
		e, err := old.Client.Executions().Info(context.Background(), id)
		if err != nil {
			return false, err.Error()
		}
		return e.Status == "succeeded" && !old.Agent.Cluster().IsLeader(), e.Status
	})
	list, _ := leader.Client.Executions().List(context.Background(), nil)
	for _, e := range list {
		if e.ID != id {
			t.Fatalf("uncommitted submission of the minority appeared: %+v", e)
		}
	}
}

func TestCluster_DisabledWorkerAndTargeting(t *testing.T) {
	c := clustertest.NewCluster(t, clustertest.Options{Servers: 3, Labels: map[string]map[string]string{
		"s1": {"zone": "a"}, "s2": {"zone": "b"}, "s3": {"zone": "b", "gpu": "yes"},
	}})
	cl := c.WaitForLeader().Client
	ctx := context.Background()

	// Label targeting.
	id := submit(t, cl, api.SubmitRequest{Labels: map[string]string{"gpu": "yes"}})
	if e := waitEnded(t, cl, id, 30*time.Second); e.Worker != "s3" || e.Status != "succeeded" {
		t.Fatalf("gpu execution ran on %s (%s)", e.Worker, e.Status)
	}
	// Worker targeting.
	for i := 0; i < 3; i++ {
		id := submit(t, cl, api.SubmitRequest{Workers: []string{"s2"}})
		if e := waitEnded(t, cl, id, 30*time.Second); e.Worker != "s2" {
			t.Fatalf("execution for s2 ran on %s", e.Worker)
		}
	}
	// Disabled workers get nothing.
	for _, w := range []string{"s1", "s3"} {
		setEnabled(t, cl, w, false)
	}
	for i := 0; i < 6; i++ {
		id := submit(t, cl, api.SubmitRequest{})
		if e := waitEnded(t, cl, id, 30*time.Second); e.Worker != "s2" {
			t.Fatalf("execution ran on disabled worker %s", e.Worker)
		}
	}
	// No enabled worker can take it: it stays pending and says why.
	id = submit(t, cl, api.SubmitRequest{Labels: map[string]string{"zone": "a"}})
	var e *api.Execution
	clustertest.WaitFor(t, 5*time.Second, "a pending reason", func() (bool, string) {
		var err error
		e, err = cl.Executions().Info(ctx, id)
		return err == nil && e.Status == "pending" && strings.Contains(e.PendingReason, "disabled"), fmt.Sprintf("%+v %v", e, err)
	})
	ws, err := cl.Workers().List(ctx)
	if err != nil || len(ws) != 3 {
		t.Fatalf("workers %+v %v", ws, err)
	}
	// Enabling s1 lets it run.
	setEnabled(t, cl, "s1", true)
	if e := waitEnded(t, cl, id, 30*time.Second); e.Worker != "s1" || e.Status != "succeeded" {
		t.Fatalf("zone a execution: %s on %s", e.Status, e.Worker)
	}
	id = submit(t, cl, api.SubmitRequest{Labels: map[string]string{"zone": "mars"}, QueueOptions: api.QueueOptions{WaitForWorker: true}})
	clustertest.WaitFor(t, 5*time.Second, "no-match reason", func() (bool, string) {
		e, err := cl.Executions().Info(ctx, id)
		return err == nil && strings.Contains(e.PendingReason, "no registered worker matches"), fmt.Sprintf("%+v", e)
	})
}

// TestCluster_LostWorkerIsRetriedElsewhere kills a worker-only agent while it
// runs an execution; the master expires the attempt and another worker runs
// attempt 2.
func TestCluster_LostWorkerIsRetriedElsewhere(t *testing.T) {
	c := clustertest.NewCluster(t, clustertest.Options{Servers: 3, Workers: 1, LeaseTimeout: time.Second})
	cl := c.WaitForLeader().Client
	ctx := context.Background()
	// Only w1 may take new work while the execution starts.
	for _, s := range []string{"s1", "s2", "s3"} {
		setEnabled(t, cl, s, false)
	}
	id := submit(t, cl, api.SubmitRequest{Package: sleepPkg, Params: map[string]string{"s": "2"}, Retries: 1})
	clustertest.WaitFor(t, 30*time.Second, "running on w1", func() (bool, string) {
		e, err := cl.Executions().Info(ctx, id)
		return err == nil && e.Status == "running" && e.Worker == "w1", fmt.Sprint(e, err)
	})
	for _, s := range []string{"s1", "s2", "s3"} {
		setEnabled(t, cl, s, true)
	}
	start := time.Now()
	c.Kill(c.Node("w1"))
	e := waitEnded(t, cl, id, 30*time.Second)
	t.Logf("retried after the loss of w1 and ended %s in %s", e.Status, time.Since(start))
	if e.Status != "succeeded" || e.Attempt != 2 || len(e.Attempts) != 2 || e.Attempts[0].Worker != "w1" || e.Attempts[1].Worker == "w1" {
		t.Fatalf("after the loss of w1: %s, attempt %d, attempts %+v", e.Status, e.Attempt, e.Attempts)
	}
}

// TestCluster_GracefulLeave: a leaving leader hands leadership over, its
// running execution is handed back and finishes elsewhere without using a
// retry, gossip records it as left and the new leader removes it from Raft.
func TestCluster_GracefulLeave(t *testing.T) {
	c := clustertest.NewCluster(t, clustertest.Options{Servers: 3})
	old := c.WaitForLeader()
	other := c.Followers()[0]
	ctx := context.Background()
	for _, n := range c.Nodes {
		if n != old {
			setEnabled(t, other.Client, n.Name, false)
		}
	}
	id := submit(t, other.Client, api.SubmitRequest{Package: sleepPkg, Params: map[string]string{"s": "30"}})
	clustertest.WaitFor(t, 30*time.Second, "running on the leader", func() (bool, string) {
		e, err := other.Client.Executions().Info(ctx, id)
		return err == nil && e.Status == "running" && e.Worker == old.Name, fmt.Sprint(e, err)
	})
	for _, n := range c.Nodes {
		if n != old {
			setEnabled(t, other.Client, n.Name, true)
		}
	}
	c.Leave(old)
	leader := c.WaitForLeader()
	clustertest.WaitFor(t, 20*time.Second, "the leaver to be left and out of raft", func() (bool, string) {
		ms, _ := leader.Client.Members(ctx)
		peers, _ := leader.Client.Status().Peers(ctx)
		left := false
		for _, m := range ms {
			left = left || (m.Name == old.Name && m.Status == "left")
		}
		return left && len(peers) == 2, fmt.Sprintf("members %+v peers %+v", ms, peers)
	})
	clustertest.WaitFor(t, 20*time.Second, "the handed-back execution to run elsewhere", func() (bool, string) {
		e, err := leader.Client.Executions().Info(ctx, id)
		return err == nil && e.Status == "running" && e.Attempt == 2 && e.Worker != old.Name, fmt.Sprint(e, err)
	})
	if _, err := leader.Client.Executions().Stop(ctx, id); err != nil {
		t.Fatal(err)
	}
	if e := waitEnded(t, leader.Client, id, 20*time.Second); e.Status != "canceled" {
		t.Fatalf("after stop: %s", e.Status)
	}
}

// TestCluster_MaxVoters: with --max-voters 3, a fourth server joins as a
// non-voter and is promoted when a voter leaves.
func TestCluster_MaxVoters(t *testing.T) {
	c := clustertest.NewCluster(t, clustertest.Options{Servers: 4, BootstrapExpect: 3, MaxVoters: 3})
	leader := c.WaitForLeader()
	suffrage := func() (map[string]string, string) {
		peers, err := leader.Client.Status().Peers(context.Background())
		out := map[string]string{}
		for _, p := range peers {
			out[p.ID] = p.Suffrage
		}
		return out, fmt.Sprint(peers, err)
	}
	var nonvoter string
	clustertest.WaitFor(t, 20*time.Second, "3 voters and 1 non-voter", func() (bool, string) {
		s, seen := suffrage()
		voters := 0
		for id, v := range s {
			if v == "voter" {
				voters++
			} else {
				nonvoter = id
			}
		}
		return len(s) == 4 && voters == 3, seen
	})
	// A voter other than the leader leaves: the non-voter is promoted.
	var leaver *clustertest.Node
	for _, n := range c.Followers() {
		if n.Name != nonvoter {
			leaver = n
			break
		}
	}
	c.Leave(leaver)
	clustertest.WaitFor(t, 20*time.Second, "the non-voter promoted", func() (bool, string) {
		s, seen := suffrage()
		_, still := s[leaver.Name]
		return !still && s[nonvoter] == "voter" && len(s) == 3, seen
	})
}

// TestCluster_GossipHealsAfterLongPartition cuts a server off (gossip and
// Raft) until both sides hold each other as failed and memberlist has stopped
// gossiping to the dead (2 s with the loopback timings), then heals the
// network: gossip must merge the two views again by itself. Without
// reconnecting to failed members it never does, and the leader would remove
// the healthy server from Raft after the dead-server grace.
func TestCluster_GossipHealsAfterLongPartition(t *testing.T) {
	c := clustertest.NewCluster(t, clustertest.Options{Servers: 3})
	c.WaitForLeader()
	cut := c.Followers()[0]
	aliveSeenBy := func(n *clustertest.Node) (int, string) {
		list, err := n.Client.Members(clustertest.Ctx(t, 5*time.Second))
		if err != nil {
			return 0, err.Error()
		}
		alive := 0
		var seen []string
		for _, m := range list {
			if m.Status == "alive" {
				alive++
			}
			seen = append(seen, m.Name+"="+m.Status)
		}
		return alive, n.Name + " sees " + strings.Join(seen, ",")
	}
	c.Partition(cut.Name)
	clustertest.WaitFor(t, 30*time.Second, "both sides to hold the other as failed", func() (bool, string) {
		var seen []string
		for _, n := range c.Nodes {
			alive, s := aliveSeenBy(n)
			seen = append(seen, s)
			if (n == cut && alive != 1) || (n != cut && alive != 2) {
				return false, strings.Join(seen, "; ")
			}
		}
		return true, ""
	})
	// Keep the partition past memberlist's gossip-to-the-dead time, after
	// which only a join can bring the views together again.
	time.Sleep(3 * time.Second)
	c.Heal()
	healed := time.Now()
	clustertest.WaitFor(t, 15*time.Second, "every server to see 3 alive members", func() (bool, string) {
		var seen []string
		for _, n := range c.Nodes {
			alive, s := aliveSeenBy(n)
			seen = append(seen, s)
			if alive != 3 {
				return false, strings.Join(seen, "; ")
			}
		}
		return true, ""
	})
	t.Logf("gossip healed %s after the network", time.Since(healed).Round(time.Millisecond))
}
