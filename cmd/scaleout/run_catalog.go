package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/scaleout/scaleout/api"
	"github.com/spf13/cobra"
)

// catalogRunFlags are the flags of `run FOLDER/PROJECT/PACKAGE`.
type catalogRunFlags struct {
	env          string
	loggingLevel string
}

func addCatalogRunFlags(cmd *cobra.Command) *catalogRunFlags {
	f := &catalogRunFlags{}
	fl := cmd.Flags()
	fl.StringVar(&f.env, "env", "", "deployed packages: environment to take values from, NAME (the project's folder) or FOLDER/NAME; the project must reference it")
	fl.StringVar(&f.loggingLevel, "logging-level", "", "deployed packages: none, basic, performance or verbose (default: the agent's, basic)")
	return f
}

// isCatalogPath reports whether arg names a deployed package rather than a
// package file: an argument naming an existing file is always a file.
func isCatalogPath(arg string) bool {
	if _, err := os.Stat(arg); err == nil {
		return false
	}
	parts := strings.Split(arg, "/")
	return len(parts) == 3 && parts[0] != "" && parts[1] != "" && parts[2] != "" && !strings.HasSuffix(arg, ".yaml") && !strings.HasSuffix(arg, ".yml")
}

// runCatalog creates an execution of a deployed package.
func runCatalog(ctx context.Context, out io.Writer, cf *clientFlags, path string, kvs []string, wait bool, target api.SubmitRequest, f *catalogRunFlags) error {
	if target.Retries < 0 {
		return exitf(exitUsage, "--retries must not be negative (got %d)", target.Retries)
	}
	parts, err := splitPath(path, 3, "FOLDER/PROJECT/PACKAGE")
	if err != nil {
		return err
	}
	given, err := parseParams(kvs)
	if err != nil {
		return exitf(exitUsage, "%v", err)
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	var id uint64
	err = retryTransient(sctx, func(ctx context.Context) (err error) {
		id, err = c.Projects(parts[0]).Execute(ctx, parts[1], parts[2], &api.CreateExecutionRequest{
			Environment: f.env, Params: given, LoggingLevel: f.loggingLevel, Retries: target.Retries,
			TargetWorkers: target.Workers, TargetLabels: target.Labels, QueueOptions: target.QueueOptions,
		})
		return err
	})
	cancel()
	if err != nil {
		return apiErr(fmt.Errorf("run %s: %w%s", path, err, mayExist(err, target.IdempotencyKey)))
	}
	return announce(ctx, out, c, id, wait)
}

// eventFilter keeps the events whose type is in types (all when empty).
type eventFilter []string

func (f eventFilter) keep(ev api.Event) bool {
	if len(f) == 0 {
		return true
	}
	for _, t := range f {
		if t == ev.Type {
			return true
		}
	}
	return false
}

// followEventsOf is followEvents printing only the events f keeps.
func followEventsOf(ctx context.Context, out io.Writer, c *api.Client, id uint64, f eventFilter) error {
	var after uint64
	for {
		rctx, cancel := context.WithTimeout(ctx, 70*time.Second)
		resp, err := c.Executions().Events(rctx, id, after, 1000, time.Minute)
		cancel()
		if err != nil {
			return err
		}
		for _, ev := range resp.Events {
			if f.keep(ev) {
				printEvent(out, ev)
			}
		}
		after = resp.Next
		if resp.Ended {
			return nil
		}
	}
}
