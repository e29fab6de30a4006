package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/scaleout/scaleout/cluster/agent"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"
)

// fileConfig is the agent's YAML config file (--config). Every field is a
// pointer so that a file only overrides what it sets; flags given on the
// command line override the file.
type fileConfig struct {
	Node            *string           `yaml:"node"`
	DataDir         *string           `yaml:"data_dir"`
	Dev             *bool             `yaml:"dev"`
	Server          *bool             `yaml:"server"`
	Bind            *string           `yaml:"bind"`
	Advertise       *string           `yaml:"advertise"`
	HTTPAddr        *string           `yaml:"http_addr"`
	RaftPort        *int              `yaml:"raft_port"`
	GossipPort      *int              `yaml:"gossip_port"`
	Join            []string          `yaml:"join"`
	BootstrapExpect *int              `yaml:"bootstrap_expect"`
	MaxVoters       *int              `yaml:"max_voters"`
	DeadServerGrace *time.Duration    `yaml:"dead_server_grace"`
	Labels          map[string]string `yaml:"labels"`
	MaxTasks        *int              `yaml:"max_tasks"`
	LeaseTimeout    *time.Duration    `yaml:"lease_timeout"`
	Heartbeat       *time.Duration    `yaml:"heartbeat"`
	KillGrace       *time.Duration    `yaml:"kill_grace"`
	DrainTimeout    *time.Duration    `yaml:"drain_timeout"`
	MaxRequestBytes *int64            `yaml:"max_request_bytes"`
	LogLevel        *string           `yaml:"log_level"`
	EncryptKey      *string           `yaml:"encrypt_key"`
	EncryptKeyFile  *string           `yaml:"encrypt_key_file"`
}

// agentFlags holds the flag values; only flags the user set override the
// config file.
type agentFlags struct {
	config          string
	dev             bool
	node            string
	dataDir         string
	server          bool
	bind            string
	advertise       string
	httpAddr        string
	raftPort        int
	gossipPort      int
	join            []string
	bootstrapExpect int
	maxVoters       int
	deadServerGrace time.Duration
	labels          string
	maxTasks        int
	leaseTimeout    time.Duration
	heartbeat       time.Duration
	killGrace       time.Duration
	drainTimeout    time.Duration
	maxBodyBytes    int64
	coalesceMax     int
	logLevel        string
	catalog         *catalogFlags // agent_catalog.go
}

func newAgentCmd() *cobra.Command { return newAgentCmdWith(new(agentFlags)) }

// newAgentCmdWith binds the agent's flags to f (tests read them back).
func newAgentCmdWith(f *agentFlags) *cobra.Command {
	d := agent.DefaultConfig()
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Run an agent: a cluster server (the master when it leads) and a worker",
		Long: `Run a scaleout agent.

Every agent serves the HTTP API (any agent accepts any call and forwards writes
to the leader), is a Scale Out Worker that runs executions in child processes,
and, as a server, holds a copy of the catalog in Raft; the Raft leader is the
Scale Out Master. Agents find each other by gossip (--join).

--dev runs a one-node cluster on loopback: it bootstraps a single-server Raft
group and, without --data-dir, keeps its state in a temporary directory removed
at exit. With --data-dir the state survives restarts (even kill -9).

A cluster: start each server with the same --bootstrap-expect N and --join
pointing at one or more of the others (gossip port); the servers bootstrap
Raft once N of them see each other. Later servers and worker-only agents
(--server=false) only need --join.

SIGINT or SIGTERM: the agent drains (no new tasks; running executions get up to
--drain-timeout, then are handed back to run elsewhere), hands over leadership,
leaves the cluster and stops. In --dev mode running executions are stopped and
recorded instead (retried after a restart if they have retries left, else
canceled).

Flags override the --config file; its keys are the flag names with '_' for '-'.`,
		Example: `  scaleout agent --dev
  scaleout agent --node a1 --data-dir /var/lib/scaleout --bootstrap-expect 3 --join 10.0.0.2:8393 --join 10.0.0.3:8393
  scaleout agent --node w1 --server=false --join 10.0.0.1:8393 --labels os=linux,zone=a
  scaleout agent --config /etc/scaleout/agent.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runAgent(cmd.Context(), cmd.Flags(), f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.config, "config", "", "YAML config file (keys as the flags, '-' written '_'); flags override it")
	fl.BoolVar(&f.dev, "dev", false, "one-node cluster on loopback for trying scaleout out and for tests")
	fl.StringVar(&f.node, "node", "", "node name, unique in the cluster (default: the host name)")
	fl.StringVar(&f.dataDir, "data-dir", "", "directory for Raft state, the catalog and work dirs (required; --dev: a temporary directory if empty)")
	fl.BoolVar(&f.server, "server", d.Server, "hold Raft state and take part in elections; false = worker-only agent")
	fl.StringVar(&f.bind, "bind", d.Bind, "address Raft and gossip listen on (--dev: 127.0.0.1)")
	fl.StringVar(&f.advertise, "advertise", "", "address other agents reach this one at (default: --bind, or a private address of this host)")
	fl.StringVar(&f.httpAddr, "http-addr", d.HTTPAddr, "address the HTTP API listens on; port 0 picks a free one (--dev: 127.0.0.1:8391)")
	fl.IntVar(&f.raftPort, "raft-port", d.RaftPort, "Raft port (--dev: a free port)")
	fl.IntVar(&f.gossipPort, "gossip-port", d.GossipPort, "gossip port, TCP and UDP (--dev: a free port)")
	fl.StringArrayVar(&f.join, "join", nil, "gossip address HOST:PORT of an agent to join (repeatable; retried until one answers)")
	fl.IntVar(&f.bootstrapExpect, "bootstrap-expect", 0, "number of servers that form a new cluster together; give every initial server the same value")
	fl.IntVar(&f.maxVoters, "max-voters", d.MaxVoters, "Raft voters at most; further servers join as non-voters")
	fl.DurationVar(&f.deadServerGrace, "dead-server-grace", d.DeadServerGrace, "a server failed this long is removed from Raft by the leader")
	fl.StringVar(&f.labels, "labels", "", "worker labels k=v,... (executions can target them with run --label)")
	fl.IntVar(&f.maxTasks, "max-tasks", d.MaxTasks, "executions this worker runs at once")
	fl.DurationVar(&f.leaseTimeout, "lease-timeout", d.LeaseTimeout, "an execution whose worker is silent this long is expired and retried")
	fl.DurationVar(&f.heartbeat, "heartbeat", d.Heartbeat, "worker heartbeat (long-poll) interval; shorter than --lease-timeout")
	fl.DurationVar(&f.killGrace, "kill-grace", d.KillGrace, "time a stopped task gets between SIGTERM and SIGKILL")
	fl.DurationVar(&f.drainTimeout, "drain-timeout", d.DrainTimeout, "on SIGTERM, time running executions get to finish before they are handed back")
	fl.Int64Var(&f.maxBodyBytes, "max-request-bytes", d.MaxBodyBytes, "largest accepted API request body; larger ones get 413")
	fl.StringVar(&f.logLevel, "log-level", "info", "log level: trace, debug, info, warn, error")
	fl.IntVar(&f.coalesceMax, "coalesce-max", 0, "most requests the leader gathers into one Raft command (0: default 256; 1: none, for benchmarks)")
	_ = fl.MarkHidden("coalesce-max")
	f.catalog = addCatalogFlags(cmd)
	return cmd
}

// buildAgentConfig merges defaults, the config file and the flags the user set.
func buildAgentConfig(flags *pflag.FlagSet, f *agentFlags) (agent.Config, string, error) {
	var fc fileConfig
	if f.config != "" {
		raw, err := os.ReadFile(f.config)
		if err != nil {
			return agent.Config{}, "", err
		}
		dec := yaml.NewDecoder(strings.NewReader(string(raw)))
		dec.KnownFields(true)
		if err := dec.Decode(&fc); err != nil && !errors.Is(err, io.EOF) {
			return agent.Config{}, "", fmt.Errorf("config file %s: %w", f.config, err)
		}
	}
	set := func(name string) bool { return flags.Changed(name) }
	dev := pick(set("dev"), f.dev, fc.Dev, false)
	c := agent.DefaultConfig()
	if dev {
		c.Dev = true
		c.HTTPAddr = "127.0.0.1:8391"
		c.Bind = "127.0.0.1"
		c.RaftPort, c.GossipPort = 0, 0
	}
	c.Node = pick(set("node"), f.node, fc.Node, c.Node)
	c.DataDir = pick(set("data-dir"), f.dataDir, fc.DataDir, "")
	c.Server = pick(set("server"), f.server, fc.Server, c.Server)
	c.Bind = pick(set("bind"), f.bind, fc.Bind, c.Bind)
	c.Advertise = pick(set("advertise"), f.advertise, fc.Advertise, "")
	c.HTTPAddr = pick(set("http-addr"), f.httpAddr, fc.HTTPAddr, c.HTTPAddr)
	c.RaftPort = pick(set("raft-port"), f.raftPort, fc.RaftPort, c.RaftPort)
	c.GossipPort = pick(set("gossip-port"), f.gossipPort, fc.GossipPort, c.GossipPort)
	c.Join = fc.Join
	if set("join") {
		c.Join = f.join
	}
	c.BootstrapExpect = pick(set("bootstrap-expect"), f.bootstrapExpect, fc.BootstrapExpect, 0)
	c.MaxVoters = pick(set("max-voters"), f.maxVoters, fc.MaxVoters, c.MaxVoters)
	c.DeadServerGrace = pick(set("dead-server-grace"), f.deadServerGrace, fc.DeadServerGrace, c.DeadServerGrace)
	c.Labels = fc.Labels
	if set("labels") {
		labels, err := parseLabels(f.labels)
		if err != nil {
			return agent.Config{}, "", err
		}
		c.Labels = labels
	}
	c.MaxTasks = pick(set("max-tasks"), f.maxTasks, fc.MaxTasks, c.MaxTasks)
	c.LeaseTimeout = pick(set("lease-timeout"), f.leaseTimeout, fc.LeaseTimeout, c.LeaseTimeout)
	c.Heartbeat = pick(set("heartbeat"), f.heartbeat, fc.Heartbeat, c.Heartbeat)
	c.KillGrace = pick(set("kill-grace"), f.killGrace, fc.KillGrace, c.KillGrace)
	c.DrainTimeout = pick(set("drain-timeout"), f.drainTimeout, fc.DrainTimeout, c.DrainTimeout)
	c.MaxBodyBytes = pick(set("max-request-bytes"), f.maxBodyBytes, fc.MaxRequestBytes, c.MaxBodyBytes)
	if f.coalesceMax < 0 {
		return agent.Config{}, "", fmt.Errorf("--coalesce-max must not be negative (got %d)", f.coalesceMax)
	}
	c.CoalesceMax = f.coalesceMax
	logLevel := pick(set("log-level"), f.logLevel, fc.LogLevel, "info")
	if f.catalog != nil {
		f.catalog.encryptKey = pick(set("encrypt-key"), f.catalog.encryptKey, fc.EncryptKey, "")
		f.catalog.encryptKeyFile = pick(set("encrypt-key-file"), f.catalog.encryptKeyFile, fc.EncryptKeyFile, "")
	}
	if c.Dev && (c.BootstrapExpect > 1 || len(c.Join) > 0 || !c.Server) {
		return agent.Config{}, "", errors.New("--dev is a one-node cluster: it cannot be combined with --bootstrap-expect, --join or --server=false")
	}
	if c.Node == "" {
		h, err := os.Hostname()
		if err != nil {
			return agent.Config{}, "", fmt.Errorf("no --node given and the host name is unknown: %w", err)
		}
		c.Node = h
	}
	return c, logLevel, nil
}

// pick returns the flag value if the flag was set, else the file's value if
// present, else def.
func pick[T any](flagSet bool, flagVal T, fileVal *T, def T) T {
	switch {
	case flagSet:
		return flagVal
	case fileVal != nil:
		return *fileVal
	}
	return def
}

func parseLabels(s string) (map[string]string, error) {
	out := map[string]string{}
	if strings.TrimSpace(s) == "" {
		return out, nil
	}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("label %q: want key=value", kv)
		}
		out[k] = v
	}
	return out, nil
}

func runAgent(ctx context.Context, flags *pflag.FlagSet, f *agentFlags) error {
	cfg, logLevel, err := buildAgentConfig(flags, f)
	if err != nil {
		return exitf(exitUsage, "%v", err)
	}
	level := hclog.LevelFromString(logLevel)
	if level == hclog.NoLevel {
		return exitf(exitUsage, "unknown log level %q (want trace, debug, info, warn or error)", logLevel)
	}
	logger := hclog.New(&hclog.LoggerOptions{Name: "scaleout", Level: level, Output: os.Stderr})
	if cfg.DataDir == "" {
		if !cfg.Dev {
			return exitf(exitUsage, "--data-dir is required (only --dev may use a temporary directory)")
		}
		tmp, err := os.MkdirTemp("", "scaleout-dev-")
		if err != nil {
			return exitf(exitFailed, "create temporary data dir: %v", err)
		}
		cfg.DataDir = tmp
		defer os.RemoveAll(tmp)
	}
	exe, err := os.Executable()
	if err != nil {
		return exitf(exitFailed, "find own executable for package processes: %v", err)
	}
	cfg.ExecCommand = []string{exe, "exec"}
	if cfg.Catalog, err = f.catalog.catalogConfig(cfg.Server, cfg.Dev, cfg.DataDir, logger); err != nil {
		return exitf(exitUsage, "%v", err)
	}
	cfg.Version = version
	cfg.Logger = logger

	a, err := agent.New(cfg)
	if err != nil {
		return exitf(exitUsage, "start agent: %v", err)
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	// Scripts and tests that start agents on port 0 read the real addresses
	// from this line (the others need the gossip address to --join).
	fmt.Fprintf(os.Stderr, "==> scaleout agent starting: node=%s api=%s gossip=%s server=%t\n",
		cfg.Node, a.APIAddr(), a.GossipAddr(), cfg.Server)

	// Announce the agent once its worker is connected to a master, so that
	// a package submitted right after the banner starts at once.
	select {
	case <-a.Ready():
	case <-time.After(60 * time.Second):
		logger.Warn("worker not connected to a master after 60s (no leader yet?); continuing")
	case s := <-sigs:
		logger.Info("signal before start-up completed; stopping", "signal", s.String())
		a.Shutdown()
		return nil
	}
	// This line is the contract with scripts and tests that start an agent
	// on port 0: it names the addresses the agent really uses.
	fmt.Fprintf(os.Stderr, "==> scaleout agent started: node=%s api=%s gossip=%s server=%t data-dir=%s dev=%t\n",
		cfg.Node, a.APIAddr(), a.GossipAddr(), cfg.Server, cfg.DataDir, cfg.Dev)
	if cfg.Dev {
		fmt.Fprintf(os.Stderr, "==> try: scaleout run testdata/hello.yaml --wait --address %s\n", a.APIAddr())
	}

	var runErr error
	select {
	case s := <-sigs:
		logger.Info("leaving", "signal", s.String())
		go func() {
			<-sigs
			logger.Warn("second signal: stopping without draining")
			os.Exit(exitFailed)
		}()
	case err := <-a.Done():
		runErr = exitf(exitFailed, "HTTP API stopped: %v", err)
	case <-ctx.Done():
	}
	a.Leave()
	fmt.Fprintln(os.Stderr, "==> scaleout agent stopped")
	return runErr
}
