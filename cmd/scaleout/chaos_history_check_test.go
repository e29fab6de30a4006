package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/scaleout/scaleout/api"
)

// chaosExec builds a catalog execution as the chaos suite reads it: tag t,
// status st, the final attempt n, its status changes and output lines.
func chaosExec(id uint64, tag, st string, n int, extra ...api.Event) chaosExecution {
	e := chaosExecution{exec: api.Execution{ID: id, Status: st, Attempt: n, Params: map[string]string{"tag": tag}}}
	e.events = append(e.events, api.Event{Type: "status_change", Attempt: n, Message: "pending -> running: attempt"})
	if st == "succeeded" {
		for k := 1; k <= chaosLines; k++ {
			e.events = append(e.events, api.Event{Type: "stdout", Attempt: n, Message: fmt.Sprintf("out %s %d", tag, k)})
		}
	}
	if chaosTerminal[st] {
		e.events = append(e.events, api.Event{Type: "status_change", Attempt: n, Message: "running -> " + st})
	}
	e.events = append(e.events, extra...)
	return e
}

func TestChaosHistory_CleanRunHasNoViolations(t *testing.T) {
	stamps, err := parseChaosStamps(strings.NewReader("S 1 1 10.00 w1\nB 1 1 10.20 w1\nE 1 1 10.40 w1\nS 2 1 10.10 w2\nS 2 2 15.00 w1\nE 2 2 15.30 w1\nE 2 2 1")) // torn last line
	if err != nil || len(stamps) != 6 {
		t.Fatalf("stamps %v %v", stamps, err)
	}
	var row chaosRow
	checkChaosHistory(&row, []chaosAck{{"a", 1}, {"b", 2}, {"c", 0}},
		[]chaosExecution{chaosExec(1, "a", "succeeded", 1), chaosExec(2, "b", "succeeded", 2)}, stamps, nil)
	if row.Submitted != 3 || row.Acked != 2 || row.Succeeded != 2 || len(row.Details) != 0 ||
		row.Lost+row.Duplicates+row.Unended+row.EndedTwice+row.Overlaps+row.AfterThaw+row.Reruns+row.EventsLost+row.EventsDup != 0 {
		t.Fatalf("clean history: %+v", row)
	}
}

// Each kind of violation is found and counted.
func TestChaosHistory_FindsEachViolation(t *testing.T) {
	for _, c := range []struct {
		name    string
		acks    []chaosAck
		execs   []chaosExecution
		stamps  string
		count   func(r chaosRow) int
		freezes []chaosFreeze
	}{
		{"lost", []chaosAck{{"a", 1}, {"b", 7}}, []chaosExecution{chaosExec(1, "a", "succeeded", 1)}, "",
			func(r chaosRow) int { return r.Lost }, nil},
		{"lost: acknowledged id holds another tag", []chaosAck{{"a", 1}}, []chaosExecution{chaosExec(1, "x", "succeeded", 1)}, "",
			func(r chaosRow) int { return r.Lost }, nil},
		{"duplicate", []chaosAck{{"a", 1}}, []chaosExecution{chaosExec(1, "a", "succeeded", 1), chaosExec(2, "a", "succeeded", 1)}, "",
			func(r chaosRow) int { return r.Duplicates }, nil},
		{"unended", []chaosAck{{"a", 1}}, []chaosExecution{chaosExec(1, "a", "running", 1)}, "",
			func(r chaosRow) int { return r.Unended }, nil},
		{"ended twice", []chaosAck{{"a", 1}}, []chaosExecution{chaosExec(1, "a", "succeeded", 1,
			api.Event{Type: "status_change", Attempt: 1, Message: "succeeded -> failed: again"})}, "",
			func(r chaosRow) int { return r.EndedTwice }, nil},
		{"overlap", nil, nil, "S 1 1 10.0 w1\nB 1 1 12.0 w1\nS 1 2 11.5 w2\n",
			func(r chaosRow) int { return r.Overlaps }, nil},
		// w1 was frozen 10.5-20: attempt 1 lived across attempt 2 but ran
		// again only after it had ended (a stale beat at the thaw).
		{"ran after thaw", nil, nil, "S 1 1 10.0 w1\nB 1 1 20.01 w1\nS 1 2 15.0 w2\nE 1 2 15.5 w2\n",
			func(r chaosRow) int { return r.AfterThaw }, []chaosFreeze{{"w1", 10.5, 20}}},
		// Frozen only part of the time: attempt 1 also ran while attempt 2
		// did: an overlap, not a thaw.
		{"overlap across a freeze", nil, nil, "S 1 1 10.0 w1\nB 1 1 14.0 w1\nB 1 1 20.01 w1\nS 1 2 13.0 w2\nB 1 2 16.0 w2\n",
			func(r chaosRow) int { return r.Overlaps }, []chaosFreeze{{"w1", 14.5, 20}}},
		{"re-run after completion", nil, nil, "S 1 1 10.0 w1\nE 1 1 10.5 w1\nS 1 2 14.0 w2\nE 1 2 14.5 w2\n",
			func(r chaosRow) int { return r.Reruns }, nil},
		{"event lost", []chaosAck{{"a", 1}}, []chaosExecution{func() chaosExecution {
			e := chaosExec(1, "a", "succeeded", 1)
			e.events = append(e.events[:1], e.events[2:]...) // line 1 gone
			return e
		}()}, "", func(r chaosRow) int { return r.EventsLost }, nil},
		{"event duplicated", []chaosAck{{"a", 1}}, []chaosExecution{chaosExec(1, "a", "succeeded", 1,
			api.Event{Type: "stdout", Attempt: 1, Message: "out a 2"})}, "",
			func(r chaosRow) int { return r.EventsDup }, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			stamps, err := parseChaosStamps(strings.NewReader(c.stamps))
			if err != nil {
				t.Fatal(err)
			}
			var row chaosRow
			checkChaosHistory(&row, c.acks, c.execs, stamps, c.freezes)
			if c.count(row) != 1 || len(row.Details) == 0 {
				t.Fatalf("want the violation counted once and named: %+v", row)
			}
		})
	}
}

func TestChaosTable(t *testing.T) {
	out := chaosTable([]chaosRow{{Scenario: "kill-leader", Submitted: 10, Acked: 10, Succeeded: 10}})
	if !strings.Contains(out, "| kill-leader | 10 | 10 | 0 |") || strings.Count(out, "\n") != 3 {
		t.Fatalf("table:\n%s", out)
	}
}
