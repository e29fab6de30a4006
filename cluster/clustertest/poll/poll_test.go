package poll

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// fatalT records a Fatalf instead of stopping the test.
type fatalT struct {
	testing.TB
	mu  sync.Mutex
	msg string
}

func (f *fatalT) Helper() {}
func (f *fatalT) Fatalf(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.msg = fmt.Sprintf(format, args...)
	panic(f) // Fatalf ends the caller, as t.Fatalf's Goexit does
}

func run(f *fatalT, fn func()) {
	defer func() {
		if r := recover(); r != nil && r != f {
			panic(r)
		}
	}()
	fn()
}

func TestUntil_ReturnsOnceTheConditionHolds(t *testing.T) {
	n := 0
	Until(t, 10*time.Second, "three calls", func() (bool, string) { n++; return n == 3, "" })
	if n != 3 {
		t.Fatalf("cond called %d times, want 3", n)
	}
}

func TestUntil_TimeoutNamesWhatAndLastSeen(t *testing.T) {
	f := &fatalT{TB: t}
	run(f, func() { Until(f, 30*time.Millisecond, "nothing", func() (bool, string) { return false, "still no" }) })
	if !strings.Contains(f.msg, "waiting for nothing") || !strings.Contains(f.msg, "last seen: still no") {
		t.Fatalf("message %q", f.msg)
	}
	f = &fatalT{TB: t}
	run(f, func() { True(f, 30*time.Millisecond, "never", func() bool { return false }) })
	if !strings.Contains(f.msg, "waiting for never") || strings.Contains(f.msg, "last seen") {
		t.Fatalf("message %q", f.msg)
	}
}
