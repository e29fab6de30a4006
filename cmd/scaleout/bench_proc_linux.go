package main

import "syscall"

// benchSysProcAttr makes the agents that `scaleout bench --local` starts die
// with it, even if it is killed itself.
func benchSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
