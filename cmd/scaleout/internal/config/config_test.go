package config

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/scaleout/scaleout/cluster/agent"
	"github.com/spf13/pflag"
)

// load parses args as the agent command would and loads the settings, with
// the config file written from yml when it is not empty.
func load(t *testing.T, yml string, args ...string) (Settings, error) {
	t.Helper()
	if yml != "" {
		file := filepath.Join(t.TempDir(), "agent.yaml")
		if err := os.WriteFile(file, []byte(yml), 0o600); err != nil {
			t.Fatal(err)
		}
		args = append([]string{"--config", file}, args...)
	}
	fs := pflag.NewFlagSet("agent", pflag.ContinueOnError)
	f := AddFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatalf("parse %v: %v", args, err)
	}
	return f.Load()
}

func mustLoad(t *testing.T, yml string, args ...string) Settings {
	t.Helper()
	s, err := load(t, yml, args...)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	return s
}

func TestLoad_DefaultsComeFromTheComponents(t *testing.T) {
	s := mustLoad(t, "", "--node", "n1")
	want := Default(false)
	want.Node = "n1"
	if !reflect.DeepEqual(s, want) {
		t.Fatalf("got %+v\nwant %+v", s, want)
	}
	d := agent.DefaultConfig()
	if s.MaxVoters != d.MaxVoters || s.DeadServerGrace != d.DeadServerGrace || s.LeaseTimeout != d.LeaseTimeout ||
		s.KeepVersions != d.Catalog.KeepVersions || s.Retention != d.Catalog.Retention || s.LogLevel != "info" {
		t.Fatalf("defaults differ from agent.DefaultConfig: %+v", s)
	}
	if h, _ := os.Hostname(); h != "" && mustLoad(t, "").Node != h {
		t.Fatal("no --node: want the host name")
	}
}

// TestLoad_Precedence checks default < config file < flag given, and that
// a flag not given leaves the file's value even where the flag's default
// differs from it.
func TestLoad_Precedence(t *testing.T) {
	yml := `max_voters: 3
lease_timeout: 20s
labels: {zone: a}
join: [10.0.0.1:8393]
log_level: debug
keep_versions: 4
server: false
`
	s := mustLoad(t, yml)
	if s.MaxVoters != 3 || s.LeaseTimeout != 20*time.Second || s.Labels["zone"] != "a" || len(s.Join) != 1 ||
		s.LogLevel != "debug" || s.KeepVersions != 4 || s.Server {
		t.Fatalf("file values not applied: %+v", s)
	}
	if s.MaxTasks != Default(false).MaxTasks || s.HTTPAddr != Default(false).HTTPAddr {
		t.Fatalf("a key the file does not set lost its default: %+v", s)
	}

	// Flags given explicitly win, even when they repeat the default.
	s = mustLoad(t, yml, "--max-voters", "5", "--lease-timeout", "10s", "--labels", "", "--join", "a:1", "--join", "b:2",
		"--log-level", "info", "--keep-versions", "10", "--server")
	if s.MaxVoters != 5 || s.LeaseTimeout != 10*time.Second || len(s.Labels) != 0 || len(s.Join) != 2 ||
		s.LogLevel != "info" || s.KeepVersions != 10 || !s.Server {
		t.Fatalf("explicit flags do not override the file: %+v", s)
	}
	// A flag that was not given does not override the file (only
	// --max-tasks is given here).
	s = mustLoad(t, yml, "--max-tasks", "2")
	if s.MaxTasks != 2 || s.MaxVoters != 3 || s.LeaseTimeout != 20*time.Second || s.Server {
		t.Fatalf("unset flags overrode the file: %+v", s)
	}
}

// TestLoad_Dev checks that dev, from the file or a flag, switches the
// defaults to agent.DevConfig, under the file and flags.
func TestLoad_Dev(t *testing.T) {
	dev := agent.DevConfig()
	for name, c := range map[string]struct {
		yml  string
		args []string
	}{"flag": {"", []string{"--dev"}}, "file": {"dev: true\n", nil}} {
		s := mustLoad(t, c.yml, c.args...)
		if !s.Dev || s.HTTPAddr != dev.HTTPAddr || s.Bind != dev.Bind || s.RaftPort != 0 || s.GossipPort != 0 {
			t.Errorf("dev from the %s: %+v", name, s)
		}
	}
	s := mustLoad(t, "dev: true\nhttp_addr: 127.0.0.1:9000\n", "--raft-port", "7000")
	if s.HTTPAddr != "127.0.0.1:9000" || s.RaftPort != 7000 || s.Bind != dev.Bind {
		t.Fatalf("file and flags over the dev defaults: %+v", s)
	}
	s = mustLoad(t, "dev: true\n", "--dev=false")
	if s.Dev || s.HTTPAddr != Default(false).HTTPAddr {
		t.Fatalf("--dev=false over a file with dev: true: %+v", s)
	}
}

func TestLoad_Errors(t *testing.T) {
	for name, c := range map[string]struct {
		yml  string
		args []string
		want string
	}{
		"unknown key":          {"node: a\nmax_voter: 3\n", nil, "max_voter"},
		"program-only field":   {"exec_command: [x]\n", nil, "exec_command"},
		"wrong type":           {"node: a\nmax_voters: many\n", nil, "line 2"},
		"bad labels in file":   {"labels: zone\n", nil, "line 1"},
		"dev with join":        {"", []string{"--dev", "--join", "1.2.3.4:8393"}, "one-node"},
		"dev with join (file)": {"dev: true\njoin: [1.2.3.4:8393]\n", nil, "one-node"},
		"negative coalesce":    {"", []string{"--coalesce-max", "-1"}, "coalesce-max"},
	} {
		_, err := load(t, c.yml, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want it to mention %q", name, err, c.want)
		}
	}
	fs := pflag.NewFlagSet("agent", pflag.ContinueOnError)
	AddFlags(fs)
	if err := fs.Parse([]string{"--labels", "zone"}); err == nil || !strings.Contains(err.Error(), "key=value") {
		t.Errorf("--labels zone: %v, want a key=value error", err)
	}
}

// TestFlags_OnePerKey checks that every flag has a config-file key (its
// name with '_' for '-') and every key a flag, and that setting the flag
// sets the field of that key.
func TestFlags_OnePerKey(t *testing.T) {
	fs := pflag.NewFlagSet("agent", pflag.ContinueOnError)
	f := AddFlags(fs)
	seen := map[string]bool{}
	f.own.VisitAll(func(fl *pflag.Flag) {
		key := strings.ReplaceAll(fl.Name, "-", "_")
		seen[key] = true
		if _, ok := fieldsByKey[key]; !ok {
			t.Errorf("flag --%s has no field with key %q", fl.Name, key)
			return
		}
		arg, want := sample(fl.Value.Type())
		if fl.Name == "labels" {
			arg, want = "k=v", "map[k:v]"
		}
		if fl.Name == "server" {
			arg, want = "false", "false"
		}
		s, err := load(t, "", "--node", "n", "--"+fl.Name+"="+arg)
		if err != nil {
			t.Errorf("--%s=%s: %v", fl.Name, arg, err)
			return
		}
		if got := fmt.Sprint(reflect.ValueOf(s).FieldByIndex(fieldsByKey[key])); got != want {
			t.Errorf("--%s=%s set the field to %s, want %s", fl.Name, arg, got, want)
		}
	})
	for key := range fieldsByKey {
		if !seen[key] {
			t.Errorf("config-file key %q has no flag", key)
		}
	}
	if fs.Lookup("config") == nil || f.own.Lookup("config") != nil {
		t.Error("--config is a flag of the command, not a setting")
	}
}

// sample is a value to give a flag of type typ and how the field prints then.
func sample(typ string) (arg, want string) {
	switch typ {
	case "bool":
		return "true", "true"
	case "duration":
		return "7s", "7s"
	case "stringArray":
		return "a:1", "[a:1]"
	case "string":
		return "x", "x"
	}
	return "7", "7" // int, int64, uint64
}
