package worker

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/go-hclog"
)

// Containment: every package process (`scaleout exec` child) the worker
// starts lives in a box, so that whatever it and its tasks start can be
// found and killed when it ends, is stopped, or outlives a killed agent:
//
//   - Where the kernel offers a writable cgroup v2 hierarchy (Linux, root or
//     a delegated subtree), each child is started inside a cgroup of its own
//     (CLONE_INTO_CGROUP, so nothing it starts can escape before it is
//     moved). Every descendant stays in it whatever it does (setsid, double
//     forks), and cgroup.kill ends them all at once. This is what Nomad's
//     executor does.
//   - Everywhere, a record in WorkDir/procs names the child's pid and the
//     process groups of its tasks, each with its start time (so a reused pid
//     is never signalled), and the child's cgroup.
//
// When a child has been reaped its box is emptied (cgroup.kill) and removed.
// A worker that starts (after its agent was killed, say) first sweeps what
// a previous run of the same data dir left: every record's processes and
// cgroup, and every cgroup under its base, before it reports anything to
// the master. Without cgroups, a process that left its task's process group
// while its package process was also dead (kill -9 of both) is out of reach;
// docs/semantics.md says so.
type containment struct {
	logger hclog.Logger
	dir    string // WorkDir/procs: one record per live child
	seq    atomic.Uint64

	mu     sync.Mutex
	base   string // the worker's cgroup v2 directory, "" when unavailable
	closed bool   // the worker has stopped: the last release removes base
}

// newContainment prepares dir and, unless cgroups is false or the platform
// has none, the worker's cgroup under its own (named after workDir, so that
// a restarted agent with the same data dir finds it again).
func newContainment(workDir string, cgroups bool, logger hclog.Logger) (*containment, error) {
	c := &containment{logger: logger, dir: filepath.Join(workDir, "procs")}
	if err := os.MkdirAll(c.dir, 0o700); err != nil {
		return nil, err
	}
	if cgroups {
		base, err := cgroupBase(workDir)
		if err != nil {
			logger.Info("package processes are contained by process groups and a pid record (no cgroup v2)", "reason", err)
		} else {
			c.base = base
			logger.Info("package processes are contained by cgroup v2", "cgroup", base)
		}
	}
	return c, nil
}

// cgroupDir reports the base in use ("" without cgroups).
func (c *containment) cgroupDir() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.base
}

// noCgroups turns cgroups off after they failed at a child's start.
func (c *containment) noCgroups(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.base != "" {
		c.logger.Warn("cannot start package processes in a cgroup; using process groups and a pid record", "cgroup", c.base, "error", err)
		c.base = ""
	}
}

// box is one child's containment.
type box struct {
	c      *containment
	name   string
	cgroup string   // its cgroup directory, or ""
	cgfd   *os.File // open on cgroup until the child has started
	mu     sync.Mutex
	rec    *os.File // its record, appended to; nil when none could be written
}

// newBox makes the box of a child about to start and prepares cmd to start
// inside it.
func (c *containment) newBox(cmd *exec.Cmd) *box {
	b := &box{c: c, name: fmt.Sprintf("c-%d-%d", os.Getpid(), c.seq.Add(1))}
	if base := c.cgroupDir(); base != "" {
		dir := filepath.Join(base, b.name)
		fd, err := makeCgroup(dir)
		if err != nil {
			c.noCgroups(err)
		} else {
			b.cgroup, b.cgfd = dir, fd
			startInCgroup(cmd, fd)
		}
	}
	return b
}

// startFailed undoes what newBox prepared when its command could not
// start. It reports whether the start was into a cgroup: cgroups are then
// off, and the caller starts a new command without.
func (b *box) startFailed() (retry bool) {
	b.closeFD()
	if b.cgroup == "" {
		return false
	}
	removeCgroup(b.cgroup)
	b.c.noCgroups(fmt.Errorf("starting a process in %s failed", b.cgroup))
	return true
}

func (b *box) closeFD() {
	if b.cgfd != nil {
		_ = b.cgfd.Close()
		b.cgfd = nil
	}
}

// started records the child's pid (and cgroup).
func (b *box) started(pid int) {
	b.closeFD()
	start, err := procStart(pid)
	if err != nil {
		return // it already died, or no /proc: nothing safe to record
	}
	f, err := os.OpenFile(filepath.Join(b.c.dir, b.name), os.O_CREATE|os.O_WRONLY|os.O_APPEND|os.O_TRUNC, 0o600)
	if err != nil {
		b.c.logger.Warn("cannot record a package process", "error", err)
		return
	}
	b.mu.Lock()
	b.rec = f
	b.mu.Unlock()
	if b.cgroup != "" {
		b.write("cgroup " + b.cgroup)
	}
	b.write(fmt.Sprintf("pid %d %d", pid, start))
}

// group records a task process group the child announced. (Not fsynced:
// the record must outlive the agent's process, not the machine, whose
// crash ends every process anyway.)
func (b *box) group(pgid int) {
	if start, err := procStart(pgid); err == nil {
		b.write(fmt.Sprintf("pgid %d %d", pgid, start))
	}
}

func (b *box) write(line string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.rec != nil {
		_, _ = b.rec.WriteString(line + "\n")
	}
}

// release is called once the child was reaped: whatever is left in its
// cgroup is killed, and the cgroup and the record are removed.
func (b *box) release() {
	b.closeFD()
	if b.cgroup != "" {
		if err := killCgroup(b.cgroup); err != nil {
			b.c.logger.Warn("package process's cgroup not emptied", "cgroup", b.cgroup, "error", err)
			b.mu.Lock()
			if b.rec != nil {
				_ = b.rec.Close() // keep the record itself: the next start sweeps it
				b.rec = nil
			}
			b.mu.Unlock()
			return
		}
		removeCgroup(b.cgroup)
		b.c.removeBase() // a child that ended after its worker stopped
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.rec != nil {
		_ = b.rec.Close()
		b.rec = nil
		_ = os.Remove(filepath.Join(b.c.dir, b.name))
	}
}

// close removes the worker's cgroup directory when nothing is left in it
// (best effort: a child still being reaped keeps it for the next sweep).
func (c *containment) close() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.removeBase()
}

// removeBase removes the worker's cgroup directory once the worker has
// stopped and nothing is left in it (rmdir refuses a directory that still
// holds a child's cgroup).
func (c *containment) removeBase() {
	c.mu.Lock()
	base, closed := c.base, c.closed
	c.mu.Unlock()
	if closed && base != "" {
		removeCgroup(base)
	}
}

// sweep kills what an earlier run of this worker (same data dir) left:
// the processes and cgroups its records name, then any cgroup under the
// base. It returns how many processes and cgroups it ended.
func (c *containment) sweep() int {
	ended := 0
	names, err := os.ReadDir(c.dir)
	if err != nil {
		c.logger.Warn("cannot read the package process records", "dir", c.dir, "error", err)
	}
	for _, e := range names {
		path := filepath.Join(c.dir, e.Name())
		n, err := sweepRecord(path)
		ended += n
		if err != nil {
			c.logger.Warn("package process record not swept", "record", path, "error", err)
			continue
		}
		_ = os.Remove(path)
	}
	if base := c.cgroupDir(); base != "" {
		subs, _ := os.ReadDir(base)
		for _, e := range subs {
			if !e.IsDir() {
				continue
			}
			dir := filepath.Join(base, e.Name())
			if cgroupPopulated(dir) {
				ended++
			}
			if err := killCgroup(dir); err != nil {
				c.logger.Warn("cgroup of an earlier package process not emptied", "cgroup", dir, "error", err)
				continue
			}
			removeCgroup(dir)
		}
	}
	if ended > 0 {
		c.logger.Warn("killed what package processes of an earlier run left", "count", ended)
	}
	return ended
}

// sweepRecord kills the processes and cgroup one record names: a pid or
// process group only while its leader is the process recorded (same start
// time), never a reused pid.
func sweepRecord(path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	ended := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		switch {
		case len(fields) == 2 && fields[0] == "cgroup":
			if cgroupPopulated(fields[1]) {
				ended++
			}
			if err := killCgroup(fields[1]); err != nil {
				return ended, err
			}
			removeCgroup(fields[1])
		case len(fields) == 3 && (fields[0] == "pid" || fields[0] == "pgid"):
			pid, err1 := strconv.Atoi(fields[1])
			start, err2 := strconv.ParseUint(fields[2], 10, 64)
			if err1 != nil || err2 != nil || pid <= 1 {
				continue // a torn last line
			}
			if now, err := procStart(pid); err == nil && now == start {
				killGroup(pid) // a child and a task each lead their group
				killPid(pid)
				ended++
			}
		}
	}
	if err := sc.Err(); err != nil && !errors.Is(err, bufio.ErrTooLong) {
		return ended, err
	}
	return ended, nil
}
