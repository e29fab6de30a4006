package main

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

func newWorkersCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "workers",
		Short: "List, enable, disable and remove Scale Out Workers",
		Long: `Every agent registers as a worker under its node name. A disabled worker gets no
new executions (running ones continue); remove forgets a worker (a live agent
registers again at its next poll, so disable it to keep it idle).`,
	}
	cmd.AddCommand(newWorkersListCmd(),
		newWorkerActionCmd("enable", "Let a worker take new executions again", func(c *clientFlags, cmd *cobra.Command, id string) error {
			cl, err := c.client()
			if err != nil {
				return err
			}
			ctx, cancel := timeout(cmd.Context())
			defer cancel()
			return apiErr(cl.Workers().SetEnabled(ctx, id, true))
		}),
		newWorkerActionCmd("disable", "Give a worker no new executions (running ones continue)", func(c *clientFlags, cmd *cobra.Command, id string) error {
			cl, err := c.client()
			if err != nil {
				return err
			}
			ctx, cancel := timeout(cmd.Context())
			defer cancel()
			return apiErr(cl.Workers().SetEnabled(ctx, id, false))
		}),
		newWorkerActionCmd("remove", "Forget a worker", func(c *clientFlags, cmd *cobra.Command, id string) error {
			cl, err := c.client()
			if err != nil {
				return err
			}
			ctx, cancel := timeout(cmd.Context())
			defer cancel()
			return apiErr(cl.Workers().Remove(ctx, id))
		}))
	return cmd
}

func newWorkersListCmd() *cobra.Command {
	var cf clientFlags
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List workers: id, node, labels, max tasks, running, enabled, last seen",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := cf.client()
			if err != nil {
				return err
			}
			ctx, cancel := timeout(cmd.Context())
			defer cancel()
			list, err := c.Workers().List(ctx)
			if err != nil {
				return apiErr(err)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNODE\tENABLED\tRUNNING\tMAX TASKS\tLAST SEEN\tLABELS")
			for _, w := range list {
				seen := "-"
				if w.LastSeen != nil {
					seen = time.Since(*w.LastSeen).Round(time.Millisecond).String() + " ago"
				}
				fmt.Fprintf(tw, "%s\t%s\t%t\t%d\t%d\t%s\t%s\n", w.ID, w.Node, w.Enabled, w.Running, w.MaxTasks, seen, labelString(w.Labels))
			}
			return tw.Flush()
		},
	}
	cf.register(cmd)
	return cmd
}

func newWorkerActionCmd(name, short string, fn func(*clientFlags, *cobra.Command, string) error) *cobra.Command {
	var cf clientFlags
	cmd := &cobra.Command{
		Use:   name + " ID",
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := fn(&cf, cmd, args[0]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "worker %s: %sd\n", args[0], name)
			return nil
		},
	}
	cf.register(cmd)
	return cmd
}
