//go:build !lattrace

package lattrace

import "time"

// Stamp records stage for execution id (a no-op without -tags lattrace).
func Stamp(uint64, string) {}

// StampAt records stage for execution id at t.
func StampAt(uint64, string, time.Time) {}

// Now is time.Now with tracing, the zero time without.
func Now() time.Time { return time.Time{} }
