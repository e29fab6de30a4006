package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"

	"github.com/scaleout/scaleout/cluster/worker"
	"github.com/spf13/cobra"
)

// execProfileEnv names a directory into which each package process writes a
// CPU profile of its whole life (exec-PID.pprof), for profiling the package
// runtime over many attempts (docs/PERFORMANCE.md). The agent passes it on
// only when the operator names it with --task-env-allow.
const execProfileEnv = "SCALEOUT_EXEC_CPUPROFILE"

// newExecCmd is the hidden command a worker starts for each attempt, as SSIS
// starts ISServerExec: it reads a job on stdin and writes events on stdout.
func newExecCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "exec",
		Short:  "Run one attempt of a package (started by the worker; not for direct use)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dir := os.Getenv(execProfileEnv); dir != "" {
				stop, err := startExecProfile(dir)
				if err != nil {
					fmt.Fprintf(os.Stderr, "scaleout exec: %s: %v (running without a profile)\n", execProfileEnv, err)
				} else {
					defer stop()
				}
			}
			if code := worker.ChildMain(os.Stdin, os.Stdout); code != 0 {
				return &exitError{code: code, err: nil}
			}
			return nil
		},
	}
}

// startExecProfile starts a CPU profile into dir/exec-PID.pprof; stop ends
// it and closes the file.
func startExecProfile(dir string) (stop func(), err error) {
	f, err := os.Create(filepath.Join(dir, fmt.Sprintf("exec-%d.pprof", os.Getpid())))
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}
