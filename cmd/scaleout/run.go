package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/scaleout/scaleout/api"
	"github.com/scaleout/scaleout/catalog/pkgspec"
	"github.com/spf13/cobra"
)

func newRunCmd() *cobra.Command {
	var (
		cf      clientFlags
		params  []string
		wait    bool
		retries int
		workers []string
		labels  []string
		q       queueFlags
	)
	var crf *catalogRunFlags
	cmd := &cobra.Command{
		Use:   "run FILE.yaml | FOLDER/PROJECT/PACKAGE",
		Short: "Submit a package for execution (and optionally wait for it)",
		Long: `Submit a package file for execution and print the execution id.

The package and the --param values are validated before anything is sent:
YAML syntax, unknown tasks in 'after', cycles, duplicate task names, unknown
parameters and wrong types are reported with file:line and exit code 2.

With --wait the execution's events are streamed to stdout until it ends; the
exit code is then 0 for succeeded and 1 for failed, canceled or
ended_unexpectedly.

Queue settings (docs/executions.md): --priority orders pending executions
(higher first, first come first served within a priority); --retries
re-queues a failed or lost attempt, --retry-delay spaces the retries of
failed ones, --retry-backoff doubles the delay each time; --max-concurrent
caps how many executions of this package (or --concurrency-group) run at
once. --worker/--label targets that no registered worker matches are
refused unless --wait-for-worker. --no-start creates the execution in
status created: change it with 'executions set-param'/'set-target', then
'executions start ID'.

On a terminal, --wait shows status changes, messages, warnings and errors as
lines, one live line per running task with its elapsed time, and a table of
every task's status and duration at the end; --plain (or output that is not
a terminal) prints every event as a line instead.`,
		Example: `  scaleout run testdata/hello.yaml --wait
  scaleout run testdata/hello.yaml --param who=ssis --param code=3 --wait
  scaleout run load.yaml --retries 2 --retry-delay 30s --retry-backoff --priority 10
  scaleout run etl/sales/load --no-start   # then: executions set-param ID N=V; executions start ID`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			target, err := parseTargets(workers, labels)
			if err != nil {
				return exitf(exitUsage, "%v", err)
			}
			target.Retries = retries
			if target.QueueOptions, err = q.options(wait); err != nil {
				return err
			}
			if isCatalogPath(args[0]) {
				return runCatalog(cmd.Context(), cmd.OutOrStdout(), &cf, args[0], params, wait, target, crf)
			}
			return runRun(cmd.Context(), cmd.OutOrStdout(), &cf, args[0], params, wait, target)
		},
	}
	cf.register(cmd)
	cmd.Flags().StringArrayVarP(&params, "param", "p", nil, "parameter value NAME=VALUE (repeatable)")
	cmd.Flags().BoolVarP(&wait, "wait", "w", false, "stream events until the execution ends; exit 0 only if it succeeded")
	cmd.Flags().IntVar(&retries, "retries", 0, "retry a failed or lost attempt this many times (attempts = retries + 1)")
	cmd.Flags().StringArrayVar(&workers, "worker", nil, "run only on this worker id (repeatable: any of them)")
	cmd.Flags().StringArrayVar(&labels, "label", nil, "run only on workers with label k=v (repeatable: all of them)")
	crf = addCatalogRunFlags(cmd) // run_catalog.go
	q.register(cmd)
	addPlainFlag(cmd) // progress.go
	return cmd
}

// parseTargets builds the targeting part of a submission from --worker and
// --label flags.
func parseTargets(workers, labels []string) (api.SubmitRequest, error) {
	req := api.SubmitRequest{Workers: workers}
	for _, l := range labels {
		k, v, ok := strings.Cut(l, "=")
		if !ok || k == "" {
			return req, fmt.Errorf("--label %q: want key=value", l)
		}
		if req.Labels == nil {
			req.Labels = map[string]string{}
		}
		req.Labels[k] = v
	}
	return req, nil
}

func runRun(ctx context.Context, out io.Writer, cf *clientFlags, file string, kvs []string, wait bool, target api.SubmitRequest) error {
	if target.Retries < 0 {
		return exitf(exitUsage, "--retries must not be negative (got %d)", target.Retries)
	}
	src, err := os.ReadFile(file)
	if err != nil {
		return exitf(exitUsage, "read package: %v", err)
	}
	pkg, err := pkgspec.Parse(file, src)
	if err != nil {
		return exitf(exitUsage, "%v", err)
	}
	given, err := parseParams(kvs)
	if err != nil {
		return exitf(exitUsage, "%v", err)
	}
	if _, err := pkg.ResolveParams(given); err != nil {
		return exitf(exitUsage, "%s: %v", file, err)
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	req := target
	req.Package, req.File, req.Params = string(src), filepath.Base(file), given
	var id uint64
	err = retryTransient(sctx, func(ctx context.Context) (err error) {
		id, err = c.Executions().Submit(ctx, &req)
		return err
	})
	cancel()
	if err != nil {
		return apiErr(fmt.Errorf("submit %s: %w%s", file, err, mayExist(err, req.IdempotencyKey)))
	}
	return announce(ctx, out, c, id, wait)
}

// retryTransient calls submit until it succeeds, fails for good, or ctx
// ends. What a failover looks like from here is retried: no answer (the
// connection was refused or reset) and 502, 503, 504. The submission's
// idempotency key makes a retry of a submission that was in fact created
// return the same execution instead of a second one. When ctx ends in the
// middle of an attempt, the error is the last answer an agent gave (503 no
// leader, say), not the cut attempt's deadline: an agent did answer.
func retryTransient(ctx context.Context, submit func(context.Context) error) error {
	backoff := 100 * time.Millisecond
	var answered error // the last error that was an agent's answer
	for {
		err := submit(ctx)
		var ae *api.Error
		if errors.As(err, &ae) {
			answered = err
		}
		if err == nil || !transient(err) {
			if err != nil && answered != nil && ctx.Err() != nil && errors.Is(err, ctx.Err()) {
				return answered
			}
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 2*time.Second)
	}
}

// mayExist tells the user how to learn whether a submission that failed
// without a refusal (no answer, 5xx) was created after all: a request
// forwarded to the leader can commit as the client gives up on it.
func mayExist(err error, key string) string {
	var ae *api.Error
	if key == "" || (errors.As(err, &ae) && ae.StatusCode < 500) {
		return ""
	}
	return fmt.Sprintf(" (it may have been created all the same: the same command with --idempotency-key %s prints its id, or creates it once)", key)
}

func transient(err error) bool {
	var ae *api.Error
	if errors.As(err, &ae) {
		return ae.StatusCode == http.StatusBadGateway || ae.StatusCode == http.StatusServiceUnavailable || ae.StatusCode == http.StatusGatewayTimeout
	}
	return !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
}

// announce prints the id of a new execution and, with wait, streams its
// events until it ends; the exit code then follows its final status.
func announce(ctx context.Context, out io.Writer, c *api.Client, id uint64, wait bool) error {
	fmt.Fprintln(out, id)
	if !wait {
		return nil
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	status, err := followEvents(ctx, out, c, id, 0)
	if err != nil {
		return apiErr(err)
	}
	return statusExit(id, status)
}

// statusExit maps a terminal status to the exit code of --wait.
func statusExit(id uint64, status string) error {
	if status == api.StatusSucceeded {
		return nil
	}
	return exitf(exitFailed, "execution %d %s", id, status)
}

// followEvents prints events after `after` until the execution ends, and
// returns its final status.
func followEvents(ctx context.Context, out io.Writer, c *api.Client, id, after uint64) (string, error) {
	if liveWanted(out) { // progress.go
		return followLive(ctx, out, c, id, after)
	}
	for {
		rctx, cancel := context.WithTimeout(ctx, 70*time.Second)
		resp, err := c.Executions().Events(rctx, id, after, 1000, time.Minute)
		cancel()
		if err != nil {
			return "", err
		}
		for _, ev := range resp.Events {
			printEvent(out, ev)
		}
		after = resp.Next
		if resp.Ended {
			return resp.Status, nil
		}
	}
}

func printEvent(out io.Writer, ev api.Event) {
	task := ""
	if ev.Task != "" {
		task = "[" + ev.Task + "] "
	}
	fmt.Fprintf(out, "%s %-13s %s%s\n", ev.Time.Local().Format("15:04:05.000"), ev.Type, task, ev.Message)
}

// parseParams turns NAME=VALUE flags into a map.
func parseParams(kvs []string) (map[string]string, error) {
	out := map[string]string{}
	for _, kv := range kvs {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || name == "" {
			return nil, fmt.Errorf("--param %q: want NAME=VALUE", kv)
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("--param %s given twice", name)
		}
		out[name] = value
	}
	return out, nil
}
