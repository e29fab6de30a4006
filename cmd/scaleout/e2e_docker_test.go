package main

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/scaleout/scaleout/api"
)

// TestE2EDocker_PartitionAndNodeLoss runs the cluster on hosts with their own
// addresses (one container per agent, e2e_docker_harness_test.go) and checks
// what in-process tests cannot: a real partition of the leader (gossip and
// Raft cut, its address gone), its worker fencing itself, the heal, and the
// loss of a server and of a worker-only agent by SIGKILL. It is skipped with
// -short and when docker is not usable.
func TestE2EDocker_PartitionAndNodeLoss(t *testing.T) {
	start := time.Now()
	dc := startDockerCluster(t, map[string]string{"/pkg/lost.yaml": lostPackage})

	var leader string
	waitFor(t, "4 alive members, one leader seen by every agent, 4 workers registered", 20*time.Second, func() (bool, string) {
		views, seen := dc.membersSeenByAll()
		ok := true
		for _, v := range views {
			if v.err != nil || len(v.alive) != 4 || v.leader == "" || (leader != "" && v.leader != leader) {
				ok = false
			}
			if v.leader != "" {
				leader = v.leader
			}
		}
		if !ok {
			leader = ""
			return false, seen
		}
		ctx, cancel := bg()
		defer cancel()
		workers, err := dc.node("w1").client.Workers().List(ctx)
		if err != nil || len(workers) != 4 {
			return false, fmt.Sprintf("workers registered: %+v %v", workers, err)
		}
		return true, ""
	})
	t.Logf("cluster of 4 containers formed %s after the start (image included); leader %s", time.Since(start).Round(time.Millisecond), leader)

	if !t.Run("PartitionLeader", func(t *testing.T) { testDockerPartitionLeader(t, dc, leader) }) {
		return
	}
	t.Run("NodeLoss", func(t *testing.T) { testDockerNodeLoss(t, dc) })
	t.Logf("docker test took %s", time.Since(start).Round(time.Millisecond))
}

// lostPackage is submitted through the partitioned old leader: it must never
// be committed, so no execution of it may ever appear.
const lostPackage = `name: lost-in-partition
tasks:
  - name: never
    exec:
      command: [/bin/sh, -c, 'echo this must not run']
`

// sleepPackage returns a package that sleeps for seconds; marker is in the
// sleep's command line so that ps inside a container can find it.
func sleepPackage(name string, seconds int) string {
	return fmt.Sprintf(`name: %s
tasks:
  - name: nap
    exec:
      command: [/bin/sh, -c, 'sleep %d; echo woke up']
`, name, seconds)
}

const quickPackage = `name: quick
tasks:
  - name: hi
    exec:
      command: [/bin/sh, -c, 'echo majority ok']
`

func bg() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 10*time.Second)
}

// onlyWorker disables every worker but keep (through cl), so that the next
// submissions run there; the returned func enables them again.
func onlyWorker(t *testing.T, cl *api.Client, all []string, keep string) func() {
	t.Helper()
	set := func(enabled bool) {
		for _, w := range all {
			if w == keep {
				continue
			}
			ctx, cancel := bg()
			err := cl.Workers().SetEnabled(ctx, w, enabled)
			cancel()
			if err != nil {
				t.Fatalf("set worker %s enabled=%t: %v", w, enabled, err)
			}
		}
	}
	set(false)
	return func() { set(true) }
}

// submit submits pkg with retries through cl.
func submit(t *testing.T, cl *api.Client, pkg string, retries int) uint64 {
	t.Helper()
	ctx, cancel := bg()
	defer cancel()
	id, err := cl.Executions().Submit(ctx, &api.SubmitRequest{Package: pkg, Retries: retries})
	if err != nil {
		t.Fatalf("submit through %s: %v", cl.Address(), err)
	}
	return id
}

// info reads an execution through cl (a local read on that agent).
func info(cl *api.Client, id uint64) (*api.Execution, error) {
	ctx, cancel := bg()
	defer cancel()
	return cl.Executions().Info(ctx, id)
}

// successes counts the attempts of e that succeeded.
func successes(e *api.Execution) int {
	n := 0
	for _, a := range e.Attempts {
		if a.Result == "succeeded" {
			n++
		}
	}
	return n
}

// testDockerPartitionLeader cuts the leader off the network while its worker
// runs a long package: the majority elects a new leader and keeps committing,
// the old leader cannot commit, its worker kills the attempt itself after a
// lease, the execution succeeds exactly once as attempt 2 on the majority,
// and after the heal the old leader follows and has caught up.
func testDockerPartitionLeader(t *testing.T, dc *dockerCluster, old string) {
	var majority []string
	for _, name := range dc.order {
		if name != old {
			majority = append(majority, name)
		}
	}
	cl := dc.node("w1").client // the worker-only agent: always on the majority side
	pkg := sleepPackage("fenced", 10)

	enable := onlyWorker(t, cl, dc.order, old)
	id := submit(t, cl, pkg, 1)
	waitFor(t, fmt.Sprintf("execution %d running on the leader %s", id, old), 20*time.Second, func() (bool, string) {
		e, err := info(cl, id)
		if err != nil {
			return false, err.Error()
		}
		return e.Status == "running" && e.Worker == old, fmt.Sprintf("%s on %q", e.Status, e.Worker)
	})
	waitFor(t, "the package's sleep in the leader's container", 10*time.Second, func() (bool, string) {
		ps, err := dc.processesIn(old, "sleep 10")
		return err == nil && len(ps) > 0, fmt.Sprint(ps, err)
	})
	enable()

	mustDocker(t, "network", "disconnect", dc.net, dc.node(old).container)
	cut := time.Now()
	t.Logf("partitioned the leader %s", old)
	// Watch the cut-off worker's attempt from now on, while the rest of the
	// scenario runs: gone is when ps in its container first shows it gone.
	gone := make(chan time.Time, 1)
	watchCtx, stopWatch := context.WithTimeout(context.Background(), dockerLease+dockerKillGrace+15*time.Second)
	defer stopWatch()
	go func() {
		for watchCtx.Err() == nil {
			if ps, err := dc.processesIn(old, "sleep 10"); err == nil && len(ps) == 0 {
				gone <- time.Now()
				return
			}
		}
		close(gone)
	}()

	// The majority elects a new leader among itself.
	var leader string
	waitFor(t, "a new leader on the majority side", 20*time.Second, func() (bool, string) {
		v := dc.membersSeenBy("w1")
		leader = v.leader
		return v.err == nil && leader != "" && leader != old, v.String()
	})
	t.Logf("new leader %s elected %s after the partition", leader, time.Since(cut).Round(time.Millisecond))

	// The old leader cannot commit: a submission through its own API (from
	// inside its container: its address is gone) fails. (The CLI retries
	// for 30 s; a retry forwarded as the partition heals may commit as the
	// CLI gives up, which the idempotency key settles after the heal.)
	lostKey := "lost-in-partition-1"
	code, out := dc.execIn(old, 45*time.Second, "/bin/scaleout", "run", "/pkg/lost.yaml", "--address", "http://127.0.0.1:8391", "--idempotency-key", lostKey)
	if code == 0 {
		t.Fatalf("a submission through the partitioned old leader succeeded:\n%s", out)
	}
	t.Logf("submission through the partitioned old leader: exit %d: %s", code, strings.TrimSpace(out))

	// The majority commits and runs new executions.
	quick := submit(t, cl, quickPackage, 0)
	e := waitStatus(t, cl, quick, 20*time.Second, "succeeded", "failed", "canceled", "ended_unexpectedly")
	if e.Status != "succeeded" || e.Worker == old {
		t.Fatalf("execution %d submitted during the partition: %s on %s (%s)", quick, e.Status, e.Worker, e.Message)
	}

	// The cut-off worker kills its attempt itself once the lease is over.
	goneBy, ok := <-gone // the attempt was killed at the latest then
	if !ok {
		ps, err := dc.processesIn(old, "sleep 10")
		t.Fatalf("the partitioned worker did not kill its attempt: %v %v", ps, err)
	}
	t.Logf("the partitioned worker killed its attempt %s after the partition (lease %s)", goneBy.Sub(cut).Round(time.Millisecond), dockerLease)

	// The execution runs again on the majority and succeeds exactly once.
	e = waitStatus(t, cl, id, 40*time.Second, "succeeded", "failed", "canceled", "ended_unexpectedly")
	if e.Status != "succeeded" || e.Attempt != 2 || len(e.Attempts) != 2 || e.Attempts[0].Worker != old ||
		e.Attempts[0].Result == "succeeded" || e.Attempts[1].Worker == old || successes(e) != 1 {
		t.Fatalf("execution %d after the partition: %s attempt %d, attempts %+v", id, e.Status, e.Attempt, e.Attempts)
	}
	// Never two copies: attempt 2 started after attempt 1's process was gone
	// (the containers share the host's clock).
	if !e.Attempts[1].StartedAt.After(goneBy) {
		t.Fatalf("attempt 2 started at %s, before attempt 1 was seen gone at %s", e.Attempts[1].StartedAt, goneBy)
	}
	t.Logf("attempt 2 started %s after attempt 1 was gone", e.Attempts[1].StartedAt.Sub(goneBy).Round(time.Millisecond))

	// Heal: the old leader gets its address back, follows the new leader and
	// has caught up with what was committed without it.
	mustDocker(t, "network", "connect", "--ip", dc.node(old).ip, dc.net, dc.node(old).container)
	healed := time.Now()
	oc := dc.node(old).client
	waitFor(t, "the old leader to follow and catch up", 30*time.Second, func() (bool, string) {
		v := dc.membersSeenBy(old)
		if v.err != nil || v.leader != leader {
			return false, "members: " + v.String()
		}
		for _, x := range []uint64{quick, id} {
			e, err := info(oc, x)
			if err != nil || e.Status != "succeeded" {
				return false, fmt.Sprintf("execution %d on %s: %v %v", x, old, e, err)
			}
		}
		return true, ""
	})
	t.Logf("old leader %s follows %s and caught up %s after the heal", old, leader, time.Since(healed).Round(time.Millisecond))
	waitFor(t, "gossip to heal: 4 alive members everywhere", 30*time.Second, func() (bool, string) {
		views, seen := dc.membersSeenByAll()
		ok := true
		for _, v := range views {
			ok = ok && v.err == nil && len(v.alive) == 4 && v.leader == leader
		}
		return ok, seen
	})
	t.Logf("gossip healed %s after the reconnect", time.Since(healed).Round(time.Millisecond))

	// Nothing of the lost submission was committed, and the fenced attempt's
	// late report (if any) did not add a second success.
	ctx, cancel := bg()
	defer cancel()
	list, err := dc.node(leader).client.Executions().List(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var lost []uint64
	for _, x := range list {
		if x.PackageName == "lost-in-partition" {
			lost = append(lost, x.ID)
		}
	}
	// Nothing committed twice, and the key tells the client what became of
	// its submission: the same command gives the one execution's id.
	code, out = dc.execIn(leader, 45*time.Second, "/bin/scaleout", "run", "/pkg/lost.yaml", "--address", "http://127.0.0.1:8391", "--idempotency-key", lostKey)
	if code != 0 || len(lost) > 1 || (len(lost) == 1 && strings.TrimSpace(out) != strconv.FormatUint(lost[0], 10)) {
		t.Fatalf("the failed submission with key %s, run again after the heal: exit %d %q; executions of it before: %v", lostKey, code, out, lost)
	}
	if e, err := info(dc.node(leader).client, id); err != nil || e.Status != "succeeded" || successes(e) != 1 || len(e.Attempts) != 2 {
		t.Fatalf("execution %d after the heal: %+v %v", id, e, err)
	}
}

// testDockerNodeLoss kills (SIGKILL) a follower server while executions run
// on it, then the worker-only agent: their executions run again elsewhere
// and succeed exactly once.
func testDockerNodeLoss(t *testing.T, dc *dockerCluster) {
	v := dc.membersSeenBy("w1")
	if v.err != nil || v.leader == "" {
		t.Fatalf("no leader before the node loss test: %s", v)
	}
	leader := v.leader
	cl := dc.node(leader).client // survives both kills
	alive := slices.Clone(dc.order)
	var victimServer string
	for _, name := range dc.order {
		if name != leader && name != "w1" {
			victimServer = name
			break
		}
	}
	for _, victim := range []string{victimServer, "w1"} {
		enable := onlyWorker(t, cl, alive, victim)
		var ids []uint64
		for i := 0; i < 3; i++ {
			ids = append(ids, submit(t, cl, sleepPackage("loss", 4), 1))
		}
		waitFor(t, fmt.Sprintf("executions running on %s", victim), 20*time.Second, func() (bool, string) {
			for _, id := range ids {
				e, err := info(cl, id)
				if err != nil || e.Status != "running" || e.Worker != victim {
					return false, fmt.Sprint(e, err)
				}
			}
			return true, ""
		})
		enable()
		mustDocker(t, "kill", "--signal", "KILL", dc.node(victim).container)
		killed := time.Now()
		alive = slices.DeleteFunc(alive, func(s string) bool { return s == victim })
		checkAllSucceededOnce(t, cl, ids, 40*time.Second)
		for _, id := range ids {
			e, _ := info(cl, id)
			if e.Attempt != 2 || e.Attempts[0].Worker != victim || e.Attempts[1].Worker == victim {
				t.Fatalf("execution %d after the loss of %s: attempt %d, attempts %+v", id, victim, e.Attempt, e.Attempts)
			}
		}
		t.Logf("executions of the killed %s succeeded elsewhere as attempt 2 within %s", victim, time.Since(killed).Round(time.Millisecond))
	}
}
