//go:build unix && !linux

package executor

import (
	"errors"
	"os/exec"
	"syscall"
)

// setProcAttr makes cmd lead a new process group.
func setProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// SetSubreaper is only supported on Linux; elsewhere it returns
// errors.ErrUnsupported.
func SetSubreaper() error { return errors.ErrUnsupported }

// cleanupGroup kills what is left of process group pgid after its leader has
// been reaped, and reports whether anything was left.
func cleanupGroup(pgid int) bool {
	return !errors.Is(syscall.Kill(-pgid, syscall.SIGKILL), syscall.ESRCH)
}

// isSubreaper reports false: child subreapers are a Linux feature.
func isSubreaper() bool { return false }

// KillDescendants is only supported on Linux (it reads /proc); elsewhere
// what process groups miss is left running, and it returns 0.
func KillDescendants() int { return 0 }
