package main

import (
	"os"

	"github.com/scaleout/scaleout/cluster/worker"
	"github.com/spf13/cobra"
)

// newExecCmd is the hidden command a worker starts for each attempt, as SSIS
// starts ISServerExec: it reads a job on stdin and writes events on stdout.
func newExecCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "exec",
		Short:  "Run one attempt of a package (started by the worker; not for direct use)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if code := worker.ChildMain(os.Stdin, os.Stdout); code != 0 {
				return &exitError{code: code, err: nil}
			}
			return nil
		},
	}
}
