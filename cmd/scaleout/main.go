// Command scaleout is SQL Server Integration Services Scale Out rebuilt as one
// binary: `scaleout agent` runs a cluster member (master when it leads, always
// a worker), the other subcommands are the client.
package main

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// Exit codes shared by every subcommand.
const (
	exitOK        = 0
	exitFailed    = 1 // the execution failed, was canceled or ended unexpectedly; or a command failed
	exitUsage     = 2 // bad usage, invalid package or parameters, rejected request
	exitUnreached = 3 // no agent answered: it could not be reached
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

// version is set at build time with -ldflags "-X main.version=..." (make:
// git describe); a plain go build in a checkout gets the module version Go
// stamps from the commit (buildVersion).
var version = "dev"

func init() { version, buildCommit = buildVersion(version) }

// buildCommit is the commit the binary was built from (12 hex digits, +dirty
// for uncommitted changes): set by make with -ldflags "-X
// main.buildCommit=...", else read from what go build recorded (not with
// -buildvcs=false), else "unknown".
var buildCommit = ""

// buildVersion reads what the Go toolchain recorded in the binary.
func buildVersion(v string) (string, string) {
	commit := buildCommit
	bi, ok := debug.ReadBuildInfo()
	if !ok || commit != "" {
		return v, cmp.Or(commit, "unknown")
	}
	commit = "unknown"
	if v == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		v = bi.Main.Version
	}
	dirty := false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			commit = s.Value[:min(12, len(s.Value))]
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if dirty && commit != "unknown" {
		commit += "+dirty"
	}
	return v, commit
}

// versionLine is what --version prints after "scaleout version ".
func versionLine() string {
	return fmt.Sprintf("%s (commit %s, %s %s/%s)", version, buildCommit, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

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
unexpectedly, or the command failed (the agent's answer says why: "no
leader", say); 2 usage or validation error; 3 no agent answered (it could
not be reached).`,
		Version:       versionLine(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newAgentCmd(), newRunCmd(), newExecutionsCmd(), newCapsCmd(), newExecCmd(),
		newMembersCmd(), newWorkersCmd(), newOperatorCmd())
	root.AddCommand(newDeployCmd(), newFoldersCmd(), newProjectsCmd(), newPackagesCmd(), newEnvironmentsCmd(), newKeygenCmd(), newSchedulesCmd())
	root.AddCommand(newValidateCmd(), newBenchCmd(), newConvertCmd(), newImportCmd(), newTLSCmd(), newStatusCmd())
	root.AddCommand(newACLCmd(), newOperationsCmd())
	return root
}
