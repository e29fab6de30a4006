package master

import (
	"fmt"
	"time"
	_ "time/tzdata" // --tz works on hosts without a zoneinfo database (containers)

	"github.com/robfig/cron/v3"
	"github.com/scaleout/scaleout/catalog"
)

// cronParser reads standard 5-field cron expressions and descriptors
// (@daily, @hourly, ...). Seconds are not accepted: use --every for
// sub-minute schedules.
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// timing computes a schedule's ticks. Cron expressions are evaluated in
// the schedule's time zone by robfig/cron: on a daylight-saving jump
// forward, a time that does not exist that day (02:30 in a skipped hour)
// does not fire that day; on a jump back, a time that occurs twice fires
// once, at its first occurrence (the wall-clock repeat is skipped), while
// patterns of every few minutes go on in real time through the repeated
// hour. Every and At are instants and ignore zones.
type timing struct {
	cron       cron.Schedule
	loc        *time.Location
	every      time.Duration
	anchor     time.Time // every: ticks at anchor + k*every
	at         *time.Time
	start, end *time.Time
}

// parseTiming checks and compiles a schedule's timing.
func parseTiming(s *catalog.Schedule) (*timing, error) {
	t := &timing{every: s.Every, at: s.At, start: s.Start, end: s.End, loc: time.UTC}
	if s.TZ != "" {
		loc, err := time.LoadLocation(s.TZ)
		if err != nil {
			return nil, fmt.Errorf("time zone %q: %v", s.TZ, err)
		}
		t.loc = loc
	}
	n := 0
	if s.Cron != "" {
		n++
		c, err := cronParser.Parse(s.Cron)
		if err != nil {
			return nil, fmt.Errorf("cron expression %q: %v", s.Cron, err)
		}
		t.cron = c
	}
	if s.Every != 0 {
		n++
		if s.Every < time.Second || s.Every%time.Second != 0 {
			return nil, fmt.Errorf("every %s: want whole seconds, at least 1s", s.Every)
		}
		if s.Start != nil {
			t.anchor = *s.Start
		} else {
			t.anchor = time.Unix(0, 0).UTC()
		}
	}
	if s.At != nil {
		n++
	}
	if n != 1 {
		return nil, fmt.Errorf("give exactly one of --cron, --every and --at")
	}
	if s.Start != nil && s.End != nil && s.End.Before(*s.Start) {
		return nil, fmt.Errorf("end %s is before start %s", s.End.Format(time.RFC3339), s.Start.Format(time.RFC3339))
	}
	return t, nil
}

const wallClock = "2006-01-02 15:04"

// next returns the first tick after a, or the zero time if there is none.
func (t *timing) next(a time.Time) time.Time {
	if t.start != nil && a.Before(t.start.Add(-time.Nanosecond)) {
		a = t.start.Add(-time.Nanosecond)
	}
	var n time.Time
	switch {
	case t.at != nil:
		if t.at.After(a) {
			n = *t.at
		}
	case t.every > 0:
		k := a.Sub(t.anchor) / t.every
		n = t.anchor.Add(k * t.every)
		for !n.After(a) {
			n = n.Add(t.every)
		}
	default:
		n = t.cron.Next(a.In(t.loc))
		// When clocks go back, robfig/cron fires a time of the repeated
		// hour twice; cron users expect once: skip the repeat of the
		// previous tick's wall-clock time.
		if !n.IsZero() && n.In(t.loc).Format(wallClock) == a.In(t.loc).Format(wallClock) {
			n = t.cron.Next(n)
		}
	}
	if n.IsZero() || (t.end != nil && n.After(*t.end)) {
		return time.Time{}
	}
	return n.UTC()
}

// ticks returns the ticks in (from, to], at most limit of them; more is
// true when there were more.
func (t *timing) ticks(from, to time.Time, limit int) (out []time.Time, more bool) {
	for n := t.next(from); !n.IsZero() && !n.After(to); n = t.next(n) {
		if len(out) == limit {
			return out, true
		}
		out = append(out, n)
	}
	return out, false
}

// upcoming returns the next n ticks after a.
func (t *timing) upcoming(a time.Time, n int) []time.Time {
	var out []time.Time
	for x := t.next(a); !x.IsZero() && len(out) < n; x = t.next(x) {
		out = append(out, x)
	}
	return out
}

// maxMissedCount bounds how many missed ticks are counted after a long
// downtime (the count is recorded as at least this many).
const maxMissedCount = 100_000

// due decides the ticks to fire now, oldest first, after last (the last
// tick fired, or the schedule's creation): ticks late by at most grace
// always fire (a leader change or a slow loop delays them, it does not lose
// them); older ones were missed (the cluster was down, or the schedule
// paused) and the catch-up policy decides: skip runs none, once runs the
// latest of them, all:N the latest N. missed counts the missed ticks that
// do not run (at most maxMissedCount); mark is the latest of them when none
// runs (skip), for the leader to record without a run.
func (t *timing) due(last, now time.Time, grace time.Duration, catchUp string) (fire []time.Time, missed uint64, mark time.Time, err error) {
	kind, n, err := catalog.ParseCatchUp(catchUp)
	if err != nil {
		return nil, 0, time.Time{}, err
	}
	// A tick late by exactly grace is on time: the missed ones are before.
	onTime := now.Add(-grace - time.Nanosecond)
	if last.After(onTime) {
		onTime = last
	}
	late, total := t.lastTicks(last, onTime, max(n, 1))
	if kind == "skip" {
		if len(late) > 0 {
			mark = late[len(late)-1]
		}
		late = nil
	}
	fire = append(fire, late...)
	missed = uint64(total - len(late))
	current, _ := t.ticks(onTime, now, 1000)
	return append(fire, current...), missed, mark, nil
}

// lastTicks returns the latest n ticks in (from, to] and how many there are
// (at most maxMissedCount), without walking a long downtime tick by tick
// more than once: a window back from to widens until it holds n.
func (t *timing) lastTicks(from, to time.Time, n int) (last []time.Time, total int) {
	for w := time.Minute; ; w *= 4 {
		start := to.Add(-w)
		whole := !start.After(from) || w > 400*24*time.Hour
		if whole {
			start = from
		}
		ts, _ := t.ticks(start, to, maxMissedCount)
		if len(ts) < n && !whole {
			continue
		}
		if len(ts) > n {
			ts = ts[len(ts)-n:]
		}
		all, more := t.ticks(from, to, maxMissedCount)
		total = len(all)
		if more {
			total = maxMissedCount
		}
		return ts, total
	}
}
