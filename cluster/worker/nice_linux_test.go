package worker

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// niceOf reads the nice value of pid from /proc (field 19 of stat).
func niceOf(t *testing.T, pid int) int {
	t.Helper()
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	// The command name (field 2) may hold spaces: count after its ')'.
	f := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+2:]))
	n, err := strconv.Atoi(f[16]) // field 19 is the 17th after the name
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestLowerPriority: a package process gets the agent's nice value plus
// TaskNice, capped at 19; 0 leaves it alone.
func TestLowerPriority(t *testing.T) {
	own := niceOf(t, os.Getpid())
	for _, by := range []int{0, 5, 19} {
		cmd := exec.Command("sleep", "30")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lowerPriority(cmd.Process.Pid, by, nil)
		got := niceOf(t, cmd.Process.Pid)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		if want := min(own+by, 19); got != want {
			t.Errorf("TaskNice %d: the process runs at nice %d, want %d (the agent's is %d)", by, got, want, own)
		}
	}
}
