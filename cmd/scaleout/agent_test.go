package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestAgentCmd_FileAndFlags loads the agent command's flags as runAgent
// does: file values apply, flags given override them, the rest keeps the
// defaults. The precedence rules themselves are tested in package config.
func TestAgentCmd_FileAndFlags(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "agent.yaml")
	if err := os.WriteFile(file, []byte(`node: from-file
data_dir: /var/lib/so
bootstrap_expect: 3
join: [10.0.0.1:8393, 10.0.0.2:8393]
labels: {zone: a}
lease_timeout: 20s
max_tasks: 4
keep_versions: 3
`), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd, f := newAgentCmdWithFlags()
	if err := cmd.ParseFlags([]string{"--config", file, "--max-tasks", "7", "--labels", "zone=b,gpu=yes"}); err != nil {
		t.Fatal(err)
	}
	s, err := f.Load()
	if err != nil {
		t.Fatal(err)
	}
	c := s.AgentConfig()
	if c.Node != "from-file" || c.DataDir != "/var/lib/so" || c.BootstrapExpect != 3 || len(c.Join) != 2 ||
		c.LeaseTimeout != 20*time.Second || s.LogLevel != "info" || c.Catalog.KeepVersions != 3 {
		t.Fatalf("file values not applied: %+v", c)
	}
	if c.MaxTasks != 7 || c.Labels["zone"] != "b" || c.Labels["gpu"] != "yes" {
		t.Fatalf("flags do not override the file: max tasks %d labels %v", c.MaxTasks, c.Labels)
	}
	if c.HTTPAddr != ":8391" || c.RaftPort != 8392 || c.GossipPort != 8393 || !c.Server || c.MaxVoters != 5 ||
		c.Catalog.MaxEvents != 100_000 {
		t.Fatalf("defaults: %+v", c)
	}
}

func TestAgentCmd_Errors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("nod: typo\n"), 0o600)
	cases := map[string]struct {
		args []string
		want string
	}{
		"unknown key":   {[]string{"--config", bad}, "nod"},
		"missing file":  {[]string{"--config", filepath.Join(dir, "none.yaml")}, "none.yaml"},
		"dev with join": {[]string{"--dev", "--join", "1.2.3.4:8393"}, "one-node"},
	}
	for name, c := range cases {
		cmd, f := newAgentCmdWithFlags()
		if err := cmd.ParseFlags(c.args); err != nil {
			t.Fatal(err)
		}
		_, err := f.Load()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want it to mention %q", name, err, c.want)
		}
	}
	// A malformed --labels is refused when the flags are parsed.
	cmd, _ := newAgentCmdWithFlags()
	if err := cmd.ParseFlags([]string{"--labels", "zone"}); err == nil || !strings.Contains(err.Error(), "key=value") {
		t.Errorf("bad labels: err = %v, want it to mention key=value", err)
	}
}

func TestE2E_AgentUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"agent", "--data-dir", t.TempDir()},                   // neither --bootstrap-expect nor --join
		{"agent", "--server=false", "--data-dir", t.TempDir()}, // worker-only without --join
		{"agent", "--bootstrap-expect", "3"},                   // no data dir
		{"agent", "--dev", "--max-tasks", "0"},                 // nonsense value
		{"agent", "--dev", "--heartbeat", "20s"},               // heartbeat longer than the lease
		{"agent", "--dev", "--log-level", "loud"},              // unknown level
		{"agent", "--dev", "--labels", "zone"},                 // label without a value
	} {
		r := cli(t, "", args...)
		if r.code != 2 || r.stderr == "" {
			t.Errorf("%v: exit %d, stderr %q; want 2 and a message", args, r.code, r.stderr)
		}
	}
}
