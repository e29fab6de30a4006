package fsm

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/scaleout/scaleout/catalog"
)

// submitNotify creates one inline execution whose package notifies on
// on; it returns its id.
func (h *harness) submitNotify(level string, retries int, on ...string) uint64 {
	h.t.Helper()
	spec := catalog.ExecutionSpec{PackageName: "p", Source: "name: p", Retries: retries, LoggingLevel: level,
		Notify: &catalog.Notify{On: on, Webhook: "http://127.0.0.1:1/hook", Headers: map[string]string{"Authorization": "enc:v1:x"}}}
	resp := h.apply(ExecutionSubmitType, &ExecutionSubmitRequest{Time: t0, Executions: []NewExecution{{ExecutionSpec: spec}}}).(*SubmitResponse)
	if err := resp.Err(0); err != nil {
		h.t.Fatal(err)
	}
	return resp.IDs[0]
}

func (h *harness) notifyPending() []uint64 {
	h.t.Helper()
	ids, err := catalog.Read(h.fsm.Store(), func(tx *catalog.Tx) ([]uint64, error) { return slices.Collect(tx.NotifyPending()), nil })
	if err != nil {
		h.t.Fatal(err)
	}
	return ids
}

func (h *harness) notified(id uint64, d catalog.Delivery) any {
	h.t.Helper()
	return h.apply(ExecutionNotifiedType|IgnoreUnknownTypeFlag, &ExecutionNotifiedRequest{Time: t0.Add(time.Minute), ID: id, Delivery: d})
}

func TestFSM_ExecutionNotified(t *testing.T) {
	h := newHarness(t)
	failing := h.submitNotify("none", 0, "failure")
	ok := h.submitNotify("", 0, "failure")
	if p := h.notifyPending(); len(p) != 0 {
		t.Fatalf("pending before any end: %v", p)
	}
	h.finish(failing, catalog.StatusFailed, t0.Add(time.Second))
	h.finish(ok, catalog.StatusSucceeded, t0.Add(time.Second))
	if p := h.notifyPending(); !slices.Equal(p, []uint64{failing}) {
		t.Fatalf("pending %v, want only the failed %d", p, failing)
	}
	// Nothing to record for the succeeded one (on: failure).
	if err, _ := h.notified(ok, catalog.Delivery{Delivered: true, Attempts: 1}).(error); !errors.Is(err, catalog.ErrExists) {
		t.Fatalf("record of an unwanted notification: %v", err)
	}
	// The record: on the execution, as an event kept even at logging
	// level none, out of the index.
	if r := h.notified(failing, catalog.Delivery{Delivered: true, Attempts: 3, Time: t0}); r != nil {
		t.Fatalf("record: %v", r)
	}
	e := h.execution(failing)
	if e.Notified == nil || !e.Notified.Delivered || e.Notified.Attempts != 3 || e.NeedsNotify() {
		t.Fatalf("execution after the record: %+v", e.Notified)
	}
	evs, _ := catalog.Read(h.fsm.Store(), func(tx *catalog.Tx) ([]catalog.Event, error) { return tx.Events(failing, 0, 100) })
	if last := evs[len(evs)-1]; last.Type != catalog.EventNotification || last.Message != "notification delivered (attempt 3)" {
		t.Fatalf("last event %+v", last)
	}
	if p := h.notifyPending(); len(p) != 0 {
		t.Fatalf("pending after the record: %v", p)
	}
	// A second record (a new leader that sent it again) changes nothing.
	if err, _ := h.notified(failing, catalog.Delivery{Attempts: 8, Error: "x"}).(error); !errors.Is(err, catalog.ErrExists) {
		t.Fatalf("second record: %v", err)
	}
	if e := h.execution(failing); !e.Notified.Delivered || e.EventCount != uint64(len(evs)) {
		t.Fatalf("second record changed the execution: %+v, %d events", e.Notified, e.EventCount)
	}
}

func TestFSM_ExecutionNotifiedAfterRetries(t *testing.T) {
	h := newHarness(t)
	id := h.submitNotify("", 1, "completion")
	h.finish(id, catalog.StatusFailed, t0.Add(time.Second)) // attempt 1 of 2: retried
	if p := h.notifyPending(); len(p) != 0 {
		t.Fatalf("a retried attempt is notified: %v", p)
	}
	r := h.apply(ExecutionLeaseType, &ExecutionLeaseRequest{Time: t0.Add(2 * time.Second), Worker: "w", Items: []LeaseItem{{ID: id, Attempt: 2}}}).(*ItemsResponse)
	if r.Err(0) != nil {
		t.Fatal(r.Err(0))
	}
	h.apply(ExecutionStopsType, &ExecutionStopsRequest{Time: t0.Add(3 * time.Second), Items: []StopItem{{ID: id}}})
	f := h.apply(ExecutionFinishType, &ExecutionFinishRequest{Time: t0.Add(4 * time.Second), Items: []FinishItem{{ID: id, Attempt: 2, Status: catalog.StatusCanceled}}}).(*ItemsResponse)
	if f.Err(0) != nil {
		t.Fatal(f.Err(0))
	}
	// canceled: completion wants it.
	if p := h.notifyPending(); !slices.Equal(p, []uint64{id}) {
		t.Fatalf("pending %v after the cancel", p)
	}
	// The index survives a snapshot and restore.
	data := h.snapshot()
	h2 := newHarness(t)
	h2.restore(data)
	if p := h2.notifyPending(); !slices.Equal(p, []uint64{id}) {
		t.Fatalf("pending %v after a restore", p)
	}
	if r := h2.notified(id, catalog.Delivery{Attempts: 8, Error: "webhook answered 500"}); r != nil {
		t.Fatal(r)
	}
	if e := h2.execution(id); e.Notified == nil || e.Notified.Delivered || len(h2.notifyPending()) != 0 {
		t.Fatalf("failed delivery not recorded: %+v", e.Notified)
	}
}

func TestFSM_ExecutionNotifiedMalformed(t *testing.T) {
	h := newHarness(t)
	id := h.submitNotify("", 0, "failure")
	h.finish(id, catalog.StatusFailed, t0.Add(time.Second))
	for name, d := range map[string]catalog.Delivery{
		"negative attempts":          {Attempts: -1},
		"delivered without attempts": {Delivered: true},
	} {
		if err, _ := h.notified(id, d).(error); !errors.Is(err, catalog.ErrInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if err, _ := h.notified(999, catalog.Delivery{Attempts: 1}).(error); !errors.Is(err, catalog.ErrNotFound) {
		t.Errorf("unknown execution: %v", err)
	}
	for _, raw := range []string{`{"id":"x"}`, `[`, ``, `{"id":1,"delivery":{"attempts":"many"}}`} {
		h.index++
		r := h.fsm.Apply(&raft.Log{Index: h.index, Term: 1, Type: raft.LogCommand, Data: append([]byte{byte(ExecutionNotifiedType | IgnoreUnknownTypeFlag)}, raw...)})
		if err, _ := r.(error); !errors.Is(err, catalog.ErrInvalid) {
			t.Errorf("payload %q: %v", raw, r)
		}
	}
	if e := h.execution(id); e.Notified != nil || !slices.Equal(h.notifyPending(), []uint64{id}) {
		t.Fatalf("a refused record changed the execution: %+v", e.Notified)
	}
	// A spec with a bad notify is refused at creation.
	spec := catalog.ExecutionSpec{PackageName: "p", Source: "name: p", Notify: &catalog.Notify{On: []string{"failure"}, Webhook: "ftp://h/x"}}
	resp := h.apply(ExecutionSubmitType, &ExecutionSubmitRequest{Time: t0, Executions: []NewExecution{{ExecutionSpec: spec}}}).(*SubmitResponse)
	if err := resp.Err(0); !errors.Is(err, catalog.ErrInvalid) {
		t.Fatalf("bad notify: %v", err)
	}
}
