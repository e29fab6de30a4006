package tick

import "time"

// Every calls fn every interval until stop is closed; the first call comes
// one interval after the start. fn runs on the caller's goroutine, so a
// slow call delays the next one instead of overlapping it.
func Every(interval time.Duration, stop <-chan struct{}, fn func()) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			fn()
		}
	}
}
