package api

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

// BenchmarkEventsReportEncode encodes a worker's full event batch (500
// events, the default flush size) as it goes over HTTP.
func BenchmarkEventsReportEncode(b *testing.B) {
	t0 := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	r := &EventsReport{}
	for i := range 500 {
		r.Events = append(r.Events, Event{Time: t0, Type: "information", Task: "nop", Message: fmt.Sprintf("task nop: line %d of its output", i)})
	}
	b.ReportAllocs()
	for b.Loop() {
		buf, err := json.Marshal(r)
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(len(buf)))
	}
}

// BenchmarkBulkSubmitEncode encodes a bulk submission of 100 executions.
func BenchmarkBulkSubmitEncode(b *testing.B) {
	req := &BulkSubmitRequest{}
	for range 100 {
		req.Executions = append(req.Executions, SubmitRequest{Package: "name: noop\ntasks:\n  - name: nop\n    set: {x: '1'}\n", Params: map[string]string{"who": "x"}})
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := json.Marshal(req); err != nil {
			b.Fatal(err)
		}
	}
}
