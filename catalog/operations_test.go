package catalog

import (
	"fmt"
	"testing"
	"time"
)

func TestOperations_PagesAndFilters(t *testing.T) {
	s := TestStore(t)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := s.Update(func(tx *Tx) error {
		for i := range 25 {
			op := &Operation{Type: "stop_execution", Object: fmt.Sprintf("execution %d A/p/x", i+1), Caller: []string{"a", "b"}[i%2],
				Time: t0.Add(time.Duration(i) * time.Minute), Result: "succeeded"}
			if err := tx.AppendOperation(op, time.Time{}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	list := func(f OperationFilter) ([]*Operation, uint64) {
		var ops []*Operation
		var next uint64
		if err := s.View(func(tx *Tx) error {
			var err error
			ops, next, err = tx.Operations(f, 1000)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return ops, next
	}
	var all []*Operation
	f := OperationFilter{Limit: 10}
	for pages := 0; ; pages++ {
		ops, next := list(f)
		all = append(all, ops...)
		if next == 0 {
			if pages != 2 {
				t.Fatalf("%d pages", pages+1)
			}
			break
		}
		f.After = next
	}
	if len(all) != 25 || all[0].ID != 1 || all[24].ID != 25 {
		t.Fatalf("pages: %d operations", len(all))
	}
	if ops, _ := list(OperationFilter{Object: "execution 1", Limit: 100}); len(ops) != 1 || ops[0].ID != 1 {
		t.Fatalf("object execution 1 matched %d", len(ops))
	}
	if ops, _ := list(OperationFilter{Object: "execution 1 A", Limit: 100}); len(ops) != 1 {
		t.Fatalf("object with folder matched %d", len(ops))
	}
	if ops, _ := list(OperationFilter{Caller: "b", Since: t0.Add(20 * time.Minute), Limit: 100}); len(ops) != 2 {
		t.Fatalf("caller b since 20m: %d", len(ops))
	}
	// Retention: an append removes old entries, a few at a time, oldest first.
	if err := s.Update(func(tx *Tx) error {
		return tx.AppendOperation(&Operation{Type: "x", Time: t0.Add(time.Hour), Result: "succeeded"}, t0.Add(time.Hour))
	}); err != nil {
		t.Fatal(err)
	}
	if ops, _ := list(OperationFilter{Limit: 100}); len(ops) != 26-maxPrunePerAppend || ops[0].ID != maxPrunePerAppend+1 {
		t.Fatalf("after pruning: %d, first %d", len(ops), ops[0].ID)
	}
}
