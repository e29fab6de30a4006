//go:build unix

package executor

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/scaleout/scaleout/catalog/pkgspec"
)

func TestMain(m *testing.M) {
	// Orphans of killed task groups must be reaped for their groups to
	// vanish; PID 1 of a container may not do it. See SetSubreaper.
	if err := SetSubreaper(); err != nil && !errors.Is(err, errors.ErrUnsupported) {
		fmt.Fprintln(os.Stderr, "SetSubreaper:", err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// recorder is a Sink that keeps every event.
type recorder struct {
	mu     sync.Mutex
	events []Event
}

func (r *recorder) Emit(e Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

func (r *recorder) all() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Event(nil), r.events...)
}

// of returns the events of type typ for task (any task if task is "*").
func (r *recorder) of(typ, task string) []Event {
	var out []Event
	for _, e := range r.all() {
		if e.Type == typ && (task == "*" || e.Task == task) {
			out = append(out, e)
		}
	}
	return out
}

// messages returns the messages of the events of type typ for task.
func (r *recorder) messages(typ, task string) []string {
	var out []string
	for _, e := range r.of(typ, task) {
		out = append(out, e.Message)
	}
	return out
}

// index returns the position of the first event of type typ for task, or -1.
func (r *recorder) index(typ, task string) int {
	for i, e := range r.all() {
		if e.Type == typ && e.Task == task {
			return i
		}
	}
	return -1
}

// has reports whether an event of type typ for task has a message
// containing substr.
func (r *recorder) has(typ, task, substr string) bool {
	for _, m := range r.messages(typ, task) {
		if strings.Contains(m, substr) {
			return true
		}
	}
	return false
}

// wantStdout fails the test (not at once) unless the stdout lines of task
// are want.
func (r *recorder) wantStdout(t *testing.T, task string, want ...string) {
	t.Helper()
	if got := r.messages(EventStdout, task); !slices.Equal(got, want) {
		t.Errorf("%s stdout = %q", task, got)
	}
}

// wantSkipped fails the test (not at once) unless the skipped tasks are
// want.
func (r *recorder) wantSkipped(t *testing.T, want ...string) {
	t.Helper()
	if got := r.skipped(); !slices.Equal(got, want) {
		t.Errorf("skipped = %q", got)
	}
}

func (r *recorder) String() string {
	var b strings.Builder
	for _, e := range r.all() {
		msg := e.Message
		if len(msg) > 100 {
			msg = fmt.Sprintf("%s... (%d bytes)", msg[:100], len(msg))
		}
		fmt.Fprintf(&b, "  %-12s %-8s %s\n", e.Type, e.Task, msg)
	}
	return b.String()
}

// poll waits up to timeout for cond, failing the test with what it waited
// for otherwise.
func poll(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		<-tick.C
	}
}

func groupGone(pgid int) bool {
	return errors.Is(syscall.Kill(-pgid, 0), syscall.ESRCH)
}

func waitGroupGone(t *testing.T, pgid int) {
	t.Helper()
	poll(t, 10*time.Second, fmt.Sprintf("process group %d to disappear", pgid), func() bool { return groupGone(pgid) })
}

// sampleProject returns the directory of the sample project
// testdata/projects/NAME and its package pkg, parsed.
func sampleProject(t *testing.T, name, pkg string) (string, *pkgspec.Package) {
	t.Helper()
	proj, err := filepath.Abs(filepath.Join("..", "testdata", "projects", name))
	if err != nil {
		t.Fatal(err)
	}
	p, err := pkgspec.ParseFile(PackagePath(proj, pkg))
	if err != nil {
		t.Fatal(err)
	}
	return proj, p
}

func mustParse(t *testing.T, src string) *pkgspec.Package {
	t.Helper()
	pkg, err := pkgspec.Parse(t.Name()+".yaml", []byte(src))
	if err != nil {
		t.Fatalf("Parse:\n%v", err)
	}
	return pkg
}

// pgids records the process groups reported through Options.OnProcess.
type pgids struct {
	mu      sync.Mutex
	started []int
	ended   []int
	goneAt  map[int]bool // whether the group was gone when reported ended
}

func (p *pgids) hook(pgid int, running bool) {
	gone := groupGone(pgid)
	p.mu.Lock()
	defer p.mu.Unlock()
	if running {
		p.started = append(p.started, pgid)
		return
	}
	p.ended = append(p.ended, pgid)
	if p.goneAt == nil {
		p.goneAt = map[int]bool{}
	}
	p.goneAt[pgid] = gone
}

func (p *pgids) first() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.started) == 0 {
		return 0
	}
	return p.started[0]
}
