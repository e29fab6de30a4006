package cluster

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/scaleout/scaleout/catalog"
	"github.com/scaleout/scaleout/catalog/service"
	"github.com/scaleout/scaleout/fsm"
)

// TestCluster_OperationsWaitForEveryServer: a change is recorded in the
// operations log with the caller from the context; while a server of the
// configuration does not gossip the command level (an older version), the
// change is made but not wrapped, and the new command types are refused.
func TestCluster_OperationsWaitForEveryServer(t *testing.T) {
	c := start(t, testConfig(t, t.TempDir()))
	ops := func() []*catalog.Operation {
		out, err := catalog.Read(c.Store(), func(tx *catalog.Tx) ([]*catalog.Operation, error) {
			ops, _, err := tx.Operations(catalog.OperationFilter{Limit: 100}, 1000)
			return ops, err
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	ctx := service.WithCaller(context.Background(), "alice")
	if _, _, err := c.Apply(ctx, fsm.FolderCreateType, &fsm.FolderCreateRequest{Time: time.Now(), Name: "F"}); err != nil {
		t.Fatal(err)
	}
	if got := ops(); len(got) != 1 || got[0].Caller != "alice" || got[0].Type != "create_folder" || got[0].Object != "F" {
		t.Fatalf("operations %+v", got)
	}

	// n1 as an older version would gossip it: no Ops.
	c.mem.mu.Lock()
	c.mem.members["n1"].Meta.Ops = 0
	c.mem.mu.Unlock()
	c.ops.mu.Lock()
	c.ops.at = time.Time{}
	c.ops.mu.Unlock()
	if _, _, err := c.Apply(ctx, fsm.FolderCreateType, &fsm.FolderCreateRequest{Time: time.Now(), Name: "G"}); err != nil {
		t.Fatal(err)
	}
	if got := ops(); len(got) != 1 {
		t.Fatalf("a change was wrapped while an older server is in the configuration: %d operations", len(got))
	}
	_, _, err := c.Apply(ctx, fsm.ACLTokenRevokeType, &fsm.ACLTokenRevokeRequest{Time: time.Now(), ID: "x"})
	if !errors.Is(err, service.ErrOlderServers) || !strings.Contains(err.Error(), "n1") {
		t.Fatalf("ACL command with an older server: %v", err)
	}
}

// TestCluster_SubmitLeaseWaitsForLevel2: the submission that leases (70)
// is written only while every server gossips level 2; a server at level 1
// (the version before) still gets wrapped operations, but not that
// command.
func TestCluster_SubmitLeaseWaitsForLevel2(t *testing.T) {
	c := start(t, testConfig(t, t.TempDir()))
	if !c.Supports(fsm.ExecutionSubmitLeaseType) || !c.Supports(fsm.ExecutionSubmitType) {
		t.Fatal("a one-server cluster of this version does not support its own commands")
	}
	c.mem.mu.Lock()
	c.mem.members["n1"].Meta.Ops = 1
	c.mem.mu.Unlock()
	c.ops.mu.Lock()
	c.ops.at = time.Time{}
	c.ops.mu.Unlock()
	if c.Supports(fsm.ExecutionSubmitLeaseType) || !c.Supports(fsm.ACLTokenRevokeType) {
		t.Fatal("level 1: want the ACL commands and not the submission that leases")
	}
	req := &fsm.ExecutionSubmitLeaseRequest{ExecutionSubmitRequest: fsm.ExecutionSubmitRequest{Time: time.Now(), Caller: "test",
		Executions: []fsm.NewExecution{{ExecutionSpec: catalog.ExecutionSpec{PackageName: "p", Source: "name: p"}}}}}
	if _, _, err := c.Apply(context.Background(), fsm.ExecutionSubmitLeaseType, req); !errors.Is(err, service.ErrOlderServers) || !strings.Contains(err.Error(), "n1") {
		t.Fatalf("submission that leases with a level-1 server: %v", err)
	}
	ctx := service.WithCaller(context.Background(), "alice")
	if _, _, err := c.Apply(ctx, fsm.FolderCreateType, &fsm.FolderCreateRequest{Time: time.Now(), Name: "F"}); err != nil {
		t.Fatal(err)
	}
	ops, err := catalog.Read(c.Store(), func(tx *catalog.Tx) ([]*catalog.Operation, error) {
		ops, _, err := tx.Operations(catalog.OperationFilter{Limit: 100}, 1000)
		return ops, err
	})
	if err != nil || len(ops) != 1 {
		t.Fatalf("level 1 still wraps operations: %d, %v", len(ops), err)
	}
}
