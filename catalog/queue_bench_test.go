package catalog

import (
	"fmt"
	"testing"
)

// BenchmarkPendingScan measures the read side of one lease decision: the
// pending index in dispatch order with its caps, over a store that also
// holds many ended executions (which the index never reads). "capped":
// every pending execution is under a full cap, so the scan passes over
// all of them without decoding one (the worst case for a cap with a long
// queue); "open": it decodes the first 64 as a lease of 64 slots would.
func BenchmarkPendingScan(b *testing.B) {
	for _, ended := range []int{0, 100_000} {
		s := TestStore(b)
		spec := ExecutionSpec{PackageName: "p", Source: "name: p\ntasks: []\n", MaxConcurrent: 1}
		err := s.Update(func(tx *Tx) error {
			id := uint64(0)
			for i := 0; i < ended; i++ {
				id++
				e := &Execution{ID: id, Status: StatusSucceeded, ExecutionSpec: spec}
				if err := tx.PutExecution(e); err != nil {
					return err
				}
			}
			id++
			run := &Execution{ID: id, Status: StatusRunning, ExecutionSpec: spec}
			if err := tx.PutExecution(run); err != nil {
				return err
			}
			for i := 0; i < 1000; i++ {
				id++
				e := &Execution{ID: id, Status: StatusPending, ExecutionSpec: spec}
				if err := tx.PutExecution(e); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("capped/1000-pending/%d-ended", ended), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				_ = s.View(func(tx *Tx) error {
					n := 0
					caps := NewCapCounter(tx)
					for _, m := range tx.PendingEntries(0) {
						if caps.Full(m) {
							n++
						}
					}
					if n != 1000 {
						b.Fatalf("%d capped", n)
					}
					return nil
				})
			}
		})
		b.Run(fmt.Sprintf("open/64-of-1000-pending/%d-ended", ended), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				_ = s.View(func(tx *Tx) error {
					n := 0
					for id := range tx.PendingEntries(0) {
						if _, err := tx.Execution(id); err != nil {
							return err
						}
						if n++; n == 64 {
							break
						}
					}
					return nil
				})
			}
		})
	}
}
