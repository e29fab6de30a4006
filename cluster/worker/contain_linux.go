package worker

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// cgroupBase finds the cgroup v2 hierarchy and this process's cgroup in it,
// and makes the worker's directory below that, named after workDir. It
// fails where there is no cgroup v2, it is read-only (most containers), or
// the kernel has no cgroup.kill (before 5.14).
func cgroupBase(workDir string) (string, error) {
	mount, err := cgroup2Mount()
	if err != nil {
		return "", err
	}
	own, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return "", err
	}
	var path string
	found := false
	for _, line := range strings.Split(string(own), "\n") {
		if p, ok := strings.CutPrefix(line, "0::"); ok {
			path, found = p, true
		}
	}
	if !found {
		return "", errors.New("this process is in no cgroup v2")
	}
	abs, err := filepath.Abs(workDir)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(abs))
	parent := filepath.Join(mount, path)
	base := filepath.Join(parent, fmt.Sprintf("scaleout-%x", sum[:6]))
	removeStaleBases(parent, base, time.Now().Add(-staleBaseAge))
	if err := os.Mkdir(base, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return "", err
	}
	if _, err := os.Stat(filepath.Join(base, "cgroup.kill")); err != nil {
		removeCgroup(base)
		return "", fmt.Errorf("no cgroup.kill (Linux 5.14 or later is needed): %w", err)
	}
	return base, nil
}

// cgroup2Mount is where the cgroup v2 hierarchy is mounted (from
// /proc/self/mountinfo: a unified or a hybrid system).
func cgroup2Mount() (string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// ID parent major:minor root mountpoint options [optional...] - fstype source superoptions
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		fields, typ := strings.Fields(pre), strings.Fields(post)
		if len(fields) >= 5 && len(typ) > 0 && typ[0] == "cgroup2" {
			return fields[4], nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	return "", errors.New("no cgroup2 file system is mounted")
}

// staleBaseAge is how old an empty worker cgroup of another data dir must
// be before a starting worker removes it.
const staleBaseAge = 10 * time.Minute

// removeStaleBases removes what workers of other data dirs left under
// parent when their agent was killed and the data dir never came back (a
// worker sweeps only its own base): every empty cgroup below a
// "scaleout-*" sibling of base created before cutoff, then the sibling
// itself. rmdir refuses a cgroup that holds a process or a cgroup, so a
// live worker's running children are never touched; a live worker whose
// idle base goes is not harmed either: makeCgroup makes it again.
func removeStaleBases(parent, base string, cutoff time.Time) {
	entries, err := os.ReadDir(parent)
	if err != nil {
		return
	}
	old := func(dir string) bool {
		fi, err := os.Stat(dir)
		return err == nil && fi.IsDir() && fi.ModTime().Before(cutoff)
	}
	for _, e := range entries {
		dir := filepath.Join(parent, e.Name())
		if !e.IsDir() || !strings.HasPrefix(e.Name(), "scaleout-") || dir == base || !old(dir) {
			continue
		}
		subs, _ := os.ReadDir(dir)
		for _, sub := range subs {
			if d := filepath.Join(dir, sub.Name()); sub.IsDir() && old(d) {
				removeCgroup(d)
			}
		}
		removeCgroup(dir)
	}
}

// makeCgroup creates dir and opens it for CLONE_INTO_CGROUP. The worker's
// base (dir's parent) is made again if it went (removeStaleBases of
// another worker took it while it was idle and old).
func makeCgroup(dir string) (*os.File, error) {
	err := os.Mkdir(dir, 0o755)
	if errors.Is(err, os.ErrNotExist) {
		if err = os.Mkdir(filepath.Dir(dir), 0o755); err == nil || errors.Is(err, os.ErrExist) {
			err = os.Mkdir(dir, 0o755)
		}
	}
	if err != nil && !errors.Is(err, os.ErrExist) {
		return nil, err
	}
	f, err := os.Open(dir)
	if err != nil {
		removeCgroup(dir)
		return nil, err
	}
	return f, nil
}

// startInCgroup makes cmd start inside the cgroup fd is open on (nil:
// not in a cgroup). It must run after setGroup.
func startInCgroup(cmd *exec.Cmd, fd *os.File) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.UseCgroupFD = fd != nil
	cmd.SysProcAttr.CgroupFD = 0
	if fd != nil {
		cmd.SysProcAttr.CgroupFD = int(fd.Fd())
	}
}

// cgroupEmptyWait bounds how long killCgroup waits for the kernel to empty
// a cgroup after cgroup.kill.
const cgroupEmptyWait = 5 * time.Second

// killCgroup SIGKILLs every process in dir and waits until it is empty. A
// cgroup that no longer exists is empty.
func killCgroup(dir string) error {
	if !cgroupPopulated(dir) {
		return nil
	}
	if err := os.WriteFile(filepath.Join(dir, "cgroup.kill"), []byte("1"), 0); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return err
	}
	deadline := time.Now().Add(cgroupEmptyWait)
	for cgroupPopulated(dir) {
		if time.Now().After(deadline) {
			return fmt.Errorf("%s still has processes %s after cgroup.kill", dir, cgroupEmptyWait)
		}
		time.Sleep(5 * time.Millisecond) // the kernel empties it asynchronously; no event to wait on without inotify
	}
	return nil
}

// cgroupPopulated reports whether dir (or a cgroup below it) has a process.
func cgroupPopulated(dir string) bool {
	b, err := os.ReadFile(filepath.Join(dir, "cgroup.events"))
	if err != nil {
		return false
	}
	return bytes.Contains(b, []byte("populated 1"))
}

// removeCgroup removes an empty cgroup directory (errors are ignored: a
// populated or vanished one stays for the next sweep).
func removeCgroup(dir string) { _ = syscall.Rmdir(dir) }

// procStart is pid's start time (clock ticks after boot, field 22 of
// /proc/PID/stat): with the pid, it names one process for good.
func procStart(pid int) (uint64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	i := bytes.LastIndexByte(b, ')') // the command name may hold spaces and parentheses
	if i < 0 {
		return 0, errors.New("unreadable /proc stat")
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return 0, errors.New("short /proc stat")
	}
	return strconv.ParseUint(f[19], 10, 64) // field 22; f[0] is field 3
}

// killPid SIGKILLs one process.
func killPid(pid int) { _ = syscall.Kill(pid, syscall.SIGKILL) }

// CgroupsAvailable says why package processes cannot be contained by
// cgroup v2 on this machine (nil: they can, as `--cgroups` wants): it makes
// a worker base for a probe and removes it again.
func CgroupsAvailable() error {
	base, err := cgroupBase(filepath.Join(os.TempDir(), fmt.Sprintf("scaleout-probe-%d", os.Getpid())))
	if err == nil {
		removeCgroup(base)
	}
	return err
}
