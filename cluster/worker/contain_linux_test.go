package worker

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/scaleout/scaleout/api"
)

// alive reports whether pid runs (a zombie, waiting for its reaper, does
// not).
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	return i < 0 || !strings.HasPrefix(strings.TrimSpace(string(b[i+1:])), "Z")
}

func waitGone(t *testing.T, what string, pid int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("%s (pid %d) still runs", what, pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// startBoxed starts script as a package process would be: its own process
// group, in a box of c. It returns the command and the pid the script
// printed on its first line: a process it started, which leads a process
// group of its own once this returns.
func startBoxed(t *testing.T, c *containment, script string) (*exec.Cmd, *box, int) {
	t.Helper()
	cmd := exec.Command("/bin/sh", "-c", script)
	setGroup(cmd)
	b := c.newBox(cmd)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	b.started(cmd.Process.Pid)
	t.Cleanup(func() { killGroup(cmd.Process.Pid); _ = cmd.Wait() })
	var line []byte
	buf := make([]byte, 1)
	for {
		if _, err := out.Read(buf); err != nil || buf[0] == '\n' {
			break
		}
		line = append(line, buf[0])
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(line)))
	if err != nil {
		t.Fatalf("first line %q: %v", line, err)
	}
	t.Cleanup(func() { killPid(pid) })
	// The script's process leaves the group (setsid) a moment after $!.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if pgid, err := syscall.Getpgid(pid); err == nil && pgid == pid {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %d did not lead a process group of its own", pid)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return cmd, b, pid
}

func cgroupContainment(t *testing.T, dir string) *containment {
	t.Helper()
	c, err := newContainment(dir, true, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	if c.cgroupDir() == "" {
		_, err := cgroupBase(dir)
		t.Skipf("no writable cgroup v2 here: %v", err)
	}
	t.Cleanup(func() { c.sweep(); c.close() })
	return c
}

// A process that left its package process's group with setsid is killed
// with the package process's cgroup once that has ended.
func TestContain_CgroupEndsWhatLeftTheGroup(t *testing.T) {
	c := cgroupContainment(t, t.TempDir())
	cmd, b, escaped := startBoxed(t, c, `setsid sleep 300 </dev/null >/dev/null 2>&1 & echo $!; wait`)
	if !alive(escaped) {
		t.Fatal("the setsid process did not start")
	}
	killGroup(cmd.Process.Pid) // what the worker does at a stop: the group only
	_ = cmd.Wait()
	if !alive(escaped) {
		t.Fatal("the setsid process died with the group; the test proves nothing")
	}
	b.release()
	waitGone(t, "the setsid process", escaped)
	if _, err := os.Stat(b.cgroup); !os.IsNotExist(err) {
		t.Fatalf("cgroup %s not removed: %v", b.cgroup, err)
	}
	if _, err := os.Stat(filepath.Join(c.dir, b.name)); !os.IsNotExist(err) {
		t.Fatalf("record not removed: %v", err)
	}
}

// A worker that starts again with the same data dir kills what an earlier
// run left in its cgroups, although it never saw those processes.
func TestContain_SweepEndsLeftoverCgroups(t *testing.T) {
	dir := t.TempDir()
	old := cgroupContainment(t, dir)
	cmd, _, escaped := startBoxed(t, old, `setsid sleep 300 </dev/null >/dev/null 2>&1 & echo $!; wait`)
	killGroup(cmd.Process.Pid) // the package process dies with its agent
	_ = cmd.Wait()
	if !alive(escaped) {
		t.Fatal("the setsid process died with the group; the test proves nothing")
	}
	// The next run (nothing of the old one is used but the data dir).
	if err := os.RemoveAll(filepath.Join(dir, "procs")); err != nil { // only the cgroups tell
		t.Fatal(err)
	}
	c := cgroupContainment(t, dir)
	if n := c.sweep(); n == 0 {
		t.Fatal("sweep found nothing to end")
	}
	waitGone(t, "the setsid process", escaped)
}

// Without cgroups the record in the data dir names the package process and
// its tasks' process groups: the next run kills those, and never a process
// that only reuses a recorded pid.
func TestContain_SweepEndsRecordedProcesses(t *testing.T) {
	dir := t.TempDir()
	old, err := newContainment(dir, false, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	// The "package process" starts a task in a process group of its own,
	// as the runtime does, and then both are orphaned (no release).
	cmd, b, task := startBoxed(t, old, `setsid sleep 300 </dev/null >/dev/null 2>&1 & echo $!; wait`)
	b.group(task)
	// A bystander whose pid is in a record with another start time: a
	// reused pid, which must survive.
	by := exec.Command("sleep", "300")
	if err := by.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = by.Process.Kill(); _ = by.Wait() })
	start, err := procStart(by.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "procs", "stale"), fmt.Appendf(nil, "pid %d %d\npgid 1 0\ntorn", by.Process.Pid, start+1), 0o600); err != nil {
		t.Fatal(err)
	}

	c, err := newContainment(dir, false, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	if n := c.sweep(); n != 2 {
		t.Errorf("sweep ended %d, want 2 (the package process and its task)", n)
	}
	waitGone(t, "the package process", cmd.Process.Pid)
	waitGone(t, "the task", task)
	if !alive(by.Process.Pid) {
		t.Fatal("a process whose pid was recorded with another start time was killed")
	}
	if left, _ := os.ReadDir(filepath.Join(dir, "procs")); len(left) != 0 {
		t.Fatalf("records left after the sweep: %v", left)
	}
}

// A start into a cgroup that fails (here: the "cgroup" is a plain
// directory) turns cgroups off and starts the package process without:
// the attempt runs.
func TestContain_StartFallsBackWithoutCgroup(t *testing.T) {
	f := &fakeMaster{}
	f.answer = func(int, api.PollRequest) (*api.PollResponse, int) { return nil, 200 }
	w := startWorker(t, f, 5*time.Second, func(c *Config) { c.WarmChildren = 0 })
	w.contain.mu.Lock()
	w.contain.base = t.TempDir()
	w.contain.mu.Unlock()
	if r := runPPID(t, f, 5); r.Status != api.StatusSucceeded {
		t.Fatalf("attempt after the cgroup failed: %+v", r)
	}
	if d := w.contain.cgroupDir(); d != "" {
		t.Fatalf("cgroups still on (%s) after a start into one failed", d)
	}
}

// What killed workers of data dirs that never came back left (an empty
// base with an empty cgroup in it) is removed by the next worker that
// starts; a live worker's running package process is not touched, and a
// live idle worker whose base went makes it again at its next start.
func TestContain_StaleBasesOfOtherDataDirsAreRemoved(t *testing.T) {
	c := cgroupContainment(t, t.TempDir())
	base := c.cgroupDir()
	parent := filepath.Dir(base)
	dead, err := os.MkdirTemp(parent, "scaleout-deadtest-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { removeCgroup(filepath.Join(dead, "c-1")); removeCgroup(dead) })
	if err := os.Mkdir(filepath.Join(dead, "c-1"), 0o755); err != nil {
		t.Fatal(err)
	}
	busy := cgroupContainment(t, t.TempDir())
	_, running, pid := startBoxed(t, busy, `setsid sleep 300 </dev/null >/dev/null 2>&1 & echo $!; wait`)
	idle := cgroupContainment(t, t.TempDir())

	removeStaleBases(parent, base, time.Now().Add(time.Hour)) // all of them count as old
	if _, err := os.Stat(dead); !os.IsNotExist(err) {
		t.Fatalf("the dead worker's base %s is still there: %v", dead, err)
	}
	if _, err := os.Stat(base); err != nil {
		t.Fatalf("the starting worker's own base went: %v", err)
	}
	if !alive(pid) || !cgroupPopulated(running.cgroup) {
		t.Fatal("a live worker's running package process or its cgroup was touched")
	}
	if _, err := os.Stat(idle.cgroupDir()); !os.IsNotExist(err) {
		t.Fatalf("the idle worker's empty base was kept (%v): the test does not show it is made again", err)
	}
	_, b, _ := startBoxed(t, idle, `setsid sleep 300 </dev/null >/dev/null 2>&1 & echo $!; wait`)
	if b.cgroup == "" || !cgroupPopulated(b.cgroup) || idle.cgroupDir() == "" {
		t.Fatalf("the idle worker's next package process is not in a cgroup (%q)", b.cgroup)
	}
}
