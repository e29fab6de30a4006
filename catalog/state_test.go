package catalog

import (
	"encoding/json"
	"errors"
	"testing"
)

// TestStore_ExecutionStateMatchesTheRecord: ExecutionState reads the id,
// status and attempt of a stored execution (whose spec it leaves
// undecoded), and its CheckReport agrees with the whole record's in each
// state an attempt can be checked in.
func TestStore_ExecutionStateMatchesTheRecord(t *testing.T) {
	s := TestStore(t)
	e := &Execution{ID: 7, Status: StatusPending, CreatedAt: t0,
		ExecutionSpec: ExecutionSpec{Source: "name: p\ntasks: []\n", PackageName: "p"}}
	check := func(step string) {
		t.Helper()
		_ = s.View(func(tx *Tx) error {
			st, err := tx.ExecutionState(7)
			if err != nil {
				t.Fatalf("%s: %v", step, err)
			}
			if st.ID != e.ID || st.Status != e.Status || st.Attempt != e.Attempt {
				t.Errorf("%s: state %+v, record id %d status %s attempt %d", step, st, e.ID, e.Status, e.Attempt)
			}
			for a := 0; a <= 3; a++ {
				if got, want := st.CheckReport(a), e.CheckReport(a); (got == nil) != (want == nil) {
					t.Errorf("%s: CheckReport(%d) = %v, the record's %v", step, a, got, want)
				}
			}
			return nil
		})
	}
	put := func() {
		t.Helper()
		if err := s.Update(func(tx *Tx) error { return tx.PutExecution(e) }); err != nil {
			t.Fatal(err)
		}
	}
	put()
	check("pending")
	if _, err := e.Lease("w", 1, t0); err != nil {
		t.Fatal(err)
	}
	put()
	check("running attempt 1")
	if st := (ExecutionState{ID: 7, Status: StatusRunning, Attempt: 1}); st.CheckReport(1) != nil || st.CheckReport(2) == nil {
		t.Errorf("running attempt 1: CheckReport(1) %v, CheckReport(2) %v", st.CheckReport(1), st.CheckReport(2))
	}
	if _, err := e.Finish(1, StatusSucceeded, "", t0); err != nil {
		t.Fatal(err)
	}
	put()
	check("succeeded")

	_ = s.View(func(tx *Tx) error {
		if _, err := tx.ExecutionState(8); !errors.Is(err, ErrNotFound) {
			t.Errorf("ExecutionState(8) = %v, want ErrNotFound", err)
		}
		return nil
	})
}

// TestLeadingState: a record as PutExecution writes it has id, status and
// attempt first and is read without the rest; a record of the older
// layout (attempt after the spec) or a malformed one is not, and
// ExecutionState falls back to reading all of it.
func TestLeadingState(t *testing.T) {
	e := &Execution{ID: 3, Status: StatusRunning, Attempt: 2, ExecutionSpec: ExecutionSpec{Source: "name: p\n"}}
	v, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	var st ExecutionState
	if !leadingState(v, &st) || st != (ExecutionState{ID: 3, Status: StatusRunning, Attempt: 2}) {
		t.Fatalf("leadingState(%s) = %+v", v[:60], st)
	}
	// Whatever it reads agrees with a full decode; what it does not read
	// (too long, escaped, another layout) is left to the full decode.
	for _, e := range []Execution{{ID: 0, Status: StatusPending}, {ID: 1<<63 + 5, Status: "odd\"st", Attempt: 1},
		{ID: 99, Status: StatusStopping, Attempt: 1 << 40}, {ID: 12, Status: "", Attempt: 0}} {
		v, _ := json.Marshal(&e)
		var full, fast ExecutionState
		if err := json.Unmarshal(v, &full); err != nil {
			t.Fatal(err)
		}
		if leadingState(v, &fast) && fast != full {
			t.Errorf("leadingState(%s) = %+v, full decode %+v", v, fast, full)
		}
	}
	old := []byte(`{"id":3,"status":"running","source":"name: p\n","attempt":2}`)
	for _, bad := range [][]byte{old, []byte(`{"id":"x"}`), []byte(`[1]`), nil, []byte(`{"id":03,"status":"x","attempt":1}`),
		[]byte(`{"id":3,"status":"a\"b","attempt":1}`), []byte(`{"id":3,"status":"x","attempt":12`), []byte(`{"id":3,"status":"x","attempt":1x}`)} {
		if leadingState(bad, &ExecutionState{}) {
			t.Errorf("leadingState(%q) = true", bad)
		}
	}

	s := TestStore(t)
	if err := s.Update(func(tx *Tx) error {
		return tx.tx.Bucket(bucketExecutions).Put(u64key(3), old)
	}); err != nil {
		t.Fatal(err)
	}
	_ = s.View(func(tx *Tx) error {
		st, err := tx.ExecutionState(3)
		if err != nil || st != (ExecutionState{ID: 3, Status: StatusRunning, Attempt: 2}) {
			t.Errorf("ExecutionState of an older record = %+v, %v", st, err)
		}
		return nil
	})
}
