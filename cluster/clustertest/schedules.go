package clustertest

import (
	"context"
	"fmt"

	"github.com/scaleout/scaleout/api"
)

// RunsDelivered is a condition for WaitFor: every run of the schedule
// name, as c reads them, has ended and has a notification delivery record.
func RunsDelivered(ctx context.Context, c *api.Client, name string) func() (bool, string) {
	return func() (bool, string) {
		runs, err := c.Schedules().Runs(ctx, name, 100)
		if err != nil {
			return false, err.Error()
		}
		for _, r := range runs {
			if r.Status == "running" || r.Delivery == nil {
				return false, fmt.Sprintf("run %d %s delivery %+v", r.ID, r.Status, r.Delivery)
			}
		}
		return true, ""
	}
}
