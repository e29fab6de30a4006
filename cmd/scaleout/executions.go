package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/scaleout/scaleout/api"
	"github.com/spf13/cobra"
)

func newExecutionsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "executions",
		Aliases: []string{"execution"},
		Short:   "List, inspect, follow and stop executions",
	}
	cmd.AddCommand(newExecListCmd(), newExecStatusCmd(), newExecLogsCmd(), newExecStopCmd(),
		newExecStartCmd(), newExecSetParamCmd(), newExecSetTargetCmd()) // queue_cmd.go
	return cmd
}

func parseID(s string) (uint64, error) {
	id, err := strconv.ParseUint(s, 10, 64)
	if err != nil || id == 0 {
		return 0, exitf(exitUsage, "invalid execution id %q: want a positive integer", s)
	}
	return id, nil
}

func timeout(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, 30*time.Second)
}

func newExecListCmd() *cobra.Command {
	var (
		status string
		limit  int
	)
	cmd := listCmd("list", "List executions, newest first", 0,
		func(x *cmdCtx) ([]api.Execution, error) {
			return x.c.Executions().List(x.ctx, &api.ListOptions{Status: status, Limit: limit})
		},
		"ID\tSTATUS\tPACKAGE\tATTEMPT\tWORKER\tCREATED", func(e api.Execution) string {
			return fmt.Sprintf("%d\t%s\t%s\t%d\t%s\t%s", e.ID, e.Status, e.PackageName, e.Attempt, dash(e.Worker), e.CreatedAt.Local().Format(time.DateTime))
		})
	cmd.Flags().StringVar(&status, "status", "", "only executions with this status")
	cmd.Flags().IntVar(&limit, "limit", 100, "at most this many")
	return cmd
}

func dashList(l []string) string {
	if len(l) == 0 {
		return "any"
	}
	return strings.Join(l, ",")
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// executionCmd builds a client command whose one argument is an execution id.
func executionCmd(use, short string, body func(x *cmdCtx, id uint64) error) *cobra.Command {
	return clientCmd(use, short, 1, func(x *cmdCtx) error {
		id, err := parseID(x.args[0])
		if err != nil {
			return err
		}
		return body(x, id)
	})
}

func newExecStatusCmd() *cobra.Command {
	var output string
	cmd := executionCmd("status ID", "Show one execution: status, parameters, attempts", func(x *cmdCtx, id uint64) error {
		if err := checkOutput(output); err != nil {
			return err
		}
		e, err := x.c.Executions().Info(x.ctx, id)
		if err != nil {
			return err
		}
		if output == "json" {
			return writeJSON(x.out, e)
		}
		printExecution(x.out, e)
		return nil
	})
	addOutputFlag(cmd, &output)
	return cmd
}

func fmtTime(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.Local().Format(time.RFC3339)
}

func printExecution(out io.Writer, e *api.Execution) {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "ID\t%d\n", e.ID)
	fmt.Fprintf(tw, "Status\t%s\n", e.Status)
	fmt.Fprintf(tw, "Package\t%s (%s)\n", e.PackageName, dash(e.PackageFile))
	if e.Message != "" {
		fmt.Fprintf(tw, "Message\t%s\n", e.Message)
	}
	fmt.Fprintf(tw, "Attempt\t%d of %d\n", e.Attempt, e.Retries+1)
	if e.Priority != 0 {
		fmt.Fprintf(tw, "Priority\t%d\n", e.Priority)
	}
	if e.RetryDelay != "" {
		backoff := ""
		if e.RetryBackoff {
			backoff = ", doubled per retry"
		}
		fmt.Fprintf(tw, "Retry delay\t%s%s\n", e.RetryDelay, backoff)
	}
	if e.MaxConcurrent > 0 {
		fmt.Fprintf(tw, "Max concurrent\t%d (group %s)\n", e.MaxConcurrent, dash(e.ConcurrencyGroup))
	}
	fmt.Fprintf(tw, "Worker\t%s\n", dash(e.Worker))
	if len(e.TargetWorkers) > 0 || len(e.TargetLabels) > 0 {
		fmt.Fprintf(tw, "Targets\tworkers %s, labels %s\n", dashList(e.TargetWorkers), labelString(e.TargetLabels))
	}
	if e.PendingReason != "" {
		fmt.Fprintf(tw, "Waiting\t%s\n", e.PendingReason)
	}
	fmt.Fprintf(tw, "Caller\t%s\n", dash(e.Caller))
	fmt.Fprintf(tw, "Created\t%s\n", e.CreatedAt.Local().Format(time.RFC3339))
	fmt.Fprintf(tw, "Started\t%s\n", fmtTime(e.StartedAt))
	fmt.Fprintf(tw, "Ended\t%s\n", fmtTime(e.EndedAt))
	fmt.Fprintf(tw, "Events\t%d\n", e.EventCount)
	if e.Notify != nil {
		fmt.Fprintf(tw, "Notify\t%s on %s: %s\n", notifyTargets(e.Notify.Webhook, e.Notify.Email), strings.Join(e.Notify.On, ","), notificationState(e))
	}
	_ = tw.Flush()
	if len(e.Params) > 0 {
		fmt.Fprintln(out, "\nParameters")
		tw = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		for _, k := range sortedKeys(e.Params) {
			fmt.Fprintf(tw, "  %s\t%s\n", k, e.Params[k])
		}
		_ = tw.Flush()
	}
	if len(e.Attempts) > 0 {
		fmt.Fprintln(out, "\nAttempts")
		tw = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  N\tWORKER\tSTARTED\tENDED\tRESULT")
		for _, a := range e.Attempts {
			fmt.Fprintf(tw, "  %d\t%s\t%s\t%s\t%s\n", a.N, a.Worker, a.StartedAt.Local().Format(time.RFC3339), fmtTime(a.EndedAt), dash(a.Result))
		}
		_ = tw.Flush()
	}
}

// notificationState says where an execution's package notification is.
func notificationState(e *api.Execution) string {
	d := e.Notification
	switch {
	case d == nil && (e.EndedAt == nil || e.Status == "created"):
		return "when it ends"
	case d == nil:
		return "not wanted for this end, or being delivered"
	case d.Delivered:
		return fmt.Sprintf("delivered %s (attempt %d)", fmtTime(&d.Time), d.Attempts)
	}
	return fmt.Sprintf("not delivered after %d attempts: %s", d.Attempts, d.Error)
}

func sortedKeys(m map[string]string) []string {
	return slices.Sorted(maps.Keys(m))
}

func newExecLogsCmd() *cobra.Command {
	var (
		cf     clientFlags
		follow bool
		types  []string
	)
	cmd := &cobra.Command{
		Use:   "logs ID",
		Short: "Print an execution's events (--follow: until it ends)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseID(args[0])
			if err != nil {
				return err
			}
			c, err := cf.client()
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if follow {
				ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
				defer stop()
				if len(types) == 0 && liveWanted(out) { // progress.go
					_, err := followLive(ctx, out, c, id, 0)
					return apiErr(err)
				}
				return apiErr(followEventsOf(ctx, out, c, id, types))
			}
			var after uint64
			for {
				ctx, cancel := timeout(cmd.Context())
				resp, err := c.Executions().Events(ctx, id, after, 1000, 0)
				cancel()
				if err != nil {
					return apiErr(err)
				}
				for _, ev := range resp.Events {
					if eventFilter(types).keep(ev) {
						printEvent(out, ev)
					}
				}
				if len(resp.Events) == 0 {
					return nil
				}
				after = resp.Next
			}
		},
	}
	cf.register(cmd)
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing new events until the execution ends")
	addPlainFlag(cmd)
	cmd.Flags().StringSliceVar(&types, "type", nil, "only events of these types (repeatable or comma-separated), e.g. stdout,error")
	return cmd
}

func newExecStopCmd() *cobra.Command {
	return executionCmd("stop ID", "Stop an execution (pending: canceled at once; running: its tasks get SIGTERM, then SIGKILL)", func(x *cmdCtx, id uint64) error {
		st, err := x.c.Executions().Stop(x.ctx, id)
		if err != nil {
			return err
		}
		fmt.Fprintf(x.out, "execution %d: %s\n", id, st)
		return nil
	})
}
