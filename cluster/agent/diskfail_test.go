package agent_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scaleout/scaleout/api"
	"github.com/scaleout/scaleout/catalog"
	"github.com/scaleout/scaleout/cluster/clustertest"
)

// TestCluster_UnhealthyLeaderHandsOver fails the leader's catalog store as
// a full disk would, in a three-server cluster: a write already in flight
// is answered 507 at once (not when the disk recovers), the leader reports
// itself unhealthy, refuses writes and hands leadership to a healthy
// server, which serves writes; the in-flight write took effect there (it
// was committed). When the disk works again the old leader catches up by
// itself and is healthy, holding every write.
func TestCluster_UnhealthyLeaderHandsOver(t *testing.T) {
	c := clustertest.NewCluster(t, clustertest.Options{Servers: 3})
	ctx := clustertest.Ctx(t, 2*time.Minute)
	var old *clustertest.Node
	clustertest.WaitFor(t, 30*time.Second, "a first write through the leader", func() (bool, string) {
		old = c.WaitForLeader()
		err := old.Client.Folders().Create(ctx, "before", "")
		return err == nil || api.IsStatus(err, 409), errString(err)
	})
	// Every server's store can be failed; failOn names the one that fails.
	var failOn atomic.Pointer[string]
	errDisk := errors.New("write catalog.db: no space left on device")
	for _, n := range c.Nodes {
		name, store := n.Name, n.Agent.Cluster().FSM().Store()
		n.Agent.Cluster().FSM().SetUpdateHook(func(fn func(tx *catalog.Tx) error) error {
			if p := failOn.Load(); p != nil && *p == name {
				return errDisk
			}
			return store.Update(fn)
		})
	}
	// Under load, leadership may move between picking the leader and the
	// write: then the write meets a healthy leader (or is answered 503)
	// and the round is repeated.
	var inFlight string
	for round := 1; ; round++ {
		old = c.WaitForLeader()
		name := old.Name
		failOn.Store(&name)
		inFlight = fmt.Sprint("in-flight-", round)
		start := time.Now()
		err := old.Client.Folders().Create(ctx, inFlight, "")
		took := time.Since(start)
		if api.IsStatus(err, 507) {
			if !strings.Contains(err.Error(), "no space left on device") || !strings.Contains(err.Error(), "check before repeating") {
				t.Fatalf("write in flight when the disk failed: %v, want 507 naming the disk and the unknown outcome", err)
			}
			if took > 10*time.Second {
				t.Fatalf("write in flight answered after %s: it waited instead of being told", took)
			}
			t.Logf("write in flight answered in %s: %v", took.Round(time.Millisecond), err)
			break
		}
		if err != nil && !api.IsStatus(err, 503) || round == 5 {
			t.Fatalf("round %d: write in flight when the disk failed: %v after %s, want 507", round, err, took)
		}
		t.Logf("round %d: leadership moved before the write met the failing store (%v); again", round, err)
		failOn.Store(nil)
		clustertest.WaitFor(t, 30*time.Second, "every server healthy again", func() (bool, string) {
			for _, n := range c.Nodes {
				if h := n.Agent.Cluster().FSM().Health(); h.Err != nil {
					return false, n.Name + ": " + h.Err.Error()
				}
			}
			return true, ""
		})
	}
	f := old.Agent.Cluster().FSM()
	store := f.Store()
	if _, err := old.Client.Status().Health(ctx); !api.IsStatus(err, 507) || !strings.Contains(err.Error(), "no space left on device") {
		t.Fatalf("health of the failing leader: %v, want 507", err)
	}
	// A later write is refused at once, and leadership moves away.
	if err := old.Client.Folders().Create(ctx, "refused", ""); !api.IsStatus(err, 507) {
		t.Fatalf("write to the failing server: %v, want 507", err)
	}
	nl := c.WaitForNewLeader(old)
	t.Logf("leadership moved from %s to %s", old.Name, nl.Name)
	clustertest.WaitFor(t, 30*time.Second, "a write through the new leader", func() (bool, string) {
		err := nl.Client.Folders().Create(ctx, "after", "")
		return err == nil, errString(err)
	})
	if _, err := nl.Client.Folders().Info(ctx, inFlight); err != nil {
		t.Errorf("the in-flight write was committed but is not on the new leader: %v", err)
	}
	if h := f.Health(); h.Err == nil {
		t.Fatal("the failing server reports itself healthy")
	}

	failOn.Store(nil)
	clustertest.WaitFor(t, 30*time.Second, "the old leader to recover by itself", func() (bool, string) {
		_, err := old.Client.Status().Health(context.Background())
		return err == nil, errString(err)
	})
	clustertest.WaitFor(t, 30*time.Second, "the old leader to hold every write", func() (bool, string) {
		var missing []string
		for _, name := range []string{"before", inFlight, "after"} {
			if err := store.View(func(tx *catalog.Tx) error {
				_, err := tx.Folder(name)
				return err
			}); err != nil {
				missing = append(missing, name+": "+err.Error())
			}
		}
		return len(missing) == 0, strings.Join(missing, "; ")
	})
	if err := old.Client.Folders().Create(ctx, "through-old", ""); err != nil {
		t.Fatalf("write through the recovered server: %v", err)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
