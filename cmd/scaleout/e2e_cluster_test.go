package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/scaleout/scaleout/api"
	"github.com/scaleout/scaleout/catalog"
)

// e2eCluster is three server agents and one worker-only agent, each a real
// `scaleout agent` process on loopback.
type e2eCluster struct {
	t      *testing.T
	agents map[string]*agentProc
}

func startE2ECluster(t *testing.T) *e2eCluster {
	t.Helper()
	c := &e2eCluster{t: t, agents: map[string]*agentProc{}}
	common := []string{"--encrypt-key", catalog.GenerateKey(), "--http-addr", "127.0.0.1:0", "--bind", "127.0.0.1", "--raft-port", "0", "--gossip-port", "0",
		"--lease-timeout", "3s", "--heartbeat", "500ms", "--kill-grace", "1s", "--max-tasks", "10", "--log-level", "info", "--insecure"}
	var join string
	for _, name := range []string{"s1", "s2", "s3", "w1"} {
		args := append([]string{"agent", "--node", name, "--data-dir", t.TempDir()}, common...)
		if name == "w1" {
			args = append(args, "--server=false")
		} else {
			args = append(args, "--bootstrap-expect", "3")
		}
		if join != "" {
			args = append(args, "--join", join)
		}
		a := spawnAgent(t, "", args...)
		if join == "" {
			join = a.gossip
		}
		c.agents[name] = a
	}
	for _, a := range c.agents {
		a.waitStarted()
	}
	return c
}

// leader returns the name of the leader as `scaleout members` on via shows it.
func (c *e2eCluster) leader(via string) (string, string) {
	r := cli(c.t, c.agents[via].api, "members")
	if r.code != 0 {
		return "", r.stderr
	}
	alive := 0
	leader := ""
	for _, line := range strings.Split(r.stdout, "\n")[1:] {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		if f[3] == "alive" {
			alive++
		}
		if f[4] == "true" {
			leader = f[0]
		}
	}
	return leader, fmt.Sprintf("%d alive:\n%s", alive, r.stdout)
}

// TestE2E_ClusterSurvivesLeaderAndWorkerLoss is the cluster issue's
// acceptance test with real processes: members within 10 s; 50 executions
// of about a second each survive kill -9 of the leader, every one ends
// succeeded exactly once; a new leader within 5 s; then kill -9 of a
// worker-only agent with running executions: they end succeeded on another
// worker as attempt 2.
func TestE2E_ClusterSurvivesLeaderAndWorkerLoss(t *testing.T) {
	start := time.Now()
	c := startE2ECluster(t)
	var leader string
	waitFor(t, "4 alive members and a leader", 10*time.Second, func() (bool, string) {
		l, seen := c.leader("w1")
		leader = l
		return l != "" && strings.HasPrefix(seen, "4 alive"), seen
	})
	t.Logf("cluster formed in %s; leader %s", time.Since(start), leader)

	survivor := "s1"
	if leader == "s1" {
		survivor = "s2"
	}
	cl := c.agents[survivor].client(t)
	ctx := context.Background()
	sleep := `name: sleep1
tasks:
  - name: nap
    exec:
      command: [/bin/sh, -c, 'sleep 1; echo done']
`
	// The first wave runs long enough (3 s) that, however slow the machine,
	// the leader's own worker is seen running some of it before the kill.
	var ids []uint64
	for i := 0; i < 50; i++ {
		id, err := cl.Executions().Submit(ctx, &api.SubmitRequest{Package: strings.Replace(sleep, "sleep 1", "sleep 3", 1), Retries: 3})
		if err != nil {
			t.Fatalf("submit %d: %v", i, err)
		}
		ids = append(ids, id)
	}
	// Kill the leader while executions run, some of them on its own worker.
	waitFor(t, "executions running on the leader", 20*time.Second, func() (bool, string) {
		list, err := cl.Executions().List(ctx, &api.ListOptions{Status: "running"})
		if err != nil {
			return false, err.Error()
		}
		for _, e := range list {
			if e.Worker == leader {
				return true, ""
			}
		}
		return false, fmt.Sprintf("%d running, none on %s", len(list), leader)
	})
	killed := time.Now()
	c.agents[leader].kill()
	var newLeader string
	waitFor(t, "a new leader", 15*time.Second, func() (bool, string) {
		l, seen := c.leader(survivor)
		newLeader = l
		return l != "" && l != leader, seen
	})
	elected := time.Since(killed)
	t.Logf("new leader %s elected %s after kill -9 of %s", newLeader, elected, leader)
	for i := 0; i < 10; i++ {
		id, err := cl.Executions().Submit(ctx, &api.SubmitRequest{Package: sleep, Retries: 3})
		if err != nil {
			t.Fatalf("submit after failover: %v", err)
		}
		ids = append(ids, id)
	}
	retried := checkAllSucceededOnce(t, cl, ids, 60*time.Second)
	t.Logf("all %d executions succeeded exactly once (%d needed a second attempt) %s after the kill", len(ids), retried, time.Since(killed))

	// Worker loss: only w1 may start the next executions; then kill -9 it.
	for _, s := range []string{"s1", "s2", "s3"} {
		if s != leader {
			if err := cl.Workers().SetEnabled(ctx, s, false); err != nil {
				t.Fatal(err)
			}
		}
	}
	var wids []uint64
	for i := 0; i < 4; i++ {
		id, err := cl.Executions().Submit(ctx, &api.SubmitRequest{Package: strings.Replace(sleep, "sleep 1", "sleep 3", 1), Retries: 1})
		if err != nil {
			t.Fatal(err)
		}
		wids = append(wids, id)
	}
	waitFor(t, "executions running on w1", 20*time.Second, func() (bool, string) {
		for _, id := range wids {
			e, err := cl.Executions().Info(ctx, id)
			if err != nil || e.Status != "running" || e.Worker != "w1" {
				return false, fmt.Sprint(e, err)
			}
		}
		return true, ""
	})
	for _, s := range []string{"s1", "s2", "s3"} {
		if s != leader {
			if err := cl.Workers().SetEnabled(ctx, s, true); err != nil {
				t.Fatal(err)
			}
		}
	}
	killed = time.Now()
	c.agents["w1"].kill()
	checkAllSucceededOnce(t, cl, wids, 20*time.Second)
	for _, id := range wids {
		e, _ := cl.Executions().Info(ctx, id)
		if e.Attempt != 2 || e.Attempts[0].Worker != "w1" || e.Attempts[1].Worker == "w1" {
			t.Fatalf("execution %d after the loss of w1: attempt %d, attempts %+v", id, e.Attempt, e.Attempts)
		}
	}
	t.Logf("executions of the killed worker succeeded elsewhere as attempt 2 within %s", time.Since(killed))
}

// checkAllSucceededOnce waits until every execution has ended and checks that
// each succeeded, with exactly one attempt recorded as succeeded. It returns
// how many needed more than one attempt.
func checkAllSucceededOnce(t *testing.T, cl *api.Client, ids []uint64, timeout time.Duration) int {
	t.Helper()
	final := map[uint64]*api.Execution{}
	waitFor(t, fmt.Sprintf("%d executions to end", len(ids)), timeout, func() (bool, string) {
		pending := 0
		for _, id := range ids {
			if _, done := final[id]; done {
				continue
			}
			e, err := cl.Executions().Info(context.Background(), id)
			if err != nil || !api.Terminal(e.Status) {
				pending++
				continue
			}
			final[id] = e
		}
		return pending == 0, fmt.Sprintf("%d not ended", pending)
	})
	retried := 0
	for _, id := range ids {
		e := final[id]
		successes := 0
		for _, a := range e.Attempts {
			if a.Result == "succeeded" {
				successes++
			}
		}
		if e.Status != "succeeded" || successes != 1 {
			t.Errorf("execution %d: %s (%s), %d successful attempts: %+v", id, e.Status, e.Message, successes, e.Attempts)
		}
		if e.Attempt > 1 {
			retried++
		}
	}
	return retried
}
