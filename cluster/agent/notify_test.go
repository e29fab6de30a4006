package agent_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scaleout/scaleout/api"
	"github.com/scaleout/scaleout/cluster/clustertest"
)

// TestCluster_ExecutionNotificationsSurviveLeaderLoss: failed executions
// of a package with notify, whose webhook keeps failing while the leader
// crashes, are delivered by the next leader from the replicated index and
// recorded; once recorded they are not sent again (a later execution's
// delivery goes through while their counts stay put).
func TestCluster_ExecutionNotificationsSurviveLeaderLoss(t *testing.T) {
	var (
		accept    atomic.Bool
		mu        sync.Mutex
		delivered = map[uint64]int{}
	)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var n api.Notification
		if err := json.Unmarshal(body, &n); err != nil || n.Execution == 0 || n.Status != "failed" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		if !accept.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		mu.Lock()
		delivered[n.Execution]++
		mu.Unlock()
	}))
	defer recv.Close()

	c := clustertest.NewCluster(t, clustertest.Options{Servers: 3})
	leader := c.WaitForLeader()
	ctx := context.Background()
	pkg := fmt.Sprintf("name: fail\nnotify: {webhook: %q, on: [failure]}\ntasks:\n  - name: t\n    exec:\n      command: [/bin/sh, -c, 'exit 1']\n", recv.URL)
	var ids []uint64
	for range 2 {
		id, err := leader.Client.Executions().Submit(ctx, &api.SubmitRequest{Package: pkg})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	survivor := c.Followers()[0]
	notified := func(cl *api.Client, id uint64) (*api.Execution, bool) {
		e, err := cl.Executions().Info(ctx, id)
		return e, err == nil && e.Notification != nil
	}
	clustertest.WaitFor(t, 60*time.Second, "both executions failed, their notification pending", func() (bool, string) {
		for _, id := range ids {
			e, err := survivor.Client.Executions().Info(ctx, id)
			if err != nil || e.Status != "failed" || e.Notification != nil {
				return false, fmt.Sprintf("%d: %+v %v", id, e, err)
			}
		}
		return true, ""
	})
	c.Kill(leader)
	next := c.WaitForNewLeader(leader)
	accept.Store(true)
	clustertest.WaitFor(t, 90*time.Second, "both delivered and recorded by the new leader", func() (bool, string) {
		for _, id := range ids {
			if e, ok := notified(next.Client, id); !ok {
				return false, fmt.Sprintf("%d: %+v", id, e)
			}
		}
		return true, ""
	})
	mu.Lock()
	before := map[uint64]int{ids[0]: delivered[ids[0]], ids[1]: delivered[ids[1]]}
	mu.Unlock()
	for _, id := range ids {
		e, _ := notified(next.Client, id)
		if !e.Notification.Delivered || before[id] < 1 {
			t.Fatalf("execution %d: recorded %+v, received %d", id, e.Notification, before[id])
		}
	}
	// One more failed execution, delivered through the same loop: the
	// recorded ones are not sent again meanwhile.
	third, err := next.Client.Executions().Submit(ctx, &api.SubmitRequest{Package: pkg})
	if err != nil {
		t.Fatal(err)
	}
	clustertest.WaitFor(t, 60*time.Second, "the third execution notified", func() (bool, string) {
		e, ok := notified(next.Client, third)
		return ok, fmt.Sprintf("%+v", e)
	})
	mu.Lock()
	defer mu.Unlock()
	for _, id := range ids {
		if delivered[id] != before[id] {
			t.Errorf("execution %d was sent again after its record: %d, then %d", id, before[id], delivered[id])
		}
	}
	if delivered[third] != 1 {
		t.Errorf("third execution received %d times", delivered[third])
	}
	t.Logf("deliveries %v after the leader %s crashed (new leader %s)", delivered, leader.Name, next.Name)
}
