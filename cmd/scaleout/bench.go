package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/scaleout/scaleout/api"
	"github.com/scaleout/scaleout/cluster/raftbench"
	"github.com/scaleout/scaleout/cluster/worker"
	"github.com/scaleout/scaleout/cmd/scaleout/internal/bench"
	"github.com/spf13/cobra"
)

// benchFlags are the options of `scaleout bench`.
type benchFlags struct {
	clientFlags
	local        int
	scenarios    string
	executions   int
	execExecs    int
	scaleEnded   int
	clients      int
	slots        int
	slotsHold    time.Duration
	maxTasks     int
	coalesceMax  int
	tls          bool
	acl          bool
	ended        int
	jsonOut      string
	killCmd      string
	pids         string
	baselineSecs time.Duration
	ssisProject  string
}

func newBenchCmd() *cobra.Command {
	f := &benchFlags{}
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure a cluster: submission rate, throughput, latency, failover, memory, against a Raft baseline",
		Long: `Measure a scaleout cluster and print one table.

--local N starts N server agents from this binary on 127.0.0.1 with temporary
data dirs, runs the scenarios and stops them ('make bench' does this with 3).
Without --local the bench drives the cluster at --address; then failover needs
--failover-kill-cmd (run with sh -c; {leader} is replaced by the leader's node
name) and memory needs --pids (name=pid,... of agents on this machine).

Scenarios (--scenarios, comma-separated, default all):
  baseline     applies/s of a trivial Raft FSM (3 servers in this process, same
               log store, transport and batching), at each concurrency below
  memory-idle  RSS of each agent before any load
  childstart   start and run of one 'scaleout exec' child with a no-op package
  latency      submission-to-start and -end p50/p99, one execution at a time
  submit       executions accepted per second: single and bulk, 1 and N clients
  throughput   --executions no-op executions from submission to succeeded
  exec         what users run: a package whose one task runs /bin/true. The
               floor first (1,000 fork/execs of /bin/true from this process,
               one at a time and one per CPU at once), then idle submission-
               to-end p50/p99, then --exec-executions of them from submission
               to succeeded, with CPU per execution (from /proc) split into
               agents, package runtime (the agents' children) and task process
  import       'scaleout import' of an .ispac of 20 packages (packed from
               --ssis-project), process start to exit, p50 and max of 5
  memory       RSS after --ended ended executions in the catalog
  failover     kill -9 of the leader under load: time until dispatch resumes,
               no execution lost, none succeeded twice

Only when named ('make bench-scale'):
  scale        fills the catalog up to --scale-ended ended executions (bulk
               submit with the workers disabled, bulk stop) and compares
               before and after: exec dispatch rate, 'executions list' paging
               (newest page and a deep one), then the snapshot's size and
               time and the agents' RSS
  slots        --slots executions at once on the first agent's worker (run
               with --local 1 --max-tasks 1000), each 'sleep --slots-hold';
               GET /v1/executions?limit=100 timed every 50 ms from the
               submission until all succeeded: p50/p99/max while the
               children start and while all run, with the load average

Every rate is also given as a ratio to the baseline measured in the same run.
Speeds are printed, never asserted.`,
		Example: `  make bench                                   # bin/scaleout bench --local 3 --json bench-results.json
  scaleout bench --local 3 --scenarios latency,throughput --executions 2000
  scaleout bench --address http://10.0.0.1:8391 --scenarios submit,latency`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runBench(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), f)
		},
	}
	f.register(cmd)
	fl := cmd.Flags()
	fl.IntVar(&f.local, "local", 0, "start this many server agents on 127.0.0.1 (temporary dirs), bench them, stop them")
	fl.StringVar(&f.scenarios, "scenarios", strings.Join(bench.Scenarios, ","), "scenarios to run, comma-separated (scale runs only when named)")
	fl.IntVar(&f.executions, "executions", 10000, "executions in the throughput scenario")
	fl.IntVar(&f.execExecs, "exec-executions", 3000, "executions in the exec scenario's throughput measurement")
	fl.IntVar(&f.scaleEnded, "scale-ended", 1_000_000, "ended executions in the catalog for the scale scenario")
	fl.IntVar(&f.clients, "clients", 32, "concurrent clients in the submit scenario")
	fl.IntVar(&f.slots, "slots", 1000, "executions the slots scenario runs at once on the first agent")
	fl.DurationVar(&f.slotsHold, "slots-hold", 45*time.Second, "how long each execution of the slots scenario sleeps")
	fl.IntVar(&f.maxTasks, "max-tasks", 16, "with --local: executions each agent runs at once")
	fl.IntVar(&f.coalesceMax, "coalesce-max", 0, "with --local: passed to the agents (1 turns leader-side coalescing off)")
	fl.BoolVar(&f.tls, "tls", false, "with --local: the agents run with mutual TLS and encrypted gossip ('scaleout tls init'); without it, --insecure")
	fl.BoolVar(&f.acl, "acl", false, "with --local: bootstrap the ACLs first; the clients send the management token (without it the agents run with --insecure, TLS or not: no tokens)")
	fl.IntVar(&f.ended, "ended", 100000, "ended executions in the catalog before the memory scenario measures")
	fl.StringVar(&f.jsonOut, "json", "", "also write the results as JSON to this file")
	fl.StringVar(&f.killCmd, "failover-kill-cmd", "", "without --local: shell command that kills the leader ({leader} = its node name)")
	fl.StringVar(&f.pids, "pids", "", "without --local: name=pid,... of agents on this machine, for the memory scenarios")
	fl.StringVar(&f.ssisProject, "ssis-project", bench.DefaultSSISProject, "SSIS project folder the import scenario packs its .ispac of 20 packages from")
	fl.DurationVar(&f.baselineSecs, "baseline-duration", 3*time.Second, "how long each baseline measurement runs")
	return cmd
}

// runBench runs the bench package with the flags, prints the table and
// writes the JSON.
func runBench(ctx context.Context, out, logw io.Writer, f *benchFlags) error {
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	exe, err := os.Executable()
	if err != nil {
		return exitf(exitFailed, "find own executable: %v", err)
	}
	rep, err := bench.Run(ctx, bench.Options{
		Exe: exe, Version: version, Local: f.local, Address: f.address, Scenarios: strings.Split(f.scenarios, ","),
		Executions: f.executions, ExecExecutions: f.execExecs, Slots: f.slots, SlotsHold: f.slotsHold, ScaleEnded: f.scaleEnded, Clients: f.clients, MaxTasks: f.maxTasks, CoalesceMax: f.coalesceMax, TLS: f.tls, ACL: f.acl, Ended: f.ended,
		KillCmd: f.killCmd, Pids: f.pids, BaselineDuration: f.baselineSecs, SSISProject: f.ssisProject,
		StartBaseline: startRaftBaseline, ChildJob: benchChildJob, Log: logw,
	})
	switch {
	case errors.Is(err, bench.ErrUsage):
		return exitf(exitUsage, "%v", err)
	case errors.Is(err, bench.ErrUnreachable):
		return exitf(exitUnreached, "%v", err)
	case err != nil:
		return exitf(exitFailed, "%v", err)
	}
	rep.WriteTable(out)
	if f.jsonOut != "" {
		buf, _ := json.MarshalIndent(rep, "", "  ")
		if err := os.WriteFile(f.jsonOut, append(buf, '\n'), 0o644); err != nil {
			return exitf(exitFailed, "write %s: %v", f.jsonOut, err)
		}
		fmt.Fprintf(out, "results written to %s\n", f.jsonOut)
	}
	if ctx.Err() != nil {
		return exitf(exitFailed, "interrupted")
	}
	return nil
}

// raftBaseline is the bench's Raft baseline: cluster/raftbench.
type raftBaseline struct{ *raftbench.Cluster }

func startRaftBaseline(dir string) (bench.Baseline, error) {
	c, err := raftbench.Start(dir)
	if err != nil {
		return nil, err
	}
	return raftBaseline{c}, nil
}

func (r raftBaseline) Measure(ctx context.Context, concurrency int, d time.Duration) (bench.BaselineResult, error) {
	res, err := r.Run(ctx, raftbench.Config{Concurrency: concurrency, Duration: d})
	return bench.BaselineResult{PerSecond: res.PerSecond, P50: res.P50, P99: res.P99}, err
}

// benchChildJob is the job the childstart scenario gives each `scaleout exec`
// child: attempt 1 of execution 1, the package as noop.yaml.
func benchChildJob(pkg, workDir string) ([]byte, error) {
	return json.Marshal(&worker.Job{Task: api.Task{ID: 1, Attempt: 1, PackageFile: "noop.yaml", Package: pkg}, WorkDir: workDir, KillGraceMS: 1000})
}
