package console

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/scaleout/scaleout/api"
)

func TestBuildTimeline_SpansFromEvents(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	evs := []api.Event{
		{Type: "status_change", Time: at(0), Message: "pending -> running"},
		{Type: "pre_execute", Task: "a", Attempt: 1, Time: at(0)},
		{Type: "stdout", Task: "a", Attempt: 1, Time: at(0.5), Message: "hi"},
		{Type: "post_execute", Task: "a", Attempt: 1, Time: at(2), Message: "succeeded in 2s"},
		{Type: "pre_execute", Task: "b", Attempt: 1, Time: at(2)},
		{Type: "post_execute", Task: "b", Attempt: 1, Time: at(3), Message: "failed: exit status 1 in 1s"},
		{Type: "post_execute", Task: "c", Attempt: 1, Time: at(3), Message: `skipped: dependency "b" failed`},
		{Type: "pre_execute", Task: "a", Attempt: 2, Time: at(4)},
	}
	tl := buildTimeline(evs, at(8))
	if len(tl.Spans) != 4 {
		t.Fatalf("spans = %+v", tl.Spans)
	}
	want := []struct {
		task    string
		attempt int
		status  string
		dur     time.Duration
		left    float64
	}{{"a", 1, "succeeded", 2 * time.Second, 0}, {"b", 1, "failed", time.Second, 25}, {"c", 1, "skipped", 0, 37.5}, {"a", 2, "running", 4 * time.Second, 50}}
	for i, w := range want {
		s := tl.Spans[i]
		if s.Task != w.task || s.Attempt != w.attempt || s.Status != w.status || s.Duration() != w.dur || s.Left != w.left {
			t.Errorf("span %d = %+v (duration %s), want %+v", i, s, s.Duration(), w)
		}
	}
	if tl.Spans[0].Width != 25 || tl.Spans[2].Width != 0.5 {
		t.Errorf("widths = %v, %v; want 25 and the minimum 0.5", tl.Spans[0].Width, tl.Spans[2].Width)
	}
	if len(tl.Ticks) != 5 || tl.Ticks[4].Label != "8s" {
		t.Errorf("ticks = %+v", tl.Ticks)
	}
	if empty := buildTimeline(nil, at(1)); len(empty.Spans) != 0 || len(empty.Ticks) != 0 {
		t.Errorf("no events: %+v", empty)
	}
}

func TestDurationStats(t *testing.T) {
	st := durationStats([]time.Duration{2 * time.Second, 4 * time.Second, 4 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second, 7 * time.Second, 9 * time.Second})
	if st.N != 8 || st.Mean != 5*time.Second || st.StdDev != 2*time.Second || st.Min != 2*time.Second || st.Max != 9*time.Second {
		t.Errorf("stats = %+v, want mean 5s, population stddev 2s", st)
	}
	if z := durationStats(nil); z.N != 0 || z.Mean != 0 {
		t.Errorf("empty = %+v", z)
	}
}

func TestFmtDurationAndAgo(t *testing.T) {
	for d, want := range map[time.Duration]string{850 * time.Millisecond: "850ms", 12300 * time.Millisecond: "12.3s",
		3 * time.Second: "3s", 245 * time.Second: "4m05s", 2*time.Hour + 3*time.Minute: "2h03m", -1: "-"} {
		if got := fmtDuration(d); got != want {
			t.Errorf("fmtDuration(%s) = %q, want %q", d, got, want)
		}
	}
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for d, want := range map[time.Duration]string{3 * time.Second: "just now", 30 * time.Second: "30 s ago",
		3 * time.Minute: "3 min ago", 5 * time.Hour: "5 h ago", 72 * time.Hour: "3 days ago"} {
		if got := ago(now, now.Add(-d)); got != want {
			t.Errorf("ago(%s) = %q, want %q", d, got, want)
		}
	}
	if ago(now, time.Time{}) != "never" {
		t.Error("zero time is not never")
	}
}

func TestSameOrigin_RefusesOtherSites(t *testing.T) {
	r := httptest.NewRequest("POST", "http://agent:8391/ui/workers/w1/disable", nil)
	if err := sameOrigin(r); err != nil {
		t.Errorf("no Origin (curl): %v", err)
	}
	r.Header.Set("Origin", "http://agent:8391")
	if err := sameOrigin(r); err != nil {
		t.Errorf("same origin: %v", err)
	}
	r.Header.Set("Origin", "http://evil.example")
	if err := sameOrigin(r); err == nil {
		t.Error("another origin was accepted")
	}
	r.Header.Del("Origin")
	r.Header.Set("Sec-Fetch-Site", "cross-site")
	if err := sameOrigin(r); err == nil {
		t.Error("a cross-site post was accepted")
	}
}
