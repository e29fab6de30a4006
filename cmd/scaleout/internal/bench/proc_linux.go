package bench

import "syscall"

// sysProcAttr makes the agents that `scaleout bench --local` starts die
// with it, even if it is killed itself.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
