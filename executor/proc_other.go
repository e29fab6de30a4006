//go:build !unix

package executor

import (
	"errors"
	"os/exec"
)

// setProcAttr does nothing: process groups are a Unix feature.
func setProcAttr(*exec.Cmd) {}

// terminate kills cmd's process; without process groups its children
// survive.
func terminate(cmd *exec.Cmd, _ bool) error { return cmd.Process.Kill() }

// SetSubreaper is only supported on Linux; elsewhere it returns
// errors.ErrUnsupported.
func SetSubreaper() error { return errors.ErrUnsupported }

// cleanupGroup does nothing without process groups.
func cleanupGroup(int) bool { return false }

// KillDescendants is only supported on Linux (it reads /proc); elsewhere
// what process groups miss is left running, and it returns 0.
func KillDescendants() int { return 0 }
