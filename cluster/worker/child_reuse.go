package worker

import (
	"os"
	"runtime"
	"runtime/metrics"
	"time"
)

// baseline is what a waiting child holds before its first job: a run that
// leaves more behind (a goroutine stuck in a driver call, an open file, a
// large heap) makes the child exit after its result instead of taking
// another job, so that the next attempt starts as clean as in a fresh
// process.
type baseline struct {
	goroutines int
	fds        int // -1 where open descriptors cannot be counted
}

// maxReuseHeap is the heap a child may keep in use and still take another
// job; beyond it the child exits and gives the memory back.
const maxReuseHeap = 64 << 20

// settleWait is how long a child waits after a run for the run's
// goroutines to end before it decides it cannot be reused.
const settleWait = 200 * time.Millisecond

// takeBaseline records the baseline. It first opens and closes a pipe so
// that the runtime's poller, which the first run would otherwise create
// (and keep), is already counted.
func takeBaseline() baseline {
	if r, w, err := os.Pipe(); err == nil {
		_ = r.Close()
		_ = w.Close()
	}
	return baseline{goroutines: runtime.NumGoroutine(), fds: openFDs()}
}

// unchanged reports whether the process is back to its baseline: no child
// processes left, no more goroutines (waiting up to settleWait for the
// run's to end), no more open descriptors, and a heap in use under
// maxReuseHeap.
func (b baseline) unchanged() bool {
	if hasChildren() {
		return false
	}
	deadline := time.Now().Add(settleWait)
	for runtime.NumGoroutine() > b.goroutines {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(time.Millisecond)
	}
	if b.fds >= 0 && openFDs() > b.fds {
		return false
	}
	return heapInUse() < maxReuseHeap
}

// heapInUse is the heap held in spans in use (MemStats.HeapInuse), read
// from runtime/metrics: runtime.ReadMemStats stops the world, and doing so
// after every attempt was 7 % of a reused package process's CPU.
func heapInUse() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/memory/classes/heap/unused:bytes"}}
	metrics.Read(s)
	var n uint64
	for _, v := range s {
		if v.Value.Kind() == metrics.KindUint64 {
			n += v.Value.Uint64()
		}
	}
	return n
}

// openFDs counts this process's open descriptors (-1 if it cannot: no
// /proc/self/fd or /dev/fd on this platform).
func openFDs() int {
	for _, dir := range []string{"/proc/self/fd", "/dev/fd"} {
		if ents, err := os.ReadDir(dir); err == nil {
			return len(ents) - 1 // the directory being read
		}
	}
	return -1
}
