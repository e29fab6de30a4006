package master

import (
	"testing"
	"time"

	"github.com/scaleout/scaleout/catalog"
)

func mustTiming(t *testing.T, s catalog.Schedule) *timing {
	t.Helper()
	tm, err := parseTiming(&s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

func TestTiming_Parse(t *testing.T) {
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, bad := range []catalog.Schedule{
		{Cron: "61 * * * *"}, {Cron: "* * * *"}, {Cron: "0 2 * * *", TZ: "Mars/Olympus"}, {Every: 1500 * time.Millisecond},
		{Every: time.Minute, Cron: "* * * * *"}, {}, {At: &at, Every: time.Second},
		{Every: time.Minute, Start: &at, End: func() *time.Time { e := at.Add(-time.Hour); return &e }()},
	} {
		if _, err := parseTiming(&bad); err == nil {
			t.Errorf("%+v: accepted", bad)
		}
	}
	for _, ok := range []catalog.Schedule{{Cron: "@daily"}, {Cron: "*/5 * * * 1-5", TZ: "Europe/Rome"}, {Every: 10 * time.Minute}, {At: &at}} {
		if _, err := parseTiming(&ok); err != nil {
			t.Errorf("%+v: %v", ok, err)
		}
	}
}

func TestTiming_NextAndBounds(t *testing.T) {
	base := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	ev := mustTiming(t, catalog.Schedule{Every: 10 * time.Minute})
	if got := ev.upcoming(base.Add(time.Second), 3); len(got) != 3 || !got[0].Equal(base.Add(10*time.Minute)) || !got[2].Equal(base.Add(30*time.Minute)) {
		t.Fatalf("every 10m: %v", got)
	}
	start, end := base.Add(3*time.Minute), base.Add(23*time.Minute)
	b := mustTiming(t, catalog.Schedule{Every: 10 * time.Minute, Start: &start, End: &end})
	if got := b.upcoming(base, 5); len(got) != 3 || !got[0].Equal(start) || !got[2].Equal(end) {
		t.Fatalf("every 10m from start to end: %v", got)
	}
	at := base.Add(time.Hour)
	o := mustTiming(t, catalog.Schedule{At: &at})
	if got := o.upcoming(base, 3); len(got) != 1 || !got[0].Equal(at) {
		t.Fatalf("at: %v", got)
	}
	if got := o.upcoming(at, 3); len(got) != 0 {
		t.Fatalf("at, after it: %v", got)
	}
}

// TestTiming_DaylightSaving documents what cron users get in a zone with
// daylight saving (Europe/Rome, 2026: forward on 29 March, back on 25
// October): 02:30 does not exist on 29 March and does not fire that day;
// on 25 October it exists twice and fires once; 03:30 fires every day.
func TestTiming_DaylightSaving(t *testing.T) {
	rome, err := time.LoadLocation("Europe/Rome") // embedded: time/tzdata
	if err != nil {
		t.Fatal(err)
	}
	tm := mustTiming(t, catalog.Schedule{Cron: "30 2 * * *", TZ: "Europe/Rome"})
	from := time.Date(2026, 3, 27, 12, 0, 0, 0, rome)
	var days []int
	for _, x := range tm.upcoming(from, 3) {
		days = append(days, x.In(rome).Day())
		if h := x.In(rome).Hour(); h != 2 {
			t.Fatalf("fired at %s", x.In(rome))
		}
	}
	if len(days) != 3 || days[0] != 28 || days[1] != 30 || days[2] != 31 {
		t.Fatalf("02:30 around the spring jump fired on days %v, want 28 30 31 (none on the 29th)", days)
	}
	from = time.Date(2026, 10, 24, 12, 0, 0, 0, rome)
	got := tm.upcoming(from, 3)
	if got[0].In(rome).Day() != 25 || got[1].In(rome).Day() != 26 {
		t.Fatalf("02:30 around the autumn jump: %v", got)
	}
	daily := mustTiming(t, catalog.Schedule{Cron: "30 3 * * *", TZ: "Europe/Rome"})
	if got := daily.upcoming(time.Date(2026, 3, 28, 12, 0, 0, 0, rome), 2); got[0].In(rome).Day() != 29 || got[1].Sub(got[0]) != 24*time.Hour {
		t.Fatalf("03:30 across the spring jump: %v", got)
	}
}

// TestTiming_DueCatchUp: a schedule every 2 s whose cluster was down for
// 20 s (10 ticks) fires per policy; ticks within the grace always fire.
func TestTiming_DueCatchUp(t *testing.T) {
	tm := mustTiming(t, catalog.Schedule{Every: 2 * time.Second})
	last := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	now := last.Add(21 * time.Second) // ticks at +2 .. +20: ten of them
	grace := 3 * time.Second          // +18 and +20 are on time
	cases := []struct {
		policy  string
		fire    []int // seconds after last
		missed  uint64
		hasMark bool
	}{
		{"skip", []int{18, 20}, 8, true},
		{"once", []int{16, 18, 20}, 7, false},
		{"all:3", []int{12, 14, 16, 18, 20}, 5, false},
		{"all:100", []int{2, 4, 6, 8, 10, 12, 14, 16, 18, 20}, 0, false},
	}
	for _, c := range cases {
		fire, missed, mark, err := tm.due(last, now, grace, c.policy)
		if err != nil {
			t.Fatal(err)
		}
		var secs []int
		for _, f := range fire {
			secs = append(secs, int(f.Sub(last)/time.Second))
		}
		if len(secs) != len(c.fire) || missed != c.missed || (!mark.IsZero()) != c.hasMark {
			t.Fatalf("%s: fire %v missed %d mark %v; want %v, %d", c.policy, secs, missed, mark, c.fire, c.missed)
		}
		for i := range secs {
			if secs[i] != c.fire[i] {
				t.Fatalf("%s: fire %v, want %v", c.policy, secs, c.fire)
			}
		}
		if c.hasMark && !mark.Equal(last.Add(16*time.Second)) {
			t.Fatalf("skip marks %v", mark)
		}
	}
	// Nothing due twice: after the last tick, nothing until the next.
	if fire, missed, mark, _ := tm.due(now.Add(-time.Second), now, grace, "all:5"); len(fire) != 0 || missed != 0 || !mark.IsZero() {
		t.Fatalf("due again: %v %d %v", fire, missed, mark)
	}
	if _, _, _, err := tm.due(last, now, grace, "all:0"); err == nil {
		t.Fatal("all:0 accepted")
	}
}

// TestTiming_LongDowntimeIsBounded: a 1 s schedule down for 30 days
// catches up its latest 5 ticks without walking its millions of ticks
// (the count of missed ones is bounded).
func TestTiming_LongDowntimeIsBounded(t *testing.T) {
	tm := mustTiming(t, catalog.Schedule{Every: time.Second})
	last := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	now := last.Add(30 * 24 * time.Hour)
	fire, missed, _, err := tm.due(last, now, 0, "all:5")
	if err != nil {
		t.Fatal(err)
	}
	// The 5 latest missed ticks, then the tick at now (on time).
	if len(fire) != 6 || !fire[4].Equal(now.Add(-time.Second)) || !fire[5].Equal(now) || missed != maxMissedCount-5 {
		t.Fatalf("fire %v missed %d", fire, missed)
	}
}
