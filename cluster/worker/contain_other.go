//go:build !linux

package worker

import (
	"errors"
	"os"
	"os/exec"
)

// Off Linux there are no cgroups and no /proc to tell a process's start
// time, so nothing is recorded that a restarted worker could kill safely:
// containment is the package process's own (process groups, and its
// killing of its tasks when its worker's pipe closes).

func cgroupBase(string) (string, error)   { return "", errors.ErrUnsupported }
func makeCgroup(string) (*os.File, error) { return nil, errors.ErrUnsupported }
func startInCgroup(*exec.Cmd, *os.File)   {}
func killCgroup(string) error             { return nil }
func cgroupPopulated(string) bool         { return false }
func removeCgroup(string)                 {}
func procStart(int) (uint64, error)       { return 0, errors.ErrUnsupported }
func killPid(int)                         {}

// CgroupsAvailable says why package processes cannot be contained by
// cgroup v2 here: cgroups exist on Linux only.
func CgroupsAvailable() error { return errors.ErrUnsupported }
