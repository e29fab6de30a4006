package worker

import (
	"fmt"
	"sync"
	"time"
)

// renewPrefix starts every Renew line (a job line starts with {"id":).
var renewPrefix = []byte(`{"renew_ms":`)

// fence is the child's side of the lease: the time until which the worker
// has said the attempt may run. The worker renews it after each answer of
// the master; a worker that cannot (frozen by SIGSTOP or a paused VM, cut
// off from the master) cannot stop the child either, so the child stops
// its run itself when the time has passed.
type fence struct {
	mu       sync.Mutex
	deadline time.Time // zero: no fence (the job set none)
	last     time.Time // when the worker was last heard (job or renewal)
	renewed  chan struct{}
}

func newFence() *fence { return &fence{renewed: make(chan struct{}, 1)} }

// start sets the fence of a new run: d from now, or none when d is 0.
func (f *fence) start(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.last = time.Now()
	f.deadline = time.Time{}
	if d > 0 {
		f.deadline = f.last.Add(d)
	}
}

// extend moves a set fence to d from now.
func (f *fence) extend(d time.Duration) {
	f.mu.Lock()
	if !f.deadline.IsZero() {
		f.last = time.Now()
		f.deadline = f.last.Add(d)
	}
	f.mu.Unlock()
	select {
	case f.renewed <- struct{}{}:
	default:
	}
}

// check reports an error once a set fence has passed: the worker has been
// silent past the lease, and nothing new may start.
func (f *fence) check() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.deadline.IsZero() && time.Now().After(f.deadline) {
		return fmt.Errorf("not started: the worker has not renewed this attempt for %s (its lease ran out; the execution may run elsewhere)", time.Since(f.last).Round(time.Millisecond))
	}
	return nil
}

// expired returns a channel that gets how long the worker had been silent
// once the fence has passed; nothing is sent if there is no fence or done
// is closed first.
func (f *fence) expired(done <-chan struct{}) <-chan time.Duration {
	out := make(chan time.Duration, 1)
	go func() {
		timer := time.NewTimer(time.Hour)
		defer timer.Stop()
		for {
			f.mu.Lock()
			deadline, last := f.deadline, f.last
			f.mu.Unlock()
			if deadline.IsZero() {
				return
			}
			left := time.Until(deadline)
			if left <= 0 {
				out <- time.Since(last)
				return
			}
			timer.Reset(left)
			select {
			case <-timer.C:
			case <-f.renewed: // (Go 1.23 timers: Reset needs no drain)
			case <-done:
				return
			}
		}
	}()
	return out
}
