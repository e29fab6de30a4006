package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/scaleout/scaleout/api"
	"github.com/scaleout/scaleout/api/server"
	"github.com/scaleout/scaleout/cluster"
	"github.com/scaleout/scaleout/cluster/master"
	"github.com/scaleout/scaleout/executor/worker"
	"github.com/spf13/cobra"
)

// agentFlags is the user configuration of an agent.
type agentFlags struct {
	dev          bool
	httpAddr     string
	dataDir      string
	node         string
	logLevel     string
	maxTasks     int
	maxBodyBytes int64
	leaseTimeout time.Duration
	heartbeat    time.Duration
	killGrace    time.Duration
	catalog      *catalogFlags // agent_catalog.go
}

func newAgentCmd() *cobra.Command {
	var f agentFlags
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Run an agent: a cluster server (the master when it leads) and a worker",
		Long: `Run a scaleout agent.

Every agent serves the HTTP API, is a Scale Out Worker that runs package
executions in child processes, and (as a server) holds a copy of the catalog
in Raft; the Raft leader is the Scale Out Master.

--dev runs a one-node cluster on loopback: it bootstraps a single-server Raft
group, and without --data-dir keeps its state in a temporary directory that is
removed at exit. With --data-dir the state survives restarts (even kill -9):
executions that were running when the agent died are retried if they have
retries left, otherwise they end as ended_unexpectedly.

SIGINT or SIGTERM stop the agent cleanly: running executions are stopped and
recorded (retried later if they have retries left, else canceled).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runAgent(cmd.Context(), &f) },
	}
	fl := cmd.Flags()
	fl.BoolVar(&f.dev, "dev", false, "run a one-node cluster on loopback for trying scaleout out and for tests")
	fl.StringVar(&f.httpAddr, "http-addr", "127.0.0.1:8391", "address the HTTP API listens on (port 0 picks a free port)")
	fl.StringVar(&f.dataDir, "data-dir", "", "directory for the Raft log, snapshots and catalog (--dev: a temporary directory if empty)")
	fl.StringVar(&f.node, "node", "", "node name (default: the host name)")
	fl.StringVar(&f.logLevel, "log-level", "info", "log level: trace, debug, info, warn, error")
	fl.IntVar(&f.maxTasks, "max-tasks", 10, "executions this worker runs at once")
	fl.Int64Var(&f.maxBodyBytes, "max-request-bytes", server.DefaultConfig().MaxBodyBytes, "largest accepted API request body; larger ones get 413")
	fl.DurationVar(&f.leaseTimeout, "lease-timeout", master.DefaultConfig().LeaseTimeout, "an attempt whose worker is silent this long is expired and retried")
	fl.DurationVar(&f.heartbeat, "heartbeat", worker.DefaultConfig().PollWait, "worker heartbeat (long-poll) interval; must be shorter than --lease-timeout")
	fl.DurationVar(&f.killGrace, "kill-grace", worker.DefaultConfig().KillGrace, "time a stopped task gets between SIGTERM and SIGKILL")
	f.catalog = addCatalogFlags(cmd)
	return cmd
}

func runAgent(ctx context.Context, f *agentFlags) error {
	if !f.dev {
		return exitf(exitUsage, "only --dev (a one-node cluster) is implemented in this version; run 'scaleout agent --dev'")
	}
	if f.maxTasks <= 0 {
		return exitf(exitUsage, "--max-tasks must be positive (got %d)", f.maxTasks)
	}
	if f.maxBodyBytes <= 0 {
		return exitf(exitUsage, "--max-request-bytes must be positive (got %d)", f.maxBodyBytes)
	}
	if f.heartbeat <= 0 || f.leaseTimeout <= f.heartbeat {
		return exitf(exitUsage, "--heartbeat (%s) must be positive and shorter than --lease-timeout (%s)", f.heartbeat, f.leaseTimeout)
	}
	level := hclog.LevelFromString(f.logLevel)
	if level == hclog.NoLevel {
		return exitf(exitUsage, "unknown --log-level %q", f.logLevel)
	}
	logger := hclog.New(&hclog.LoggerOptions{Name: "scaleout", Level: level, Output: os.Stderr})

	node := f.node
	if node == "" {
		h, err := os.Hostname()
		if err != nil {
			return exitf(exitUsage, "no --node given and the host name is unknown: %v", err)
		}
		node = h
	}
	dataDir := f.dataDir
	if dataDir == "" {
		tmp, err := os.MkdirTemp("", "scaleout-dev-")
		if err != nil {
			return exitf(exitFailed, "create temporary data dir: %v", err)
		}
		dataDir = tmp
		defer os.RemoveAll(tmp)
	} else if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return exitf(exitFailed, "data dir: %v", err)
	}

	ln, err := net.Listen("tcp", f.httpAddr)
	if err != nil {
		return exitf(exitFailed, "HTTP API cannot listen on %s: %v", f.httpAddr, err)
	}
	apiURL := "http://" + ln.Addr().String()

	ccfg := cluster.DevConfig()
	ccfg.NodeName = node
	ccfg.DataDir = dataDir
	ccfg.APIAddr = apiURL
	ccfg.Logger = logger
	cl, err := cluster.New(ccfg)
	if err != nil {
		ln.Close()
		return exitf(exitFailed, "start cluster: %v", err)
	}
	mcfg := master.DefaultConfig()
	mcfg.LeaseTimeout = f.leaseTimeout
	mcfg.Logger = logger
	m, err := master.New(mcfg, cl)
	if err != nil {
		ln.Close()
		cl.Shutdown()
		return exitf(exitUsage, "%v", err)
	}

	cat, err := startCatalog(f.catalog, f.dev, dataDir, cl, logger)
	if err != nil {
		ln.Close()
		m.Close()
		cl.Shutdown()
		return err
	}
	defer cat.Close()

	scfg := server.DefaultConfig()
	scfg.MaxBodyBytes = f.maxBodyBytes
	scfg.Logger = logger
	httpSrv := &http.Server{Handler: server.New(scfg, agentBackend{m, cat}), ReadHeaderTimeout: 10 * time.Second}
	httpDone := make(chan error, 1)
	go func() { httpDone <- httpSrv.Serve(ln) }()

	exe, err := os.Executable()
	if err != nil {
		return exitf(exitFailed, "find own executable for package processes: %v", err)
	}
	client, err := api.NewClient(api.Config{Address: apiURL, Caller: "worker " + node})
	if err != nil {
		return exitf(exitFailed, "%v", err)
	}
	wcfg := worker.DefaultConfig()
	wcfg.ID = node
	wcfg.Node = node
	wcfg.MaxTasks = f.maxTasks
	wcfg.PollWait = f.heartbeat
	wcfg.LeaseTimeout = f.leaseTimeout
	wcfg.KillGrace = f.killGrace
	wcfg.Command = []string{exe, "exec"}
	wcfg.WorkDir = filepath.Join(dataDir, "work")
	wcfg.Client = client
	wcfg.Logger = logger
	wk, err := worker.New(wcfg)
	if err != nil {
		return exitf(exitFailed, "%v", err)
	}

	wctx, stopWorker := context.WithCancel(context.Background())
	workerDone := make(chan struct{})
	go func() { defer close(workerDone); wk.Run(wctx) }()

	// Announce the agent once its worker is connected to a master, so that
	// a package submitted right after the banner starts at once.
	select {
	case <-wk.Ready():
	case <-time.After(30 * time.Second):
		logger.Warn("worker not connected to a master after 30s; continuing")
	}
	// This line is the contract with scripts and tests that start an agent
	// on port 0: it names the address the API really listens on.
	fmt.Fprintf(os.Stderr, "==> scaleout agent started: node=%s api=%s data-dir=%s dev=%t\n", node, apiURL, dataDir, f.dev)
	if f.dev {
		fmt.Fprintf(os.Stderr, "==> try: scaleout run testdata/hello.yaml --wait --address %s\n", apiURL)
	}

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	var runErr error
	select {
	case s := <-sigs:
		logger.Info("shutting down", "signal", s.String())
	case err := <-httpDone:
		runErr = exitf(exitFailed, "HTTP API stopped: %v", err)
	case <-ctx.Done():
	}

	// Order matters: the worker stops its attempts and reports them through
	// the API to the master, so it goes first; then the API; then Raft.
	stopWorker()
	<-workerDone
	m.Close()
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	_ = httpSrv.Shutdown(sctx)
	scancel()
	if err := cl.Shutdown(); err != nil && !errors.Is(err, cluster.ErrShutdown) {
		logger.Warn("raft shutdown", "error", err)
	}
	fmt.Fprintln(os.Stderr, "==> scaleout agent stopped")
	return runErr
}

// parseParams turns NAME=VALUE flags into a map.
func parseParams(kvs []string) (map[string]string, error) {
	out := map[string]string{}
	for _, kv := range kvs {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || name == "" {
			return nil, fmt.Errorf("--param %q: want NAME=VALUE", kv)
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("--param %s given twice", name)
		}
		out[name] = value
	}
	return out, nil
}
