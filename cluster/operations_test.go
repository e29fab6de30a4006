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
