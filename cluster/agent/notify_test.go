package agent_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scaleout/scaleout/api"
	"github.com/scaleout/scaleout/cluster/clustertest"
)

// webhook is a notification receiver that fails until told to accept: it
// answers 400 to a body that is not a notification for which id reports
// ok, 503 until accept is set, and then counts the deliveries by the id.
type webhook struct {
	*httptest.Server
	accept    atomic.Bool
	mu        sync.Mutex
	delivered map[uint64]int
}

func newWebhook(t *testing.T, id func(api.Notification) (uint64, bool)) *webhook {
	w := &webhook{delivered: map[uint64]int{}}
	w.Server = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var (
			n   api.Notification
			key uint64
			ok  bool
		)
		if err := json.Unmarshal(body, &n); err == nil {
			key, ok = id(n)
		}
		if !ok {
			rw.WriteHeader(http.StatusBadRequest)
			return
		}
		if !w.accept.Load() {
			rw.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.mu.Lock()
		w.delivered[key]++
		w.mu.Unlock()
	}))
	t.Cleanup(w.Close)
	return w
}

// deliveries returns a copy of the counts of deliveries by id.
func (w *webhook) deliveries() map[uint64]int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return maps.Clone(w.delivered)
}

// TestCluster_ExecutionNotificationsSurviveLeaderLoss: failed executions
// of a package with notify, whose webhook keeps failing while the leader
// crashes, are delivered by the next leader from the replicated index and
// recorded; once recorded they are not sent again (a later execution's
// delivery goes through while their counts stay put).
func TestCluster_ExecutionNotificationsSurviveLeaderLoss(t *testing.T) {
	recv := newWebhook(t, func(n api.Notification) (uint64, bool) {
		return n.Execution, n.Execution != 0 && n.Status == "failed"
	})

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
	recv.accept.Store(true)
	clustertest.WaitFor(t, 90*time.Second, "both delivered and recorded by the new leader", func() (bool, string) {
		for _, id := range ids {
			if e, ok := notified(next.Client, id); !ok {
				return false, fmt.Sprintf("%d: %+v", id, e)
			}
		}
		return true, ""
	})
	delivered := recv.deliveries()
	before := map[uint64]int{ids[0]: delivered[ids[0]], ids[1]: delivered[ids[1]]}
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
	delivered = recv.deliveries()
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
