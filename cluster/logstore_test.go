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
