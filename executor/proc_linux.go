//go:build linux

package executor

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"
)

// prctl options, from <linux/prctl.h>.
const (
	prSetChildSubreaper = 36
	prGetChildSubreaper = 37
)

// reapTimeout bounds how long cleanupGroup waits for the orphans of a
// killed process group to be reaped.
const reapTimeout = 5 * time.Second

// setProcAttr makes cmd lead a new process group and die with the thread
// that started it. (Pdeathsig follows the OS thread, not the process; the
// Go runtime does not end threads that started children unless they were
// locked with runtime.LockOSThread, which the executor never does.)
func setProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// SetSubreaper makes the calling process a child subreaper
// (PR_SET_CHILD_SUBREAPER), so that orphaned descendants are reparented to
// it rather than to PID 1, and Run can reap what is left of each task's
// process group. Call it once at start-up; it affects the whole process.
func SetSubreaper() error {
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0); errno != 0 {
		return errno
	}
	return nil
}

func isSubreaper() bool {
	var v int32
	_, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, prGetChildSubreaper, uintptr(unsafe.Pointer(&v)), 0)
	return errno == 0 && v != 0
}

// cleanupGroup kills what is left of process group pgid after its leader has
// been reaped, and reports whether anything was left. If this process is a
// child subreaper it also reaps the group's orphans, waiting up to
// reapTimeout for the group to disappear.
func cleanupGroup(pgid int) bool {
	if errors.Is(syscall.Kill(-pgid, syscall.SIGKILL), syscall.ESRCH) {
		return false
	}
	if !isSubreaper() {
		return true
	}
	deadline := time.Now().Add(reapTimeout)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		// Only orphans reparented to us match: the leader is reaped
		// already, and a live group's ID cannot be reused.
		var ws syscall.WaitStatus
		for {
			pid, err := syscall.Wait4(-pgid, &ws, syscall.WNOHANG, nil)
			if errors.Is(err, syscall.EINTR) {
				continue
			}
			if pid <= 0 || err != nil {
				break
			}
		}
		if !groupExists(pgid) || time.Now().After(deadline) {
			return true
		}
		// Members still alive may have forked after the first SIGKILL.
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-tick.C
	}
}

// groupExists reports whether process group pgid has any member left,
// zombies included.
func groupExists(pgid int) bool {
	return !errors.Is(syscall.Kill(-pgid, 0), syscall.ESRCH)
}

// KillDescendants SIGKILLs every process left below this one and reaps
// them, waiting up to reapTimeout, and returns how many it killed. Called
// when a run has ended by a process that is a child subreaper
// (SetSubreaper), it catches what process groups miss: processes a task
// moved to a session or group of their own (setsid) and daemons that
// forked twice, which were reparented to this process. A process forking
// while it is killed is caught in the next round. Without the subreaper it
// still kills the descendants whose parents are alive.
func KillDescendants() int {
	// The common case costs one system call: with no child left there is
	// no descendant either (an orphan's tree hangs below this subreaper),
	// and /proc is not read.
	var ws syscall.WaitStatus
	if _, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil); errors.Is(err, syscall.ECHILD) {
		return 0
	}
	self := os.Getpid()
	killed := map[int]bool{}
	deadline := time.Now().Add(reapTimeout)
	for {
		left := descendants(self)
		for _, pid := range left {
			if syscall.Kill(pid, syscall.SIGKILL) == nil {
				killed[pid] = true
			}
		}
		reapChildren()
		if len(left) == 0 || time.Now().After(deadline) {
			return len(killed)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// descendants lists the processes below pid, read from /proc.
func descendants(pid int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	kids := map[int][]int{}
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue // exited meanwhile
		}
		// pid (comm) state ppid ...; comm may hold spaces and parentheses.
		rest := stat[bytes.LastIndexByte(stat, ')')+1:]
		f := strings.Fields(string(rest))
		if len(f) < 2 || f[0] == "Z" || f[0] == "X" {
			continue // zombies are reaped, not killed
		}
		if ppid, err := strconv.Atoi(f[1]); err == nil {
			kids[ppid] = append(kids[ppid], p)
		}
	}
	var out []int
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, k := range kids[p] {
			out = append(out, k)
			queue = append(queue, k)
		}
	}
	return out
}

// reapChildren waits for every child that has exited, without blocking.
func reapChildren() {
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if pid <= 0 || err != nil {
			return
		}
	}
}
