package catalog

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestStore_ExecutionsAndIndexes(t *testing.T) {
	s := TestStore(t)
	err := s.Update(func(tx *Tx) error {
		for i := 0; i < 5; i++ {
			id, err := tx.NextExecutionID()
			if err != nil {
				return err
			}
			if id != uint64(i+1) {
				return fmt.Errorf("id %d, want %d", id, i+1)
			}
			e := &Execution{ID: id, Status: StatusPending, CreatedAt: t0}
			if err := tx.AppendEvents(e, []Event{{Type: "status_change", Message: "x"}}); err != nil {
				return err
			}
			if err := tx.PutExecution(e); err != nil {
				return err
			}
		}
		return tx.SetApplied(7, 2)
	})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Update(func(tx *Tx) error {
		e, err := tx.Execution(2)
		if err != nil {
			return err
		}
		if _, err := e.Lease("w", 1, t0); err != nil {
			return err
		}
		return tx.PutExecution(e)
	})
	if err != nil {
		t.Fatal(err)
	}
	_ = s.View(func(tx *Tx) error {
		if got := tx.PendingIDs(0); fmt.Sprint(got) != "[1 3 4 5]" {
			t.Errorf("pending = %v", got)
		}
		active, _ := tx.ActiveExecutions()
		if len(active) != 1 || active[0].ID != 2 {
			t.Errorf("active = %v", active)
		}
		list, _ := tx.ListExecutions(ListOptions{Limit: 2})
		if len(list) != 2 || list[0].ID != 5 || list[1].ID != 4 {
			t.Errorf("list newest first = %v", ids(list))
		}
		list, _ = tx.ListExecutions(ListOptions{BeforeID: 4})
		if fmt.Sprint(ids(list)) != "[3 2 1]" {
			t.Errorf("list before 4 = %v", ids(list))
		}
		list, _ = tx.ListExecutions(ListOptions{Status: StatusRunning})
		if fmt.Sprint(ids(list)) != "[2]" {
			t.Errorf("list running = %v", ids(list))
		}
		if _, err := tx.Execution(99); !errors.Is(err, ErrNotFound) {
			t.Errorf("unknown id: %v", err)
		}
		if i, term := tx.Applied(); i != 7 || term != 2 {
			t.Errorf("applied = %d/%d", i, term)
		}
		return nil
	})
}

func ids(list []*Execution) []uint64 {
	var out []uint64
	for _, e := range list {
		out = append(out, e.ID)
	}
	return out
}

func TestStore_EventsPaging(t *testing.T) {
	s := TestStore(t)
	e := &Execution{ID: 1, Status: StatusPending}
	err := s.Update(func(tx *Tx) error {
		var evs []Event
		for i := 0; i < 25; i++ {
			evs = append(evs, Event{Type: "stdout", Message: fmt.Sprint(i)})
		}
		if err := tx.AppendEvents(e, evs); err != nil {
			return err
		}
		return tx.PutExecution(e)
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []Event
	var after uint64
	for {
		var page []Event
		_ = s.View(func(tx *Tx) error { page, err = tx.Events(1, after, 10); return err })
		if len(page) == 0 {
			break
		}
		got = append(got, page...)
		after = page[len(page)-1].Seq
	}
	if len(got) != 25 || got[0].Seq != 1 || got[24].Seq != 25 || got[24].Message != "24" {
		t.Fatalf("paged %d events: first %+v last %+v", len(got), got[0], got[len(got)-1])
	}
}

func TestStore_SnapshotRestoreRoundTrip(t *testing.T) {
	src := TestStore(t)
	_ = src.Update(func(tx *Tx) error {
		e := &Execution{ID: 1, Status: StatusPending, ExecutionSpec: ExecutionSpec{Params: map[string]string{"a": "b"}}}
		_ = tx.AppendEvents(e, []Event{{Type: "x", Message: "y"}})
		_ = tx.PutWorker(&Worker{ID: "w1", MaxTasks: 3, Enabled: true})
		_ = tx.SetApplied(10, 1)
		return tx.PutExecution(e)
	})
	sn, err := src.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := sn.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	sn.Release()

	dst := TestStore(t)
	if err := dst.Restore(bytes.NewReader(buf.Bytes())); err != nil {
		t.Fatal(err)
	}
	_ = dst.View(func(tx *Tx) error {
		e, err := tx.Execution(1)
		if err != nil || e.Params["a"] != "b" || e.EventCount != 1 {
			t.Errorf("restored execution %+v, %v", e, err)
		}
		if w, err := tx.Worker("w1"); err != nil || w.MaxTasks != 3 {
			t.Errorf("restored worker %+v, %v", w, err)
		}
		if i, _ := tx.Applied(); i != 10 {
			t.Errorf("restored applied index %d", i)
		}
		if p := tx.PendingIDs(0); len(p) != 1 {
			t.Errorf("restored pending index %v", p)
		}
		return nil
	})
	if err := dst.Restore(bytes.NewReader([]byte("garbage that is long enough"))); err == nil {
		t.Fatal("restore of garbage succeeded")
	}
}

func TestStore_ListExecutionsPageFiltersAndCursor(t *testing.T) {
	s := TestStore(t)
	err := s.Update(func(tx *Tx) error {
		for i := 1; i <= 30; i++ {
			e := &Execution{ID: uint64(i), Status: StatusPending, Caller: "ann", CreatedAt: t0.Add(time.Duration(i) * time.Minute)}
			e.PackageName = "load"
			if i%3 == 0 {
				e.PackageName, e.Folder, e.Project, e.Caller = "clean", "F", "P", "bob"
			}
			if err := tx.PutExecution(e); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	page := func(o ListOptions) ListResult {
		t.Helper()
		r, err := Read(s, func(tx *Tx) (ListResult, error) { return tx.ListExecutionsPage(o) })
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	// Filter by package, 4 per page: 30, 27, 24, 21; continue below 21.
	r := page(ListOptions{Package: "clean", Folder: "F", Project: "P", Caller: "bob", Limit: 4})
	if fmt.Sprint(ids(r.Executions)) != "[30 27 24 21]" || r.NextBefore != 21 {
		t.Errorf("first page = %v next %d", ids(r.Executions), r.NextBefore)
	}
	r = page(ListOptions{Package: "clean", Limit: 4, BeforeID: r.NextBefore})
	if fmt.Sprint(ids(r.Executions)) != "[18 15 12 9]" {
		t.Errorf("second page = %v", ids(r.Executions))
	}
	// A bounded scan stops after MaxScan looked at and says where to go on.
	r = page(ListOptions{Package: "clean", Limit: 100, MaxScan: 5})
	if fmt.Sprint(ids(r.Executions)) != "[30 27]" || r.NextBefore != 26 {
		t.Errorf("bounded scan = %v next %d, want [30 27] next 26", ids(r.Executions), r.NextBefore)
	}
	// The end: no cursor.
	if r = page(ListOptions{Package: "clean", Limit: 100}); len(r.Executions) != 10 || r.NextBefore != 0 {
		t.Errorf("all = %v next %d", ids(r.Executions), r.NextBefore)
	}
	// Time range [since, until): created at minutes 10..12.
	r = page(ListOptions{Since: t0.Add(10 * time.Minute), Until: t0.Add(13 * time.Minute)})
	if fmt.Sprint(ids(r.Executions)) != "[12 11 10]" {
		t.Errorf("time range = %v", ids(r.Executions))
	}
	if r = page(ListOptions{Worker: "nobody"}); len(r.Executions) != 0 {
		t.Errorf("worker filter = %v", ids(r.Executions))
	}
}
