// Command scaleout is SQL Server Integration Services Scale Out rebuilt as one
// binary: `scaleout agent` runs a cluster member (master when it leads, always
// a worker), the other subcommands are the client.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

// Exit codes shared by every subcommand.
const (
	exitOK        = 0
	exitFailed    = 1 // the execution failed, was canceled or ended unexpectedly; or a command failed
	exitUsage     = 2 // bad usage, invalid package or parameters, rejected request
	exitUnreached = 3 // the agent could not be reached or answered with a server error
)

// exitError carries an exit code through cobra.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return ""
	}
	return e.err.Error()
}
func (e *exitError) Unwrap() error { return e.err }

func exitf(code int, format string, args ...any) error {
	return &exitError{code: code, err: fmt.Errorf(format, args...)}
}

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	root := newRootCmd()
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil && ee.err.Error() != "" {
			fmt.Fprintln(os.Stderr, "Error:", ee.err)
		}
		return ee.code
	}
	// Everything else cobra returns is a usage problem: unknown command or
	// flag, wrong number of arguments.
	fmt.Fprintln(os.Stderr, "Error:", err)
	fmt.Fprintln(os.Stderr, "Run 'scaleout --help' for usage.")
	return exitUsage
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "scaleout",
		Short: "SSIS Scale Out as one binary: a replicated catalog and a cluster of workers",
		Long: `scaleout runs SSIS-style packages (workflows of tasks) on a cluster of identical
agents. Every agent is a Scale Out Worker; the Raft leader among the servers is
the Scale Out Master that owns the catalog and the execution queue.

Try it:
  scaleout agent --dev                      # one-node cluster on 127.0.0.1:8391
  scaleout run testdata/hello.yaml --wait   # in another terminal

Client commands find the agent through --address, else SCALEOUT_ADDR, else
` + "http://127.0.0.1:8391" + `.

Exit codes: 0 success; 1 the execution failed, was canceled or ended
unexpectedly (or the command failed); 2 usage or validation error;
3 the agent could not be reached.`,
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newAgentCmd(), newRunCmd(), newExecutionsCmd(), newCapsCmd(), newExecCmd(),
		newMembersCmd(), newWorkersCmd(), newOperatorCmd())
	root.AddCommand(newDeployCmd(), newFoldersCmd(), newProjectsCmd(), newPackagesCmd(), newEnvironmentsCmd(), newKeygenCmd(), newSchedulesCmd())
	root.AddCommand(newValidateCmd(), newBenchCmd(), newConvertCmd(), newImportCmd())
	return root
}
