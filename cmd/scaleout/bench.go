package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/scaleout/scaleout/api"
	"github.com/spf13/cobra"
)

// benchFlags are the options of `scaleout bench`.
type benchFlags struct {
	clientFlags
	local        int
	scenarios    string
	executions   int
	clients      int
	maxTasks     int
	coalesceMax  int
	ended        int
	jsonOut      string
	killCmd      string
	pids         string
	baselineSecs time.Duration
}

// allScenarios is the order the scenarios run in: the idle measurements
// first, the leader kill last.
var allScenarios = []string{"baseline", "memory-idle", "childstart", "latency", "submit", "throughput", "memory", "failover"}

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
  memory       RSS after --ended ended executions in the catalog
  failover     kill -9 of the leader under load: time until dispatch resumes,
               no execution lost, none succeeded twice

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
	fl.StringVar(&f.scenarios, "scenarios", strings.Join(allScenarios, ","), "scenarios to run, comma-separated")
	fl.IntVar(&f.executions, "executions", 10000, "executions in the throughput scenario")
	fl.IntVar(&f.clients, "clients", 32, "concurrent clients in the submit scenario")
	fl.IntVar(&f.maxTasks, "max-tasks", 16, "with --local: executions each agent runs at once")
	fl.IntVar(&f.coalesceMax, "coalesce-max", 0, "with --local: passed to the agents (1 turns leader-side coalescing off)")
	fl.IntVar(&f.ended, "ended", 100000, "ended executions in the catalog before the memory scenario measures")
	fl.StringVar(&f.jsonOut, "json", "", "also write the results as JSON to this file")
	fl.StringVar(&f.killCmd, "failover-kill-cmd", "", "without --local: shell command that kills the leader ({leader} = its node name)")
	fl.StringVar(&f.pids, "pids", "", "without --local: name=pid,... of agents on this machine, for the memory scenarios")
	fl.DurationVar(&f.baselineSecs, "baseline-duration", 3*time.Second, "how long each baseline measurement runs")
	return cmd
}

// benchRow is one line of the table.
type benchRow struct {
	Scenario string  `json:"scenario"`
	Metric   string  `json:"metric"`
	Value    float64 `json:"value"`
	Unit     string  `json:"unit"`
	// Baseline is the Raft baseline's applies/s at the same concurrency
	// (0: no comparison).
	Baseline float64 `json:"baseline_applies_per_s,omitempty"`
	// Ratio is Value / Baseline, or what Note says it is.
	Ratio float64 `json:"ratio,omitempty"`
	Note  string  `json:"note,omitempty"`
}

// benchReport is the JSON document.
type benchReport struct {
	Time      time.Time  `json:"time"`
	Version   string     `json:"version"`
	GoVersion string     `json:"go_version"`
	CPUs      int        `json:"cpus"`
	Host      string     `json:"host"`
	Local     int        `json:"local_servers,omitempty"`
	MaxTasks  int        `json:"max_tasks,omitempty"`
	Coalesce  int        `json:"coalesce_max,omitempty"`
	Rows      []benchRow `json:"rows"`
	Duration  string     `json:"duration"`
}

// bench is one run's state.
type bench struct {
	f        *benchFlags
	out      io.Writer
	logw     io.Writer
	lc       *localCluster // nil against a foreign cluster
	addrs    []string
	clients  []*api.Client
	rows     []benchRow
	baseline map[int]float64 // concurrency -> applies/s
	pids     map[string]int
	noop     string
	ended    int // executions this run has ended (for the memory scenario)
}

func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(b.logw, "bench: "+format+"\n", args...)
}

func (b *bench) add(r benchRow) {
	if r.Baseline > 0 && r.Ratio == 0 {
		r.Ratio = r.Value / r.Baseline
	}
	b.rows = append(b.rows, r)
	b.logf("%-12s %-44s %10.1f %s", r.Scenario, r.Metric, r.Value, r.Unit)
}

func runBench(ctx context.Context, out, logw io.Writer, f *benchFlags) error {
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	b := &bench{f: f, out: out, logw: logw, baseline: map[int]float64{}, pids: map[string]int{}, noop: benchNoopPackage}
	want := map[string]bool{}
	for _, s := range strings.Split(f.scenarios, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if !contains(allScenarios, s) {
			return exitf(exitUsage, "unknown scenario %q (have %s)", s, strings.Join(allScenarios, ", "))
		}
		want[s] = true
	}
	if f.local > 0 {
		lc, err := startLocalCluster(ctx, f.local, f.maxTasks, f.coalesceMax, b.logf)
		if err != nil {
			return exitf(exitFailed, "start local cluster: %v", err)
		}
		defer lc.stop()
		b.lc = lc
		b.addrs = lc.addrs()
		for _, a := range lc.agents {
			b.pids[a.name] = a.cmd.Process.Pid
		}
	} else {
		addr := f.address
		if addr == "" {
			addr = api.AddressFromEnv()
		}
		b.addrs = []string{addr}
		if err := parsePids(f.pids, b.pids); err != nil {
			return exitf(exitUsage, "%v", err)
		}
	}
	for _, a := range b.addrs {
		c, err := api.NewClient(api.Config{Address: a, Caller: "scaleout-bench"})
		if err != nil {
			return exitf(exitUsage, "%v", err)
		}
		b.clients = append(b.clients, c)
	}
	if _, err := b.clients[0].Status().Leader(ctx); err != nil {
		return exitf(exitUnreached, "cluster at %s: %v", b.addrs[0], err)
	}

	type scenario struct {
		name string
		run  func(context.Context) error
	}
	for _, s := range []scenario{
		{"baseline", b.runBaseline}, {"memory-idle", b.memoryIdle}, {"childstart", b.childStart},
		{"latency", b.latency}, {"submit", b.submit}, {"throughput", b.throughput},
		{"memory", b.memoryAfter}, {"failover", b.failover},
	} {
		if !want[s.name] {
			continue
		}
		if ctx.Err() != nil {
			break
		}
		b.logf("== %s", s.name)
		if err := s.run(ctx); err != nil {
			b.add(benchRow{Scenario: s.name, Metric: "error", Note: err.Error()})
			b.logf("%s failed: %v", s.name, err)
		}
	}
	rep := benchReport{Time: start.UTC(), Version: version, GoVersion: runtime.Version(), CPUs: runtime.NumCPU(),
		Local: f.local, MaxTasks: f.maxTasks, Coalesce: f.coalesceMax, Rows: b.rows, Duration: time.Since(start).Round(time.Second).String()}
	rep.Host, _ = os.Hostname()
	printBenchTable(out, &rep)
	if f.jsonOut != "" {
		buf, _ := json.MarshalIndent(&rep, "", "  ")
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

func printBenchTable(out io.Writer, rep *benchReport) {
	fmt.Fprintf(out, "\nscaleout bench %s: %s, %d CPUs, %s, %d local servers, max-tasks %d, took %s\n\n",
		rep.Version, rep.GoVersion, rep.CPUs, runtime.GOOS+"/"+runtime.GOARCH, rep.Local, rep.MaxTasks, rep.Duration)
	tw := tabwriter.NewWriter(out, 0, 0, 1, ' ', 0)
	fmt.Fprintln(tw, "| scenario\t| metric\t| value\t| unit\t| raft baseline/s\t| ratio\t|")
	fmt.Fprintln(tw, "| ---\t| ---\t| ---\t| ---\t| ---\t| ---\t|")
	for _, r := range rep.Rows {
		base, ratio := "", ""
		if r.Baseline > 0 {
			base = fmt.Sprintf("%.0f", r.Baseline)
		}
		if r.Ratio != 0 {
			ratio = fmt.Sprintf("%.3f", r.Ratio)
		}
		val := fmt.Sprintf("%.1f", r.Value)
		if r.Metric == "error" {
			val = ""
		}
		fmt.Fprintf(tw, "| %s\t| %s\t| %s\t| %s\t| %s\t| %s\t|\n", r.Scenario, r.Metric, val, r.Unit, base, ratio)
	}
	_ = tw.Flush()
	fmt.Fprintln(out)
	for _, r := range rep.Rows {
		if r.Note != "" {
			fmt.Fprintf(out, "  %s / %s: %s\n", r.Scenario, r.Metric, r.Note)
		}
	}
	fmt.Fprintln(out)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func parsePids(s string, into map[string]int) error {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		var pid int
		if _, err := fmt.Sscanf(v, "%d", &pid); !ok || err != nil || k == "" || pid <= 0 {
			return fmt.Errorf("--pids %q: want name=pid,...", kv)
		}
		into[k] = pid
	}
	return nil
}
