//go:build !linux

package main

import "syscall"

// benchSysProcAttr: outside Linux there is no parent-death signal; the bench
// stops its agents itself.
func benchSysProcAttr() *syscall.SysProcAttr { return nil }
