package tick

import "time"

// Every calls fn every interval until stop is closed; the first call comes
// one interval after the start. fn runs on the caller's goroutine, so a
// slow call delays the next one instead of overlapping it.
func Every(interval time.Duration, stop <-chan struct{}, fn func()) {
	EveryOrWhen(interval, stop, nil, func() bool { fn(); return true })
}

// EveryOrWhen is Every that also calls fn at once when wake delivers
// (a nil wake never does). fn returns false to end the loop.
func EveryOrWhen(interval time.Duration, stop, wake <-chan struct{}, fn func() bool) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		case <-wake:
		}
		if !fn() {
			return
		}
	}
}
