package agent_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/scaleout/scaleout/api"
	"github.com/scaleout/scaleout/cluster/clustertest"
)

// TestCluster_NotificationsSurviveLeaderLoss: failed runs whose webhook
// keeps failing while the leader crashes are delivered by the next leader;
// every failed run is delivered at least once and recorded as delivered.
func TestCluster_NotificationsSurviveLeaderLoss(t *testing.T) {
	recv := newWebhook(t, func(n api.Notification) (uint64, bool) { return n.Run, n.Run != 0 })

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
	recv.accept.Store(true)
	clustertest.WaitFor(t, 90*time.Second, "every run ended and delivered", clustertest.RunsDelivered(ctx, next.Client, "f"))
	runs, _ := next.Client.Schedules().Runs(ctx, "f", 100)
	delivered := recv.deliveries()
	for _, r := range runs {
		if r.Status != "failed" || !r.Delivery.Delivered || delivered[r.ID] < 1 {
			t.Errorf("run %d %s: delivery %+v, received %d", r.ID, r.Status, r.Delivery, delivered[r.ID])
		}
	}
	t.Logf("%d failed runs delivered after the leader %s crashed (new leader %s)", len(runs), leader.Name, next.Name)
}
