package main

import (
	"bufio"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/scaleout/scaleout/api"
)

// The history checker of the chaos suite (chaos_test.go, `make chaos`). It
// is plain code over plain data so that its unit tests (in `make test`)
// show that it finds each kind of violation:
//
//   - the clients' log: for every submission the client's tag and, when the
//     cluster acknowledged it, the execution id it answered;
//   - the catalog at the end: every execution with its parameters (the tag),
//     status and attempts, and its events;
//   - stamps the package processes wrote (start, beats, end of their work),
//     timed by the kernel's uptime clock, which all containers share.

// chaosAck is one line of the clients' log.
type chaosAck struct {
	tag string
	id  uint64 // 0: never acknowledged (the client gave up)
}

// chaosStamp is one line a package process wrote: S (start), B (beat while
// it works), E (its work is done; only the output lines are left).
type chaosStamp struct {
	kind    byte
	id      uint64
	attempt int
	at      float64 // seconds of kernel uptime
	host    string
}

// parseChaosStamps reads stamp lines "KIND ID ATTEMPT UPTIME HOST"; a torn
// last line (a process killed while writing) is skipped.
func parseChaosStamps(r io.Reader) ([]chaosStamp, error) {
	var out []chaosStamp
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 5 || len(f[0]) != 1 || !strings.Contains("SBE", f[0]) {
			continue
		}
		id, err1 := strconv.ParseUint(f[1], 10, 64)
		att, err2 := strconv.Atoi(f[2])
		at, err3 := strconv.ParseFloat(f[3], 64)
		if err1 != nil || err2 != nil || err3 != nil {
			continue
		}
		out = append(out, chaosStamp{kind: f[0][0], id: id, attempt: att, at: at, host: f[4]})
	}
	return out, sc.Err()
}

// chaosExecution is what the checker needs of one execution at the end.
type chaosExecution struct {
	exec   api.Execution
	events []api.Event
}

// chaosRow is one scenario's line of the table.
type chaosRow struct {
	Scenario   string
	Submitted  int
	Acked      int
	Lost       int // acknowledged, not in the catalog
	Duplicates int // executions beyond the first of one tag
	Unended    int // not in a terminal status at the end
	EndedTwice int // more than one terminal status change
	Succeeded  int
	Overlaps   int // two attempts of one execution running at the same time
	AfterThaw  int // an attempt that ran on after a later one began, only once its frozen host thawed
	Reruns     int // an attempt started after an earlier one had done its work
	EventsLost int // output lines of the final attempt missing
	EventsDup  int // output lines of one attempt seen twice
	Recovery   time.Duration
	Details    []string // the first few violations, for the log
	maxDetails int
}

func (r *chaosRow) violation(format string, args ...any) {
	if r.maxDetails == 0 {
		r.maxDetails = 20
	}
	if len(r.Details) < r.maxDetails {
		r.Details = append(r.Details, fmt.Sprintf(format, args...))
	}
}

// chaosLines is how many output lines each package prints: "out TAG K".
const chaosLines = 3

var chaosTerminal = map[string]bool{"succeeded": true, "failed": true, "canceled": true, "ended_unexpectedly": true}

// chaosFreeze is a time when a host's container was certainly frozen
// (docker pause), in the stamps' uptime clock: from when `docker pause`
// had returned to when `docker unpause` was sent. Nothing of the host ran
// then.
type chaosFreeze struct {
	host     string
	from, to float64
}

// runningSpans is the stretch [first, last] of an attempt on host, less the
// times host was frozen: when the attempt could execute.
func runningSpans(first, last float64, host string, freezes []chaosFreeze) [][2]float64 {
	spans := [][2]float64{{first, last}}
	for _, f := range freezes {
		if f.host != host {
			continue
		}
		var next [][2]float64
		for _, s := range spans {
			if f.to <= s[0] || f.from >= s[1] {
				next = append(next, s)
				continue
			}
			if s[0] < f.from {
				next = append(next, [2]float64{s[0], f.from})
			}
			if f.to < s[1] {
				next = append(next, [2]float64{f.to, s[1]})
			}
		}
		spans = next
	}
	return spans
}

// checkChaosHistory fills the counts of row from the clients' log, the
// catalog, the stamps and the times hosts were frozen.
func checkChaosHistory(row *chaosRow, acks []chaosAck, execs []chaosExecution, stamps []chaosStamp, freezes []chaosFreeze) {
	row.Submitted = len(acks)
	byTag := map[string][]*chaosExecution{}
	byID := map[uint64]*chaosExecution{}
	for i := range execs {
		e := &execs[i]
		byID[e.exec.ID] = e
		if tag := e.exec.Params["tag"]; tag != "" {
			byTag[tag] = append(byTag[tag], e)
		}
	}
	for _, a := range acks {
		if a.id == 0 {
			continue
		}
		row.Acked++
		if e := byID[a.id]; e == nil || e.exec.Params["tag"] != a.tag {
			row.Lost++
			row.violation("lost: %s acknowledged as execution %d", a.tag, a.id)
		}
	}
	for tag, es := range byTag {
		if len(es) > 1 {
			row.Duplicates += len(es) - 1
			row.violation("duplicate: %s is %d executions", tag, len(es))
		}
	}
	for _, e := range execs {
		if !chaosTerminal[e.exec.Status] {
			row.Unended++
			row.violation("unended: execution %d is %s", e.exec.ID, e.exec.Status)
		}
		if e.exec.Status == "succeeded" {
			row.Succeeded++
		}
		terminal := 0
		lines := map[int]map[string]int{} // attempt -> line -> count
		for _, ev := range e.events {
			if ev.Type == "status_change" {
				if _, to, ok := strings.Cut(ev.Message, "-> "); ok {
					to, _, _ = strings.Cut(to, ":")
					if chaosTerminal[strings.TrimSpace(to)] {
						terminal++
					}
				}
			}
			if ev.Type == "stdout" && strings.HasPrefix(ev.Message, "out ") {
				if lines[ev.Attempt] == nil {
					lines[ev.Attempt] = map[string]int{}
				}
				lines[ev.Attempt][ev.Message]++
			}
		}
		if terminal > 1 {
			row.EndedTwice++
			row.violation("ended twice: execution %d has %d terminal status changes", e.exec.ID, terminal)
		}
		for att, ls := range lines {
			for l, n := range ls {
				if n > 1 {
					row.EventsDup += n - 1
					row.violation("event duplicated: execution %d attempt %d %q x%d", e.exec.ID, att, l, n)
				}
			}
		}
		if e.exec.Status == "succeeded" {
			tag := e.exec.Params["tag"]
			for k := 1; k <= chaosLines; k++ {
				if lines[e.exec.Attempt][fmt.Sprintf("out %s %d", tag, k)] == 0 {
					row.EventsLost++
					row.violation("event lost: execution %d attempt %d line %d", e.exec.ID, e.exec.Attempt, k)
				}
			}
		}
	}

	// Attempts from the stamps: first and last stamp, and whether the work
	// was done (E).
	type span struct {
		first, last float64
		done        bool
		host        string
	}
	attempts := map[uint64]map[int]*span{}
	for _, s := range stamps {
		m := attempts[s.id]
		if m == nil {
			m = map[int]*span{}
			attempts[s.id] = m
		}
		sp := m[s.attempt]
		if sp == nil {
			sp = &span{first: s.at, last: s.at, host: s.host}
			m[s.attempt] = sp
		}
		sp.first, sp.last = min(sp.first, s.at), max(sp.last, s.at)
		if s.kind == 'E' {
			sp.done = true
		}
	}
	ids := make([]uint64, 0, len(attempts))
	for id := range attempts {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for _, id := range ids {
		m := attempts[id]
		ns := make([]int, 0, len(m))
		for n := range m {
			ns = append(ns, n)
		}
		sort.Ints(ns)
		overlap, thawed, rerun := false, false, false
		for i, a := range ns {
			for _, b := range ns[i+1:] {
				if m[b].first < m[a].last {
					// Lived at the same time; ran at the same time unless
					// one of them was frozen all the while the other ran.
					both := false
					for _, x := range runningSpans(m[a].first, m[a].last, m[a].host, freezes) {
						for _, y := range runningSpans(m[b].first, m[b].last, m[b].host, freezes) {
							if y[0] < x[1] && x[0] <= y[1] {
								both = true
							}
						}
					}
					if both {
						overlap = true
						row.violation("overlap: execution %d attempt %d (%.2f-%.2f) and attempt %d (%.2f-%.2f)",
							id, a, m[a].first, m[a].last, b, m[b].first, m[b].last)
					} else {
						thawed = true
						row.violation("ran after thaw: execution %d attempt %d (%.2f-%.2f on %s, frozen meanwhile) and attempt %d (%.2f-%.2f)",
							id, a, m[a].first, m[a].last, m[a].host, b, m[b].first, m[b].last)
					}
				}
				if m[a].done {
					rerun = true
					row.violation("re-run: execution %d attempt %d had done its work, attempt %d started", id, a, b)
				}
			}
		}
		if overlap {
			row.Overlaps++
		}
		if thawed && !overlap {
			row.AfterThaw++
		}
		if rerun {
			row.Reruns++
		}
	}
}

// chaosTable formats rows as the Markdown table of docs/RELIABILITY.md.
func chaosTable(rows []chaosRow) string {
	var b strings.Builder
	b.WriteString("| scenario | submitted | acked | lost | duplicates | unended | ended twice | succeeded | overlaps | ran after thaw | re-runs after completion | events lost | events duplicated | recovery |\n")
	b.WriteString("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %d | %d | %d | %d | %d | %d | %d | %d | %d | %s |\n", r.Scenario, r.Submitted, r.Acked,
			r.Lost, r.Duplicates, r.Unended, r.EndedTwice, r.Succeeded, r.Overlaps, r.AfterThaw, r.Reruns, r.EventsLost, r.EventsDup,
			r.Recovery.Round(100*time.Millisecond))
	}
	return b.String()
}
