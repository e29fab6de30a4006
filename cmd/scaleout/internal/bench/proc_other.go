//go:build !linux

package bench

import "syscall"

// sysProcAttr: outside Linux there is no parent-death signal; the bench
// stops its agents itself.
func sysProcAttr() *syscall.SysProcAttr { return nil }
