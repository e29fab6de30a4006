package catalog

import (
	"errors"
	"slices"
	"testing"
	"time"
)

// TestStore_NotifyIndex: an ended execution whose package notifies on its
// outcome is in the notify index until the delivery is recorded;
// retention keeps it until then and removes the index entry with it.
func TestStore_NotifyIndex(t *testing.T) {
	s := TestStore(t)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	e := &Execution{ID: 7, Status: StatusRunning, CreatedAt: now, ExecutionSpec: ExecutionSpec{PackageName: "p", Source: "x",
		Notify: &Notify{On: []string{"failure"}, Webhook: "http://h/x"}}}
	pending := func() []uint64 {
		ids, _ := Read(s, func(tx *Tx) ([]uint64, error) { return slices.Collect(tx.NotifyPending()), nil })
		return ids
	}
	put := func() {
		if err := s.Update(func(tx *Tx) error { return tx.PutExecution(e) }); err != nil {
			t.Fatal(err)
		}
	}
	put()
	if p := pending(); len(p) != 0 {
		t.Fatalf("running: %v", p)
	}
	end := now.Add(time.Second)
	e.Status, e.EndedAt = StatusEndedUnexpectedly, &end
	put()
	if p := pending(); !slices.Equal(p, []uint64{7}) {
		t.Fatalf("ended unexpectedly (a failure): %v", p)
	}
	if e.Expired(end.Add(time.Hour)) {
		t.Fatal("retention would remove an execution whose notification is not delivered")
	}
	e.Notified = &Delivery{Delivered: true, Attempts: 1}
	put()
	if p := pending(); len(p) != 0 || !e.Expired(end.Add(time.Hour)) {
		t.Fatalf("after the record: %v, expired %t", p, e.Expired(end.Add(time.Hour)))
	}
	// Deleting an execution removes its index entry.
	e.Notified = nil
	put()
	if err := s.Update(func(tx *Tx) error { return tx.DeleteExecution(7) }); err != nil {
		t.Fatal(err)
	}
	if p := pending(); len(p) != 0 {
		t.Fatalf("after the delete: %v", p)
	}
}

func TestExecutionSpec_CheckNotify(t *testing.T) {
	for _, n := range []*Notify{
		{On: []string{"failure"}},
		{On: []string{"failure"}, Webhook: "mailto:x@y"},
		{On: []string{"never"}, Webhook: "http://h"},
		{On: nil, Webhook: "http://h"},
		{On: []string{"failure"}, Webhook: "http://h", Headers: map[string]string{"": "v"}},
	} {
		s := ExecutionSpec{PackageName: "p", Source: "x", Notify: n}
		if err := s.Check(); !errors.Is(err, ErrInvalid) {
			t.Errorf("%+v: %v", n, err)
		}
	}
	s := ExecutionSpec{PackageName: "p", Source: "x", Notify: &Notify{On: []string{"success", "failure"}, Webhook: "https://h/x"}}
	if err := s.Check(); err != nil {
		t.Fatal(err)
	}
}
