package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/scaleout/scaleout/cluster/agent"
	"github.com/scaleout/scaleout/cmd/scaleout/internal/config"
	"github.com/spf13/cobra"
)

func newAgentCmd() *cobra.Command {
	cmd, _ := newAgentCmdWithFlags()
	return cmd
}

// newAgentCmdWithFlags returns the agent command and its flags (tests load
// them after parsing). Every setting's flag is declared once, in package
// config, bound to the field its config-file key decodes into.
func newAgentCmdWithFlags() (*cobra.Command, *config.Flags) {
	var f *config.Flags
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

Security: outside --dev an agent needs TLS material (--tls-ca, --tls-cert,
--tls-key; 'scaleout tls init --nodes a,b,c' writes everything a three-server
cluster needs) or an explicit --insecure. With TLS every TCP port (API, Raft,
forwarding, worker polls) speaks mutual TLS: joining Raft needs a server
certificate, the API a certificate of the cluster CA, and every request an ACL
token from the first start: run 'scaleout acl bootstrap' once the servers are
up (until then only the health checks, acl bootstrap and the agents' own
traffic pass). --insecure (with or without TLS) leaves the API open until
bootstrap, unless a server of the cluster requires tokens. SIGHUP (or a change of
the files) reloads the certificates. --gossip-key encrypts gossip; rotate it
with 'scaleout operator keyring'. docs/SECURITY.md has the details.

Flags override the --config file; its keys are the flag names with '_' for '-'.`,
		Example: `  scaleout agent --dev
  scaleout agent --node a1 --data-dir /var/lib/scaleout --bootstrap-expect 3 --join 10.0.0.2:8393 --join 10.0.0.3:8393 \
      --tls-ca ca.pem --tls-cert server-a1.pem --tls-key server-a1-key.pem --gossip-key "$(cat gossip.key)"
  scaleout agent --node w1 --server=false --join 10.0.0.1:8393 --labels os=linux,zone=a --insecure
  scaleout agent --config /etc/scaleout/agent.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runAgent(cmd.Context(), f) },
	}
	f = config.AddFlags(cmd.Flags())
	return cmd, f
}

func runAgent(ctx context.Context, f *config.Flags) error {
	s, err := f.Load()
	if err != nil {
		return exitf(exitUsage, "%v", err)
	}
	cfg := s.AgentConfig()
	level := hclog.LevelFromString(s.LogLevel)
	if level == hclog.NoLevel {
		return exitf(exitUsage, "unknown log level %q (want trace, debug, info, warn or error)", s.LogLevel)
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
	// Create the data dir before anything is written into it (the dev key
	// is written before the agent starts); non-dev agents did this later.
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return exitf(exitFailed, "create data dir: %v", err)
	}
	exe, err := os.Executable()
	if err != nil {
		return exitf(exitFailed, "find own executable for package processes: %v", err)
	}
	cfg.ExecCommand = []string{exe, "exec"}
	if cfg.Server {
		// Only servers hold the catalog and need the key.
		if cfg.Catalog.Cipher, err = catalogCipher(&s, cfg.DataDir, logger); err != nil {
			return exitf(exitUsage, "%v", err)
		}
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
	stopHUP := reloadOnHUP(a)
	defer stopHUP()
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
