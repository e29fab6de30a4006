package catalog

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

func TestStore_PendingByPriorityThenID(t *testing.T) {
	s := TestStore(t)
	prios := []int{0, 5, -3, 5, 0, MaxPriority, -MaxPriority}
	err := s.Update(func(tx *Tx) error {
		for i, p := range prios {
			e := &Execution{ID: uint64(i + 1), Status: StatusPending, ExecutionSpec: ExecutionSpec{Priority: p}}
			if err := tx.PutExecution(e); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	_ = s.View(func(tx *Tx) error {
		if got := fmt.Sprint(tx.PendingIDs(0)); got != "[6 2 4 1 5 3 7]" {
			t.Errorf("dispatch order = %s", got)
		}
		return nil
	})
	// Leasing and deleting take them out of the index.
	err = s.Update(func(tx *Tx) error {
		e, _ := tx.Execution(2)
		if _, err := e.Lease("w", 1, t0); err != nil {
			return err
		}
		if err := tx.PutExecution(e); err != nil {
			return err
		}
		return tx.DeleteExecution(6)
	})
	if err != nil {
		t.Fatal(err)
	}
	_ = s.View(func(tx *Tx) error {
		if got := fmt.Sprint(tx.PendingIDs(0)); got != "[4 1 5 3 7]" {
			t.Errorf("after lease and delete = %s", got)
		}
		return nil
	})
}

func TestStore_MigratesOldPendingIndex(t *testing.T) {
	path := filepath.Join(t.TempDir(), "catalog.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Update(func(tx *Tx) error {
		for i, p := range []int{0, 7} {
			e := &Execution{ID: uint64(i + 1), Status: StatusPending, ExecutionSpec: ExecutionSpec{Priority: p}}
			if err := tx.PutExecution(e); err != nil {
				return err
			}
		}
		// Rewrite the index as an older release wrote it: 8-byte ids.
		b := tx.tx.Bucket(bucketPending)
		for _, id := range []uint64{1, 2} {
			_ = b.Delete(pendingKey(map[uint64]int{1: 0, 2: 7}[id], id))
			if err := b.Put(u64key(id), nil); err != nil {
				return err
			}
		}
		if err := b.Put(u64key(99), nil); err != nil { // an entry without its execution
			return err
		}
		// A running execution of an older store is in no cap index.
		r := &Execution{ID: 3, Status: StatusRunning, ExecutionSpec: ExecutionSpec{PackageName: "r"}}
		if err := tx.PutExecution(r); err != nil {
			return err
		}
		return tx.putCapKeys(r, false)
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_ = s.View(func(tx *Tx) error {
		if got := fmt.Sprint(tx.PendingIDs(0)); got != "[2 1]" {
			t.Errorf("after migration = %s", got)
		}
		if n := tx.RunningUnder(Cap{Scope: CapCluster}, 0); n != 1 {
			t.Errorf("running under the cluster cap after migration: %d, want 1", n)
		}
		return nil
	})
}

func TestStore_Caps(t *testing.T) {
	s := TestStore(t)
	spec := ExecutionSpec{PackageName: "load", Folder: "f", Project: "p", ProjectVersion: 1, ArchiveHash: "h", PackageFile: "x.yaml"}
	err := s.Update(func(tx *Tx) error {
		if err := tx.SetCap(CapSetting{Cap: Cap{Scope: CapPackage, Folder: "f", Project: "p", Package: "load"}, MaxConcurrent: 2}); err != nil {
			return err
		}
		if err := tx.SetCap(CapSetting{Cap: Cap{Scope: CapCluster}, MaxConcurrent: 10}); err != nil {
			return err
		}
		for id := uint64(1); id <= 3; id++ {
			e := &Execution{ID: id, Status: StatusPending, ExecutionSpec: spec}
			if hit := tx.CapBlocked(&e.ExecutionSpec, nil); hit != nil {
				if id != 3 {
					return fmt.Errorf("execution %d blocked: %s", id, hit)
				}
				if want := "package f/p/load is at its max_concurrent of 2 (2 running)"; hit.String() != want {
					return fmt.Errorf("hit = %q, want %q", hit, want)
				}
				continue
			}
			if _, err := e.Lease("w", 1, t0); err != nil {
				return err
			}
			if err := tx.PutExecution(e); err != nil {
				return err
			}
		}
		if n := tx.RunningUnder(Cap{Scope: CapCluster}, 0); n != 2 {
			return fmt.Errorf("cluster runs %d, want 2", n)
		}
		if hit := tx.CapBlocked(&ExecutionSpec{PackageName: "other", Source: "x"}, map[string]int{"c": 8}); hit == nil || hit.Scope != CapCluster {
			return fmt.Errorf("cluster cap with 8 more decided: %v", hit)
		}
		// A finished execution frees its slot.
		e, _ := tx.Execution(1)
		if _, err := e.Finish(1, StatusSucceeded, "", t0); err != nil {
			return err
		}
		if err := tx.PutExecution(e); err != nil {
			return err
		}
		if hit := tx.CapBlocked(&spec, nil); hit != nil {
			return fmt.Errorf("still blocked after a finish: %s", hit)
		}
		got := tx.CapSettings()
		if len(got) != 2 || got[0].Scope != CapCluster || got[1].Package != "load" || got[1].MaxConcurrent != 2 {
			return fmt.Errorf("settings = %+v", got)
		}
		return tx.SetCap(CapSetting{Cap: Cap{Scope: CapCluster}})
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []CapSetting{
		{Cap: Cap{Scope: "planet"}, MaxConcurrent: 1},
		{Cap: Cap{Scope: CapProject, Folder: "f"}, MaxConcurrent: 1},
		{Cap: Cap{Scope: CapCluster, Folder: "f"}, MaxConcurrent: 1},
		{Cap: Cap{Scope: CapFolder, Folder: "a\x00b"}, MaxConcurrent: 1},
		{Cap: Cap{Scope: CapCluster}, MaxConcurrent: -1},
	} {
		if err := CheckCap(bad); err == nil {
			t.Errorf("CheckCap(%+v) accepted", bad)
		}
	}
}

func TestStore_UnstartedExecutions(t *testing.T) {
	s := TestStore(t)
	err := s.Update(func(tx *Tx) error {
		for i := 1; i <= 3; i++ {
			e := &Execution{ID: uint64(i), Status: StatusCreated, CreatedAt: t0.Add(time.Duration(i) * time.Hour)}
			if err := tx.PutExecution(e); err != nil {
				return err
			}
		}
		e, _ := tx.Execution(1)
		if _, err := e.Start("", t0); err != nil {
			return err
		}
		return tx.PutExecution(e)
	})
	if err != nil {
		t.Fatal(err)
	}
	_ = s.View(func(tx *Tx) error {
		ids, err := tx.UnstartedExecutions(t0.Add(150*time.Minute), 10)
		if err != nil || fmt.Sprint(ids) != "[2]" {
			t.Errorf("unstarted = %v, %v", ids, err)
		}
		return nil
	})
}
