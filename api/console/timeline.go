package console

import (
	"math"
	"sort"
	"strings"
	"time"

	"github.com/scaleout/scaleout/api"
)

// Span is one run of one task in one attempt, from its pre_execute event to
// its post_execute event (Running while there is none yet).
type Span struct {
	Task    string
	Attempt int
	Start   time.Time
	End     time.Time
	Status  string // succeeded, failed, canceled, skipped, running
	Running bool
	// Left and Width place the bar in the timeline, in percent.
	Left, Width float64
}

// Duration is the span's length.
func (s Span) Duration() time.Duration { return s.End.Sub(s.Start) }

// Timeline is the Gantt chart of an execution: its task spans in start order.
type Timeline struct {
	Spans      []Span
	Start, End time.Time
	// Ticks are labels along the time axis, in percent of the width.
	Ticks []Tick
}

// Tick is one label of the time axis.
type Tick struct {
	Left  float64
	Label string
}

// buildTimeline derives task spans from events. now ends the spans still
// running (the execution's end time if it has ended).
func buildTimeline(evs []api.Event, now time.Time) Timeline {
	type key struct {
		task    string
		attempt int
	}
	open := map[key]int{}
	var spans []Span
	for _, ev := range evs {
		if ev.Task == "" {
			continue
		}
		k := key{ev.Task, ev.Attempt}
		switch ev.Type {
		case "pre_execute":
			open[k] = len(spans)
			spans = append(spans, Span{Task: ev.Task, Attempt: ev.Attempt, Start: ev.Time, Running: true, Status: "running"})
		case "post_execute":
			i, ok := open[k]
			if !ok { // skipped tasks end without starting
				spans = append(spans, Span{Task: ev.Task, Attempt: ev.Attempt, Start: ev.Time, End: ev.Time, Status: postStatus(ev.Message)})
				continue
			}
			delete(open, k)
			spans[i].End, spans[i].Running, spans[i].Status = ev.Time, false, postStatus(ev.Message)
		}
	}
	var tl Timeline
	for i := range spans {
		if spans[i].Running {
			spans[i].End = now
			if spans[i].End.Before(spans[i].Start) {
				spans[i].End = spans[i].Start
			}
		}
		if tl.Start.IsZero() || spans[i].Start.Before(tl.Start) {
			tl.Start = spans[i].Start
		}
		if spans[i].End.After(tl.End) {
			tl.End = spans[i].End
		}
	}
	sort.SliceStable(spans, func(i, j int) bool { return spans[i].Start.Before(spans[j].Start) })
	total := tl.End.Sub(tl.Start)
	for i := range spans {
		if total > 0 {
			spans[i].Left = 100 * float64(spans[i].Start.Sub(tl.Start)) / float64(total)
			spans[i].Width = 100 * float64(spans[i].Duration()) / float64(total)
		}
		if spans[i].Width < 0.5 { // a visible sliver for instant tasks
			spans[i].Width = 0.5
			if spans[i].Left > 99.5 {
				spans[i].Left = 99.5
			}
		}
	}
	tl.Spans = spans
	if total > 0 {
		for i := 0; i <= 4; i++ {
			tl.Ticks = append(tl.Ticks, Tick{Left: float64(i) * 25, Label: fmtDuration(total * time.Duration(i) / 4)})
		}
	}
	return tl
}

// postStatus reads a post_execute message: "succeeded in 12ms", "failed:
// ...", "canceled after 2s", "skipped: ...".
func postStatus(msg string) string {
	for _, s := range []string{"succeeded", "failed", "canceled", "skipped"} {
		if strings.HasPrefix(msg, s) {
			return s
		}
	}
	return "ended"
}

// Stats are the durations of a package's last runs (SSMS Execution Performance).
type Stats struct {
	N            int
	Mean, StdDev time.Duration
	Min, Max     time.Duration
}

func durationStats(ds []time.Duration) Stats {
	st := Stats{N: len(ds)}
	if len(ds) == 0 {
		return st
	}
	var sum float64
	st.Min, st.Max = ds[0], ds[0]
	for _, d := range ds {
		sum += float64(d)
		st.Min, st.Max = min(st.Min, d), max(st.Max, d)
	}
	mean := sum / float64(len(ds))
	var sq float64
	for _, d := range ds {
		sq += (float64(d) - mean) * (float64(d) - mean)
	}
	st.Mean = time.Duration(mean)
	// Population standard deviation, as SSMS's report computes STDEV over
	// the runs shown.
	st.StdDev = time.Duration(math.Sqrt(sq / float64(len(ds))))
	return st
}

// fmtDuration writes a duration the way a person reads it: 850ms, 12.3s
// (3s, not 3.0s), 4m05s, 2h03m; "-" for a negative one.
func fmtDuration(d time.Duration) string {
	if d < 0 {
		return "-"
	}
	s := api.FormatDuration(d)
	if t, ok := strings.CutSuffix(s, ".0s"); ok {
		s = t + "s"
	}
	return s
}
