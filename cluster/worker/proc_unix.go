//go:build unix

package worker

import (
	"errors"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
)

// stopSignals are the signals that ask a child to stop its package.
var stopSignals = []os.Signal{syscall.SIGTERM, syscall.SIGINT}

// ignoreSIGPIPE keeps the child alive when its worker is gone: a write to
// the dead worker's stdout pipe then fails instead of killing the process
// before it has stopped its tasks and killed what they left.
func ignoreSIGPIPE() { signal.Ignore(syscall.SIGPIPE) }

// setGroup makes the child lead a process group of its own, so that it and
// everything it starts can be killed together.
func setGroup(cmd *exec.Cmd) { cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} }

// askToStop sends the child SIGTERM: it stops its tasks and reports.
func askToStop(cmd *exec.Cmd, _ io.Closer) { _ = cmd.Process.Signal(syscall.SIGTERM) }

// killTree SIGKILLs the child's process group.
func killTree(p *os.Process) { _ = syscall.Kill(-p.Pid, syscall.SIGKILL) }

// killGroup SIGKILLs a task process group the child announced.
func killGroup(pgid int) { _ = syscall.Kill(-pgid, syscall.SIGKILL) }

// hasChildren reports whether this process has child processes left,
// reaping those that have exited (a child subreaper inherits orphans of its
// tasks; os/exec has waited for the tasks themselves by the time a run
// ends).
func hasChildren() bool {
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		switch {
		case errors.Is(err, syscall.EINTR):
			continue
		case errors.Is(err, syscall.ECHILD):
			return false
		case err != nil || pid == 0:
			return true // some are alive (or we cannot tell: assume so)
		}
	}
}
