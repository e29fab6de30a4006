package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/scaleout/scaleout/api"
)

func TestLiveView_LinesAndSummary(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	var out bytes.Buffer
	now := at(1.5)
	v := newLiveView(&out, func() time.Time { return now })
	for _, ev := range []api.Event{
		{Type: "status_change", Time: at(0), Message: "pending -> running"},
		{Type: "pre_execute", Task: "extract", Attempt: 1, Time: at(0)},
		{Type: "stdout", Task: "extract", Attempt: 1, Time: at(0.1), Message: "a line not shown live"},
		{Type: "post_execute", Task: "extract", Attempt: 1, Time: at(1), Message: "succeeded in 1s"},
		{Type: "pre_execute", Task: "load", Attempt: 1, Time: at(1)},
	} {
		v.add(ev)
	}
	v.draw()
	got := out.String()
	if !strings.Contains(got, "pending -> running") || strings.Contains(got, "a line not shown live") {
		t.Errorf("scrolling lines:\n%s", got)
	}
	if !strings.Contains(got, "load") || !strings.Contains(got, "500ms") || strings.Contains(got, "▶\x1b[0m extract") {
		t.Errorf("live lines: want only load, running 500ms:\n%q", got)
	}
	out.Reset()
	v.erase()
	if out.String() != "\x1b[1A\x1b[2K" {
		t.Errorf("erase of one line = %q", out.String())
	}
	out.Reset()
	v.add(api.Event{Type: "error", Task: "load", Attempt: 1, Time: at(3), Message: "exit status 2"})
	v.add(api.Event{Type: "post_execute", Task: "load", Attempt: 1, Time: at(3), Message: "failed: exit status 2 in 2s"})
	v.add(api.Event{Type: "post_execute", Task: "publish", Attempt: 1, Time: at(3), Message: `skipped: dependency "load" failed`})
	v.summary(7, "failed")
	want := []string{"TASK", "extract  1        succeeded  1.0s", "load     1        failed     2.0s", "publish  1        skipped    0s", "execution 7 failed in 3.0s"}
	for _, w := range want {
		if !strings.Contains(out.String(), w) {
			t.Errorf("summary lacks %q:\n%s", w, out.String())
		}
	}
}

func TestLiveWanted_NotForBuffersOrPlain(t *testing.T) {
	if liveWanted(&bytes.Buffer{}) {
		t.Error("a buffer is not a terminal")
	}
	plainOutput = true
	defer func() { plainOutput = false }()
	if liveWanted(nil) {
		t.Error("--plain must print lines")
	}
}

func TestOutputFlag(t *testing.T) {
	if err := checkOutput("yaml"); err == nil {
		t.Error("--output yaml accepted")
	}
	var b bytes.Buffer
	if err := writeJSON(&b, []api.Worker{}); err != nil || strings.TrimSpace(b.String()) != "[]" {
		t.Errorf("empty list as JSON = %q, %v", b.String(), err)
	}
}
