package cluster

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/scaleout/scaleout/catalog"
	"github.com/scaleout/scaleout/fsm"
)

// TestCluster_RaftLogFailureIs507 fails the writes to raft.db as a full
// disk would, on a one-server cluster: the write is answered with
// ErrStorage (507) naming the disk, not a bare error (500), the server
// reports itself unhealthy, and once raft.db takes writes again it leads
// and commits by itself and is healthy.
func TestCluster_RaftLogFailureIs507(t *testing.T) {
	c := start(t, testConfig(t, t.TempDir()))
	submit(t, c, 1)
	errDisk := errors.New("write raft.db: no space left on device")
	c.logStore.fault.Store(&errDisk)
	req := &fsm.ExecutionSubmitRequest{Time: time.Now()}
	req.Executions = append(req.Executions, fsm.NewExecution{ExecutionSpec: catalog.ExecutionSpec{PackageName: "p", Source: "x"}})
	_, _, err := c.Apply(context.Background(), fsm.ExecutionSubmitType, req)
	if !errors.Is(err, catalog.ErrStorage) || !strings.Contains(err.Error(), "no space left on device") {
		t.Fatalf("write while raft.db fails: %v, want ErrStorage naming the disk", err)
	}
	if err := c.StorageHealth(); !errors.Is(err, catalog.ErrStorage) || !strings.Contains(err.Error(), "raft log") {
		t.Fatalf("health while raft.db fails: %v", err)
	}
	if _, _, err := c.Apply(context.Background(), fsm.ExecutionSubmitType, req); !errors.Is(err, catalog.ErrStorage) {
		t.Fatalf("next write: %v, want ErrStorage at once", err)
	}
	c.logStore.fault.Store(nil)
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, _, err = c.Apply(context.Background(), fsm.ExecutionSubmitType, req)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no write accepted after raft.db works again: %v", err)
		}
		time.Sleep(100 * time.Millisecond) // the pace of the retry
	}
	if err := c.StorageHealth(); err != nil {
		t.Fatalf("health after recovery: %v", err)
	}
}

// TestCluster_UnpersistableTermWaitsForTheDisk: a server whose raft.db
// cannot record a new term (a full disk) neither crashes (hashicorp/raft
// panics when setCurrentTerm fails) nor leads: it reports itself unhealthy
// naming the term, goes on by itself once the disk takes writes again, and
// shuts down cleanly while it waits. Nothing acknowledged is lost.
func TestCluster_UnpersistableTermWaitsForTheDisk(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	c := start(t, cfg)
	submit(t, c, 2)
	if err := c.Shutdown(); err != nil {
		t.Fatal(err)
	}

	// Restarted, the server must win an election in a new term: the
	// term's write fails.
	errDisk := errors.New("write raft.db: no space left on device")
	failing := cfg
	failing.logStoreHook = func(s *logStore) { s.stableFault.Store(&errDisk) }
	waitUnhealthy := func(c *Cluster) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for {
			err := c.StorageHealth()
			if err != nil && errors.Is(err, catalog.ErrStorage) && strings.Contains(err.Error(), "cannot record Raft term") &&
				strings.Contains(err.Error(), "no space left on device") {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("health while the term cannot be written: %v", err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	c = newTestCluster(t, failing)
	waitUnhealthy(c)
	if c.IsLeader() {
		t.Fatal("a server that cannot record its term leads")
	}
	// raft's main loop answers no configuration request while it waits:
	// the peers are refused at once, not after the disk's failure.
	if _, err := c.Peers(); !errors.Is(err, catalog.ErrStorage) {
		t.Fatalf("peers while the term write waits: %v", err)
	}
	c.logStore.stableFault.Store(nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := c.WaitForLeader(ctx); err != nil {
		t.Fatalf("no leader once the disk takes writes again: %v", err)
	}
	if ids := submit(t, c, 1); ids[0] != 3 {
		t.Fatalf("id after recovery %v, want 3", ids)
	}
	if err := c.StorageHealth(); err != nil {
		t.Fatalf("health after recovery: %v", err)
	}
	if err := c.Shutdown(); err != nil {
		t.Fatal(err)
	}

	// A shutdown while the term write waits: raft's shutdown completes.
	c = newTestCluster(t, failing)
	waitUnhealthy(c)
	done := make(chan error, 1)
	go func() { done <- c.Shutdown() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("shutdown while the term write waits: %v", err)
		}
	case <-time.After(2 * time.Minute): // only a hang gets here
		t.Fatal("shutdown hangs while the term write waits for the disk")
	}
	c = restart(t, dir, 3, "after the disk recovered")
	if ids := submit(t, c, 1); ids[0] != 4 {
		t.Fatalf("id after restart %v, want 4", ids)
	}
}
