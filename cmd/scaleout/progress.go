package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/scaleout/scaleout/api"
	"github.com/spf13/cobra"
)

// plainOutput is --plain of run and executions logs: event lines even on a
// terminal.
var plainOutput bool

func addPlainFlag(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&plainOutput, "plain", false, "print every event as a line even on a terminal (no live task lines, no summary table)")
}

// liveWanted reports whether following an execution on out shows live task
// lines: out is a terminal, --plain is not given and TERM is not dumb. Any
// other output (a pipe, a file, a test's buffer) gets the plain event lines.
func liveWanted(out io.Writer) bool {
	if plainOutput || os.Getenv("TERM") == "dumb" {
		return false
	}
	f, ok := out.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// livePoll is how long one events request waits: the live lines' elapsed
// times are redrawn at least this often.
const livePoll = 500 * time.Millisecond

// followLive follows an execution on a terminal: messages worth reading
// (status changes, information, warnings, errors) scroll by as lines, one
// line per running task shows its elapsed time, and a table of every task's
// status and duration ends it. It returns the final status.
func followLive(ctx context.Context, out io.Writer, c *api.Client, id, after uint64) (string, error) {
	v := newLiveView(out, time.Now)
	defer v.erase()
	for {
		rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		resp, err := c.Executions().Events(rctx, id, after, 1000, livePoll)
		cancel()
		if err != nil {
			return "", err
		}
		v.erase()
		for _, ev := range resp.Events {
			v.add(ev)
		}
		after = resp.Next
		if resp.Ended {
			v.summary(id, resp.Status)
			return resp.Status, nil
		}
		v.draw()
	}
}

// taskRun is one run of a task in one attempt.
type taskRun struct {
	task       string
	attempt    int
	start, end time.Time
	status     string // "" while running
}

// liveView keeps the tasks of an execution and the live lines on screen.
type liveView struct {
	out   io.Writer
	now   func() time.Time
	runs  []*taskRun
	open  map[string]*taskRun // task/attempt -> run without post_execute
	drawn int                 // live lines on screen
	first time.Time           // first event: the execution's clock
	last  time.Time
}

func newLiveView(out io.Writer, now func() time.Time) *liveView {
	return &liveView{out: out, now: now, open: map[string]*taskRun{}}
}

func (v *liveView) add(ev api.Event) {
	if v.first.IsZero() {
		v.first = ev.Time
	}
	v.last = ev.Time
	key := fmt.Sprintf("%s/%d", ev.Task, ev.Attempt)
	switch ev.Type {
	case "pre_execute":
		r := &taskRun{task: ev.Task, attempt: ev.Attempt, start: ev.Time}
		v.runs = append(v.runs, r)
		v.open[key] = r
	case "post_execute":
		r, ok := v.open[key]
		if !ok { // skipped: it never started
			r = &taskRun{task: ev.Task, attempt: ev.Attempt, start: ev.Time}
			v.runs = append(v.runs, r)
		}
		delete(v.open, key)
		r.end, r.status = ev.Time, taskStatus(ev.Message)
	case "status_change", "information", "warning", "error", "task_failed":
		printEvent(v.out, ev)
	}
}

// taskStatus reads a post_execute message ("succeeded in 12ms", "failed:
// ...", "canceled after 2s", "skipped: ...").
func taskStatus(msg string) string {
	for _, s := range []string{"succeeded", "failed", "canceled", "skipped"} {
		if strings.HasPrefix(msg, s) {
			return s
		}
	}
	return "ended"
}

// draw writes one line per running task with its elapsed time.
func (v *liveView) draw() {
	now := v.now()
	for _, r := range v.runs {
		if r.status != "" {
			continue
		}
		label := r.task
		if r.attempt > 1 {
			label += fmt.Sprintf(" (attempt %d)", r.attempt)
		}
		fmt.Fprintf(v.out, "  \x1b[36m▶\x1b[0m %-40s %8s\n", label, fmtElapsed(now.Sub(r.start)))
		v.drawn++
	}
}

// erase removes the live lines drawn last.
func (v *liveView) erase() {
	for ; v.drawn > 0; v.drawn-- {
		fmt.Fprint(v.out, "\x1b[1A\x1b[2K")
	}
}

// summary prints every task's status and duration, then the outcome.
func (v *liveView) summary(id uint64, status string) {
	if len(v.runs) > 0 {
		fmt.Fprintln(v.out)
		tw := tabwriter.NewWriter(v.out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "TASK\tATTEMPT\tSTATUS\tDURATION")
		for _, r := range v.runs {
			st, end := r.status, r.end
			if st == "" { // no post_execute: the attempt ended under it
				st, end = "interrupted", v.last
			}
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", r.task, r.attempt, st, fmtElapsed(end.Sub(r.start)))
		}
		_ = tw.Flush()
	}
	took := ""
	if !v.first.IsZero() {
		took = " in " + fmtElapsed(v.last.Sub(v.first))
	}
	fmt.Fprintf(v.out, "\nexecution %d %s%s\n", id, status, took)
}

// fmtElapsed writes 850ms, 12.3s (tenths always, so a table's column
// lines up), 4m05s, 2h03m.
func fmtElapsed(d time.Duration) string { return api.FormatDuration(d) }
