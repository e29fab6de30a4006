package agent

import (
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scaleout/scaleout/catalog"
)

// TestDefaultConfig pins the documented defaults of `scaleout agent`
// (README, docs/ARCHITECTURE.md), now that they come from the components.
func TestDefaultConfig(t *testing.T) {
	c := DefaultConfig()
	if !c.Server || c.HTTPAddr != ":8391" || c.Bind != "0.0.0.0" || c.RaftPort != 8392 || c.GossipPort != 8393 ||
		c.MaxVoters != 5 || c.DeadServerGrace != 10*time.Minute || c.MaxTasks != 10 ||
		c.LeaseTimeout != 10*time.Second || c.Heartbeat != 2*time.Second || c.KillGrace != 3*time.Second ||
		c.DrainTimeout != 30*time.Second || c.MaxBodyBytes != 16<<20 || c.Dev || c.CoalesceMax != 256 {
		t.Fatalf("defaults changed: %+v", c)
	}
	d := DevConfig()
	if !d.Dev || d.HTTPAddr != "127.0.0.1:8391" || d.Bind != "127.0.0.1" || d.RaftPort != 0 || d.GossipPort != 0 ||
		d.MaxVoters != c.MaxVoters || d.LeaseTimeout != c.LeaseTimeout {
		t.Fatalf("dev defaults: %+v", d)
	}
}

// TestStack_RunsInReverseOnce checks the cleanup stack New and Shutdown use.
func TestStack_RunsInReverseOnce(t *testing.T) {
	var s stack
	var got []int
	for i := range 3 {
		s.push(func() { got = append(got, i) })
	}
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() { defer wg.Done(); s.run() }()
	}
	wg.Wait()
	s.run()
	if !slices.Equal(got, []int{2, 1, 0}) {
		t.Fatalf("ran %v, want [2 1 0] once", got)
	}
}

// TestNew_FailureUndoesEarlierSteps makes the catalog step fail (no
// encryption key) and checks that what the earlier steps started is
// stopped: the API port is free again and a new agent opens the same data
// dir (Raft's files are closed).
func TestNew_FailureUndoesEarlierSteps(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg := DevConfig()
	cfg.Node, cfg.DataDir, cfg.HTTPAddr, cfg.ExecCommand = "n1", t.TempDir(), addr, []string{"true"}
	if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), "encryption key") {
		t.Fatalf("New without a key: %v, want the catalog's error", err)
	}
	ln, err = net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("API listener left open after a failed New: %v", err)
	}
	ln.Close()

	key, err := catalog.ParseKey(catalog.GenerateKey())
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Catalog.Cipher, err = catalog.NewCipher(key); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	var a *Agent
	go func() {
		var err error
		a, err = New(cfg)
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("New on the same data dir after a failed New: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("New on the same data dir hangs: the failed New left Raft's files open")
	}
	a.Shutdown()
	a.Shutdown() // a second call is harmless
}

// TestConfig_RefusesNegativeHTTPSettings: a negative connection cap or
// header timeout is a clear error, not silently "no cap" or "the default".
func TestConfig_RefusesNegativeHTTPSettings(t *testing.T) {
	base := DevConfig()
	base.Node, base.DataDir, base.ExecCommand = "n1", t.TempDir(), []string{"true"}
	if err := base.Validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	c := base
	c.MaxConnections = -1
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "max connections") {
		t.Errorf("max connections -1: %v", err)
	}
	c = base
	c.HeaderTimeout = -time.Second
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "header timeout") {
		t.Errorf("header timeout -1s: %v", err)
	}
	for _, warm := range []int{-1, base.MaxTasks + 1} {
		c = base
		c.WarmChildren = warm
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "warm children") {
			t.Errorf("warm children %d with max tasks %d: %v", warm, base.MaxTasks, err)
		}
	}
}

// TestConfig_ValidateTaskSettings: the package processes' settings are
// checked before the agent starts anything.
func TestConfig_ValidateTaskSettings(t *testing.T) {
	c := DevConfig()
	c.Node, c.DataDir, c.ExecCommand = "n1", t.TempDir(), []string{"true"}
	if err := c.Validate(); err != nil {
		t.Fatalf("dev config: %v", err)
	}
	c.TaskEnvAllow = []string{"PGHOST", "SCALEOUT_ENCRYPT_KEY"}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), `task env allow "SCALEOUT_ENCRYPT_KEY": an agent credential`) {
		t.Errorf("credential allowed: %v", err)
	}
	c.TaskEnvAllow, c.TaskAllowPaths = nil, []string{"srv/etl"}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), `task allow path "srv/etl" is not an absolute path`) {
		t.Errorf("relative allow path: %v", err)
	}
}
