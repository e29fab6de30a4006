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

// TestCluster_NotificationsSurviveLeaderLoss: failed runs whose webhook
// keeps failing while the leader crashes are delivered by the next leader;
// every failed run is delivered at least once and recorded as delivered.
func TestCluster_NotificationsSurviveLeaderLoss(t *testing.T) {
	var (
		accept    atomic.Bool
		mu        sync.Mutex
		delivered = map[uint64]int{}
	)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var n api.Notification
		if err := json.Unmarshal(body, &n); err != nil || n.Run == 0 {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		if !accept.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		mu.Lock()
		delivered[n.Run]++
		mu.Unlock()
	}))
	defer recv.Close()

	c := clustertest.NewCluster(t, clustertest.Options{Servers: 3})
	leader := c.WaitForLeader()
	ctx := context.Background()
	fail := "name: fail\ntasks:\n  - name: t\n    exec:\n      command: [/bin/sh, -c, 'exit 1']\n"
	err := leader.Client.Schedules().Create(ctx, &api.ScheduleRequest{Name: "f", Every: "1s", JobStep: api.JobStep{Source: fail},
		Notify: &api.Notify{On: []string{"failure"}, Webhook: recv.URL}})
	if err != nil {
		t.Fatal(err)
	}
	survivor := c.Followers()[0]
	clustertest.WaitFor(t, 60*time.Second, "two failed runs waiting for their notification", func() (bool, string) {
		runs, err := survivor.Client.Schedules().Runs(ctx, "f", 100)
		if err != nil {
			return false, err.Error()
		}
		n := 0
		for _, r := range runs {
			if r.Status == "failed" && r.Delivery == nil {
				n++
			}
		}
		return n >= 2, fmt.Sprintf("%d of %d", n, len(runs))
	})
	if err := survivor.Client.Schedules().Pause(ctx, "f"); err != nil {
		t.Fatal(err)
	}
	c.Kill(leader)
	next := c.WaitForNewLeader(leader)
	accept.Store(true)
	clustertest.WaitFor(t, 90*time.Second, "every run ended and delivered", func() (bool, string) {
		runs, err := next.Client.Schedules().Runs(ctx, "f", 100)
		if err != nil {
			return false, err.Error()
		}
		for _, r := range runs {
			if r.Status == "running" || r.Delivery == nil {
				return false, fmt.Sprintf("run %d %s delivery %+v", r.ID, r.Status, r.Delivery)
			}
		}
		return true, ""
	})
	runs, _ := next.Client.Schedules().Runs(ctx, "f", 100)
	mu.Lock()
	defer mu.Unlock()
	for _, r := range runs {
		if r.Status != "failed" || !r.Delivery.Delivered || delivered[r.ID] < 1 {
			t.Errorf("run %d %s: delivery %+v, received %d", r.ID, r.Status, r.Delivery, delivered[r.ID])
		}
	}
	t.Logf("%d failed runs delivered after the leader %s crashed (new leader %s)", len(runs), leader.Name, next.Name)
}
