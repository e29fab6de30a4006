//go:build unix

package executor

import (
	"errors"
	"os/exec"
	"syscall"
)

// terminate sends SIGTERM, or SIGKILL if force, to cmd's process group.
func terminate(cmd *exec.Cmd, force bool) error {
	sig := syscall.SIGTERM
	if force {
		sig = syscall.SIGKILL
	}
	if err := syscall.Kill(-cmd.Process.Pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return err
	}
	return nil
}
