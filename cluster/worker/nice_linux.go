package worker

import (
	"syscall"

	"github.com/hashicorp/go-hclog"
)

// lowerPriority sets the nice value of the package process pid to the
// agent's plus by (at most 19). What the process starts inherits it. The
// process may have run for a moment at the agent's priority; that is all.
func lowerPriority(pid, by int, logger hclog.Logger) {
	if by <= 0 {
		return
	}
	raw, err := syscall.Getpriority(syscall.PRIO_PROCESS, 0)
	if err != nil {
		return
	}
	own := 20 - raw // the Linux system call answers 20 - nice
	if err := syscall.Setpriority(syscall.PRIO_PROCESS, pid, min(own+by, 19)); err != nil && logger != nil {
		logger.Debug("cannot lower the package process's priority", "pid", pid, "error", err)
	}
}
