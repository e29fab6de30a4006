package fsm

import (
	"fmt"
	"testing"

	"github.com/hashicorp/raft"
	"github.com/scaleout/scaleout/catalog"
)

// applyAll applies encoded commands the way raft hands them to the
// BatchingFSM: in batches of up to 64 entries, one bbolt transaction each.
func (h *harness) applyAll(bufs [][]byte) {
	for len(bufs) > 0 {
		n := min(64, len(bufs))
		logs := make([]*raft.Log, n)
		for i := range logs {
			h.index++
			logs[i] = &raft.Log{Index: h.index, Term: 1, Type: raft.LogCommand, Data: bufs[i]}
		}
		for i, r := range h.fsm.ApplyBatch(logs) {
			if ir, ok := r.(*ItemsResponse); ok && ir.Err(0) != nil {
				h.t.Fatalf("entry %d: %v", i, ir.Err(0))
			} else if err, ok := r.(error); ok {
				h.t.Fatalf("entry %d: %v", i, err)
			}
		}
		bufs = bufs[n:]
	}
}

// submitN creates n pending executions (1,000 per command) and returns ids.
func (h *harness) submitN(n int) []uint64 {
	var ids []uint64
	for len(ids) < n {
		req := &ExecutionSubmitRequest{Time: t0, Caller: "bench"}
		for range min(1000, n-len(ids)) {
			req.Executions = append(req.Executions, NewExecution{ExecutionSpec: catalog.ExecutionSpec{PackageName: "noop", Source: benchSource}})
		}
		h.index++
		r := h.fsm.Apply(&raft.Log{Index: h.index, Term: 1, Type: raft.LogCommand, Data: h.encode(ExecutionSubmitType, req)})
		ids = append(ids, r.(*SubmitResponse).IDs...)
	}
	return ids
}

func (h *harness) leaseAll(ids []uint64) {
	var bufs [][]byte
	for _, id := range ids {
		bufs = append(bufs, h.encode(ExecutionLeaseType, &ExecutionLeaseRequest{Time: t0, Worker: "w1", Items: []LeaseItem{{ID: id, Attempt: 1}}}))
	}
	h.applyAll(bufs)
}

const benchSource = "name: noop\nvariables:\n  x: {type: int, value: 0}\ntasks:\n  - name: nop\n    set: {x: '1'}\n"

func benchEvents(n int) []catalog.Event {
	evs := make([]catalog.Event, n)
	for i := range evs {
		evs[i] = catalog.Event{Time: t0, Type: "information", Task: "nop", Message: fmt.Sprintf("task nop: line %d of its output", i)}
	}
	return evs
}

// runApply measures applying one command per execution: setup prepares the
// executions, cmd encodes the measured command for one of them.
func runApply(b *testing.B, setup func(h *harness, n int) []uint64, cmd func(h *harness, id uint64) []byte) {
	h := newHarness(b)
	ids := setup(h, b.N)
	bufs := make([][]byte, len(ids))
	for i, id := range ids {
		bufs[i] = cmd(h, id)
	}
	b.ReportAllocs()
	b.ResetTimer()
	h.applyAll(bufs)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "commands/s")
}

func BenchmarkApply(b *testing.B) {
	none := func(h *harness, n int) []uint64 {
		ids := make([]uint64, n)
		for i := range ids {
			ids[i] = uint64(i + 1)
		}
		return ids
	}
	pending := func(h *harness, n int) []uint64 { return h.submitN(n) }
	running := func(h *harness, n int) []uint64 { ids := h.submitN(n); h.leaseAll(ids); return ids }
	b.Run("ExecutionSubmit", func(b *testing.B) {
		runApply(b, none, func(h *harness, _ uint64) []byte {
			return h.encode(ExecutionSubmitType, &ExecutionSubmitRequest{Time: t0, Executions: []NewExecution{{ExecutionSpec: catalog.ExecutionSpec{PackageName: "noop", Source: benchSource}}}})
		})
	})
	b.Run("ExecutionLease", func(b *testing.B) {
		runApply(b, pending, func(h *harness, id uint64) []byte {
			return h.encode(ExecutionLeaseType, &ExecutionLeaseRequest{Time: t0, Worker: "w1", Items: []LeaseItem{{ID: id, Attempt: 1}}})
		})
	})
	b.Run("ExecutionEvents10", func(b *testing.B) {
		runApply(b, running, func(h *harness, id uint64) []byte {
			return h.encode(ExecutionEventsType, &ExecutionEventsRequest{Time: t0, Items: []EventsItem{{ID: id, Attempt: 1, Events: benchEvents(10)}}})
		})
	})
	b.Run("ExecutionFinish", func(b *testing.B) {
		runApply(b, running, func(h *harness, id uint64) []byte {
			return h.encode(ExecutionFinishType, &ExecutionFinishRequest{Time: t0, Items: []FinishItem{{ID: id, Attempt: 1, Status: catalog.StatusSucceeded, Events: benchEvents(3)}}})
		})
	})
	b.Run("ExecutionExpire", func(b *testing.B) {
		runApply(b, running, func(h *harness, id uint64) []byte {
			return h.encode(ExecutionExpireType, &ExecutionExpireRequest{Time: t0, Items: []ExpireItem{{ID: id, Attempt: 1, Reason: "lost"}}})
		})
	})
	b.Run("ExecutionStop", func(b *testing.B) {
		runApply(b, pending, func(h *harness, id uint64) []byte {
			return h.encode(ExecutionStopType, &ExecutionStopRequest{Time: t0, ID: id, Caller: "bench"})
		})
	})
	b.Run("WorkerRegister", func(b *testing.B) {
		runApply(b, none, func(h *harness, id uint64) []byte {
			return h.encode(WorkerRegisterType, &WorkerRegisterRequest{Time: t0, Worker: catalog.Worker{ID: fmt.Sprintf("w%d", id), Node: "n1", MaxTasks: 10}})
		})
	})
	// Coalesced: one finish command carrying 64 results.
	b.Run("ExecutionFinish64Items", func(b *testing.B) {
		h := newHarness(b)
		ids := h.submitN(b.N)
		h.leaseAll(ids)
		var bufs [][]byte
		for i := 0; i < len(ids); i += 64 {
			req := &ExecutionFinishRequest{Time: t0}
			for _, id := range ids[i:min(i+64, len(ids))] {
				req.Items = append(req.Items, FinishItem{ID: id, Attempt: 1, Status: catalog.StatusSucceeded, Events: benchEvents(3)})
			}
			bufs = append(bufs, h.encode(ExecutionFinishType, req))
		}
		b.ReportAllocs()
		b.ResetTimer()
		h.applyAll(bufs)
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "results/s")
	})
}

// BenchmarkEncodeDecode encodes and decodes every execution command.
func BenchmarkEncodeDecode(b *testing.B) {
	cmds := []struct {
		t   MessageType
		msg any
		out func() any
	}{
		{ExecutionSubmitType, &ExecutionSubmitRequest{Time: t0, Executions: []NewExecution{{ExecutionSpec: catalog.ExecutionSpec{PackageName: "noop", Source: benchSource, Params: map[string]string{"who": "world"}}}}}, func() any { return new(ExecutionSubmitRequest) }},
		{ExecutionLeaseType, &ExecutionLeaseRequest{Time: t0, Worker: "w1", Items: []LeaseItem{{ID: 1, Attempt: 1}}}, func() any { return new(ExecutionLeaseRequest) }},
		{ExecutionEventsType, &ExecutionEventsRequest{Time: t0, Items: []EventsItem{{ID: 1, Attempt: 1, Events: benchEvents(500)}}}, func() any { return new(ExecutionEventsRequest) }},
		{ExecutionFinishType, &ExecutionFinishRequest{Time: t0, Items: []FinishItem{{ID: 1, Attempt: 1, Status: catalog.StatusSucceeded, Events: benchEvents(3)}}}, func() any { return new(ExecutionFinishRequest) }},
		{ExecutionExpireType, &ExecutionExpireRequest{Time: t0, Items: []ExpireItem{{ID: 1, Attempt: 1, Reason: "lost"}}}, func() any { return new(ExecutionExpireRequest) }},
		{ExecutionStopType, &ExecutionStopRequest{Time: t0, ID: 1}, func() any { return new(ExecutionStopRequest) }},
	}
	for _, c := range cmds {
		name := c.t.String()
		if c.t == ExecutionEventsType {
			name += "500"
		}
		b.Run("Encode/"+name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Encode(c.t, c.msg); err != nil {
					b.Fatal(err)
				}
			}
		})
		buf, _ := Encode(c.t, c.msg)
		b.Run("Decode/"+name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(buf)))
			for b.Loop() {
				if err := Decode(buf, c.out()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
