package main

import (
	"fmt"
	"time"

	"github.com/scaleout/scaleout/api"
	"github.com/spf13/cobra"
)

func newWorkersCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "workers",
		Short: "List, enable, disable and remove Scale Out Workers",
		Long: `Every agent registers as a worker under its node name. A disabled worker gets no
new executions (running ones continue); remove forgets a worker (a live agent
registers again at its next poll, so disable it to keep it idle). A new worker
waits unapproved (listed, no work) until 'workers approve' unless the cluster
setting auto_approve_workers lets it in (docs/SECURITY.md).`,
	}
	action := func(name, short string, call func(x *cmdCtx, id string) error) *cobra.Command {
		return clientCmd(name+" ID", short, 1, func(x *cmdCtx) error {
			if err := call(x, x.args[0]); err != nil {
				return err
			}
			fmt.Fprintf(x.out, "worker %s: %sd\n", x.args[0], name)
			return nil
		})
	}
	cmd.AddCommand(
		listCmd("list", "List workers: id, node, labels, max tasks, running, enabled, last seen", 0,
			func(x *cmdCtx) ([]api.Worker, error) { return x.c.Workers().List(x.ctx) },
			"ID\tNODE\tENABLED\tAPPROVED\tRUNNING\tMAX TASKS\tLAST SEEN\tLABELS", func(w api.Worker) string {
				seen := "-"
				if w.LastSeen != nil {
					seen = time.Since(*w.LastSeen).Round(time.Millisecond).String() + " ago"
				}
				return fmt.Sprintf("%s\t%s\t%t\t%t\t%d\t%d\t%s\t%s", w.ID, w.Node, w.Enabled, !w.Unapproved, w.Running, w.MaxTasks, seen, labelString(w.Labels))
			}),
		action("enable", "Let a worker take new executions again", func(x *cmdCtx, id string) error {
			return x.c.Workers().SetEnabled(x.ctx, id, true)
		}),
		action("disable", "Give a worker no new executions (running ones continue)", func(x *cmdCtx, id string) error {
			return x.c.Workers().SetEnabled(x.ctx, id, false)
		}),
		action("approve", "Let a worker that waits for approval get work (admin)", func(x *cmdCtx, id string) error {
			return x.c.Workers().Approve(x.ctx, id)
		}),
		action("remove", "Forget a worker", func(x *cmdCtx, id string) error {
			return x.c.Workers().Remove(x.ctx, id)
		}))
	return cmd
}
