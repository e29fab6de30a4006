package cluster

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/scaleout/scaleout/catalog"
	"github.com/scaleout/scaleout/fsm"
)

func testConfig(t *testing.T, dir string) Config {
	c := DevConfig()
	c.NodeName = "n1"
	c.DataDir = dir
	c.APIAddr = "http://127.0.0.1:1"
	c.Logger = hclog.New(&hclog.LoggerOptions{Name: t.Name(), Level: hclog.Warn, Output: newTestWriter(t)})
	return c
}

// testWriter routes logs to t.Log until the test ends (gossip goroutines may
// log after Shutdown, which t.Log does not allow).
type testWriter struct {
	t    *testing.T
	done *atomic.Bool
}

func newTestWriter(t *testing.T) testWriter {
	w := testWriter{t: t, done: new(atomic.Bool)}
	t.Cleanup(func() { w.done.Store(true) })
	return w
}

func (w testWriter) Write(p []byte) (int, error) {
	if !w.done.Load() {
		w.t.Log(string(p))
	}
	return len(p), nil
}

// newTestCluster starts a cluster node, shut down when the test ends.
func newTestCluster(t *testing.T, cfg Config) *Cluster {
	t.Helper()
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Shutdown() })
	return c
}

// start starts the one-node cluster n1 and waits until it leads.
func start(t *testing.T, cfg Config) *Cluster {
	t.Helper()
	c := newTestCluster(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	li, err := c.WaitForLeader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if li.Node != "n1" || li.API != cfg.APIAddr {
		t.Fatalf("leader %+v", li)
	}
	return c
}

func submit(t *testing.T, c *Cluster, n int) []uint64 {
	t.Helper()
	req := &fsm.ExecutionSubmitRequest{Time: time.Now()}
	for i := 0; i < n; i++ {
		req.Executions = append(req.Executions, fsm.NewExecution{ExecutionSpec: catalog.ExecutionSpec{PackageName: "p", Source: "x"}})
	}
	resp, _, err := c.Apply(context.Background(), fsm.ExecutionSubmitType, req)
	if err != nil {
		t.Fatal(err)
	}
	return resp.(*fsm.SubmitResponse).IDs
}

func count(t *testing.T, c *Cluster) int {
	t.Helper()
	var n int
	_ = c.Store().View(func(tx *catalog.Tx) error {
		list, err := tx.ListExecutions(catalog.ListOptions{Limit: 100000})
		n = len(list)
		return err
	})
	return n
}

func TestCluster_ApplyBusinessError(t *testing.T) {
	c := start(t, testConfig(t, t.TempDir()))
	_, _, err := c.Apply(context.Background(), fsm.ExecutionStopType, &fsm.ExecutionStopRequest{Time: time.Now(), ID: 5})
	if err == nil {
		t.Fatal("stop of an unknown execution succeeded")
	}
	if !c.IsLeader() {
		t.Fatal("single server is not leader")
	}
}

// TestCluster_RestartKeepsState restarts a server on the same directory,
// without and with a snapshot, and checks that nothing is lost or applied
// twice (the id counter continues where it was).
func TestCluster_RestartKeepsState(t *testing.T) {
	dir := t.TempDir()
	c := start(t, testConfig(t, dir))
	submit(t, c, 3)
	if err := c.Shutdown(); err != nil {
		t.Fatal(err)
	}

	c = restart(t, dir, 3, "restart")
	if ids := submit(t, c, 1); ids[0] != 4 {
		t.Fatalf("id after restart %v, want 4", ids)
	}
	if err := c.Snapshot(); err != nil {
		t.Fatal(err)
	}
	submit(t, c, 1)
	_ = c.Shutdown()

	// Lose the catalog file entirely: the snapshot plus the log rebuild it.
	if err := os.Remove(filepath.Join(dir, "catalog.db")); err != nil {
		t.Fatal(err)
	}
	c = restart(t, dir, 5, "rebuild from snapshot")
	if ids := submit(t, c, 1); ids[0] != 6 {
		t.Fatalf("id after rebuild %v, want 6", ids)
	}
}

func TestCluster_CorruptCatalogIsRebuilt(t *testing.T) {
	dir := t.TempDir()
	c := start(t, testConfig(t, dir))
	submit(t, c, 2)
	_ = c.Shutdown()
	if err := os.WriteFile(filepath.Join(dir, "catalog.db"), []byte("this is not a bbolt file, not at all"), 0o600); err != nil {
		t.Fatal(err)
	}
	restart(t, dir, 2, "rebuild from the log")
}

// restart starts a server on dir again and checks, after a barrier, that
// it holds want executions (after what).
func restart(t *testing.T, dir string, want int, what string) *Cluster {
	t.Helper()
	c := start(t, testConfig(t, dir))
	if err := c.Barrier(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := count(t, c); n != want {
		t.Fatalf("%d executions after %s, want %d", n, what, want)
	}
	return c
}

func TestConfig_Validate(t *testing.T) {
	for name, mut := range map[string]func(*Config){
		"no node":  func(c *Config) { c.NodeName = "" },
		"no dir":   func(c *Config) { c.DataDir = "" },
		"no bind":  func(c *Config) { c.RaftBind = "" },
		"no apply": func(c *Config) { c.ApplyTimeout = 0 },
	} {
		c := testConfig(t, t.TempDir())
		mut(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: no error", name)
		}
		if _, err := New(c); err == nil {
			t.Errorf("%s: New accepted the config", name)
		}
	}
}

// TestCluster_ReportsKeyMismatch: a server gossiping another key id is
// reported in the log as soon as it joins.
func TestCluster_ReportsKeyMismatch(t *testing.T) {
	var mu sync.Mutex
	var logs strings.Builder
	out := writerFunc(func(p []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return logs.Write(p) })
	mk := func(name, key string, join []string) *Cluster {
		c := DevConfig()
		c.NodeName, c.DataDir, c.KeyID, c.Join = name, t.TempDir(), key, join
		c.Bootstrap = name == "a"
		c.Logger = hclog.New(&hclog.LoggerOptions{Level: hclog.Error, Output: out})
		cl, err := New(c)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cl.Shutdown() })
		return cl
	}
	a := mk("a", "key1", nil)
	mk("b", "key2", []string{a.GossipAddr()})
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		found := strings.Contains(logs.String(), "different encryption key")
		mu.Unlock()
		if found {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no key mismatch reported; logs:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
