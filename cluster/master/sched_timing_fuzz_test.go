package master

import (
	"testing"
	"time"

	"github.com/scaleout/scaleout/catalog"
)

// FuzzScheduleTiming: any cron expression, time zone and interval is
// refused with an error or compiles into a timing whose ticks move
// strictly forward; nothing panics or loops.
func FuzzScheduleTiming(f *testing.F) {
	for _, s := range []struct {
		cron, tz string
		every    int64
	}{
		{"*/5 * * * *", "", 0}, {"30 2 * * *", "Europe/Berlin", 0}, {"@daily", "America/New_York", 0},
		{"0 0 29 2 *", "UTC", 0}, {"", "", 60}, {"", "Asia/Kolkata", 1}, {"61 * * * *", "", 0},
		{"* * * * * *", "", 0}, {"0 0 31 4 *", "", 0}, {"", "Not/AZone", 3600}, {"@every 1m", "", 0},
	} {
		f.Add(s.cron, s.tz, s.every)
	}
	from := time.Date(2026, 3, 29, 0, 30, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, cron, tz string, everySec int64) {
		sch := &catalog.Schedule{Cron: cron, TZ: tz}
		if everySec != 0 {
			sch.Every = time.Duration(everySec) * time.Second
		}
		tm, err := parseTiming(sch)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		a := from
		for range 5 {
			n := tm.next(a)
			if n.IsZero() {
				return
			}
			if !n.After(a) {
				t.Fatalf("cron %q tz %q every %ds: tick %s is not after %s", cron, tz, everySec, n, a)
			}
			a = n
		}
	})
}
