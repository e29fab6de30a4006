package raftbench

import (
	"context"
	"testing"
	"time"
)

// TestRun checks that the baseline cluster forms and applies; it asserts no
// speed.
func TestRun(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three Raft servers")
	}
	c, err := Start(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	res, err := c.Run(context.Background(), Config{Concurrency: 4, Duration: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if res.Applies == 0 || res.P99 < res.P50 {
		t.Fatalf("implausible result %+v", res)
	}
}
