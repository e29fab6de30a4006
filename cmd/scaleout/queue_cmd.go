package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"time"

	"github.com/scaleout/scaleout/api"
	"github.com/spf13/cobra"
)

// queueFlags are the queue settings of run (api.QueueOptions).
type queueFlags struct {
	noStart       bool
	priority      int
	retryDelay    time.Duration
	retryBackoff  bool
	maxConcurrent int
	group         string
	waitForWorker bool
	key           string
}

func (q *queueFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.BoolVar(&q.noStart, "no-start", false, "create the execution in status created; start it with 'scaleout executions start ID'")
	fl.IntVar(&q.priority, "priority", 0, "higher runs first among pending executions; equal priorities run in submission order")
	fl.DurationVar(&q.retryDelay, "retry-delay", 0, "wait this long before retrying a failed attempt (with --retries)")
	fl.BoolVar(&q.retryBackoff, "retry-backoff", false, "double --retry-delay for each further retry")
	fl.IntVar(&q.maxConcurrent, "max-concurrent", 0, "run at most this many executions of this package (or --concurrency-group) at once; more wait pending")
	fl.StringVar(&q.group, "concurrency-group", "", "name shared by the executions --max-concurrent counts (default: the package)")
	fl.BoolVar(&q.waitForWorker, "wait-for-worker", false, "accept --worker/--label targets no registered worker matches, and wait for one")
	fl.StringVar(&q.key, "idempotency-key", "", "key that makes the submission safe to retry: within 24h the same key creates no second execution (default: a new random key, used for this command's own retries)")
}

func (q *queueFlags) options(wait bool) (api.QueueOptions, error) {
	o := api.QueueOptions{Priority: q.priority, RetryBackoff: q.retryBackoff, MaxConcurrent: q.maxConcurrent,
		ConcurrencyGroup: q.group, WaitForWorker: q.waitForWorker, IdempotencyKey: q.key}
	if o.IdempotencyKey == "" {
		var b [16]byte
		_, _ = rand.Read(b[:])
		o.IdempotencyKey = "run-" + hex.EncodeToString(b[:])
	}
	switch {
	case q.noStart && wait:
		return o, exitf(exitUsage, "--no-start and --wait exclude each other: a created execution does not run until 'executions start'")
	case q.retryDelay < 0:
		return o, exitf(exitUsage, "--retry-delay must not be negative (got %s)", q.retryDelay)
	case q.maxConcurrent < 0:
		return o, exitf(exitUsage, "--max-concurrent must not be negative (got %d)", q.maxConcurrent)
	case q.group != "" && q.maxConcurrent == 0:
		return o, exitf(exitUsage, "--concurrency-group needs --max-concurrent")
	}
	if q.noStart {
		f := false
		o.Start = &f
	}
	if q.retryDelay > 0 {
		o.RetryDelay = q.retryDelay.String()
	}
	return o, nil
}

func newExecStartCmd() *cobra.Command {
	return executionCmd("start ID", "Start an execution created with 'run --no-start' (created -> pending)", func(x *cmdCtx, id uint64) error {
		st, err := x.c.Executions().Start(x.ctx, id)
		if err != nil {
			return err
		}
		fmt.Fprintf(x.out, "execution %d %s\n", id, st)
		return nil
	})
}

func newExecSetParamCmd() *cobra.Command {
	cmd := clientCmd("set-param ID NAME=VALUE...", "Set parameter values of an execution created with 'run --no-start'", 2, func(x *cmdCtx) error {
		if len(x.args) < 2 {
			return exitf(exitUsage, "want an execution id and at least one NAME=VALUE")
		}
		id, err := parseID(x.args[0])
		if err != nil {
			return err
		}
		params, err := parseParams(x.args[1:])
		if err != nil {
			return exitf(exitUsage, "%v", err)
		}
		if err := x.c.Executions().Set(x.ctx, id, &api.SetExecutionRequest{Params: params}); err != nil {
			return err
		}
		fmt.Fprintf(x.out, "execution %d: set %d value(s)\n", id, len(params))
		return nil
	})
	cmd.Args = cobra.MinimumNArgs(2)
	cmd.Long = `Set parameter values of an execution in status created (SSIS
set_execution_parameter_value). NAME is a package parameter, or for a
deployed package also a project parameter ("project.NAME" when a package
parameter has the same name). Values are checked against the declared types
and sensitive ones sealed, as when the execution was created.`
	return cmd
}

func newExecSetTargetCmd() *cobra.Command {
	var (
		workers  []string
		labels   []string
		priority string
	)
	cmd := executionCmd("set-target ID", "Change the target workers, labels or priority of an execution created with 'run --no-start'", func(x *cmdCtx, id uint64) error {
		req := &api.SetExecutionRequest{}
		t, err := parseTargets(workers, labels)
		if err != nil {
			return exitf(exitUsage, "%v", err)
		}
		if len(workers) > 0 {
			req.Workers = &t.Workers
		}
		if len(labels) > 0 {
			req.Labels = &t.Labels
		}
		if priority != "" {
			p, err := strconv.Atoi(priority)
			if err != nil {
				return exitf(exitUsage, "--priority %q: want an integer", priority)
			}
			req.Priority = &p
		}
		if req.Workers == nil && req.Labels == nil && req.Priority == nil {
			return exitf(exitUsage, "give --worker, --label or --priority")
		}
		if err := x.c.Executions().Set(x.ctx, id, req); err != nil {
			return err
		}
		fmt.Fprintf(x.out, "execution %d updated\n", id)
		return nil
	})
	cmd.Flags().StringArrayVar(&workers, "worker", nil, "run only on this worker id (repeatable: any of them); replaces the targets")
	cmd.Flags().StringArrayVar(&labels, "label", nil, "run only on workers with label k=v (repeatable: all of them); replaces the labels")
	cmd.Flags().StringVar(&priority, "priority", "", "new priority")
	return cmd
}

func newCapsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "caps",
		Short: "Concurrency caps (max_concurrent) of the cluster, folders, projects and packages",
		Long: `A cap limits how many executions run at once under it: the whole cluster,
a folder, a project or one package of a project. Over a cap an execution
stays pending (its status says which cap it waits for) and starts when a
slot frees; nothing is refused. Caps are replicated catalog settings.`,
	}
	var (
		folder, project, pkg string
		max                  int
		cluster              bool
	)
	set := clientCmd("set", "Set a cap: --cluster, or --folder [--project [--package]], and --max-concurrent N (0 removes it)", 0, func(x *cmdCtx) error {
		c := api.Cap{Folder: folder, Project: project, Package: pkg, MaxConcurrent: max}
		switch {
		case cluster && (folder != "" || project != "" || pkg != ""):
			return exitf(exitUsage, "--cluster names no folder, project or package")
		case cluster:
			c.Scope = "cluster"
		case pkg != "":
			c.Scope = "package"
		case project != "":
			c.Scope = "project"
		case folder != "":
			c.Scope = "folder"
		default:
			return exitf(exitUsage, "give --cluster or --folder [--project [--package]]")
		}
		if max < 0 {
			return exitf(exitUsage, "--max-concurrent must not be negative (0 removes the cap)")
		}
		if err := x.c.Caps().Set(x.ctx, c); err != nil {
			return err
		}
		fmt.Fprintf(x.out, "%s cap set to %d\n", c.Scope, max)
		return nil
	})
	set.Flags().BoolVar(&cluster, "cluster", false, "the cap of the whole cluster")
	set.Flags().StringVar(&folder, "folder", "", "folder")
	set.Flags().StringVar(&project, "project", "", "project (with --folder)")
	set.Flags().StringVar(&pkg, "package", "", "package (with --folder and --project)")
	set.Flags().IntVar(&max, "max-concurrent", 0, "executions at most running at once (0 removes the cap)")
	_ = set.MarkFlagRequired("max-concurrent")
	list := listCmd("list", "List the caps with the executions running under each", 0,
		func(x *cmdCtx) ([]api.CapStatus, error) { return x.c.Caps().List(x.ctx) },
		"SCOPE\tNAME\tMAX\tRUNNING", func(c api.CapStatus) string {
			name := "-"
			switch c.Scope {
			case "folder":
				name = c.Folder
			case "project":
				name = c.Folder + "/" + c.Project
			case "package":
				name = c.Folder + "/" + c.Project + "/" + c.Package
			}
			return fmt.Sprintf("%s\t%s\t%d\t%d", c.Scope, name, c.MaxConcurrent, c.Running)
		})
	cmd.AddCommand(set, list)
	return cmd
}
