package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/scaleout/scaleout/api"
)

// Scenarios lists every scenario in the order they run: the idle
// measurements first, the leader kill last.
var Scenarios = []string{"baseline", "memory-idle", "childstart", "latency", "submit", "throughput", "exec", "import", "memory", "failover"}

// Optional lists the scenarios that run only when named: they take longer
// than the rest together.
var Optional = []string{"scale", "slots"}

// Kinds of error Run returns (test with errors.Is); the caller turns them
// into exit codes. Any other error is a failure to set the bench up.
var (
	// ErrUsage means the options are wrong: an unknown scenario, a bad
	// --pids list or address.
	ErrUsage = errors.New("bad bench options")
	// ErrUnreachable means the cluster did not answer.
	ErrUnreachable = errors.New("cluster unreachable")
)

// kindError is an error of one of the kinds above; its text is err's.
type kindError struct{ kind, err error }

func (e *kindError) Error() string   { return e.err.Error() }
func (e *kindError) Unwrap() []error { return []error{e.kind, e.err} }

func errorf(kind error, format string, args ...any) error {
	return &kindError{kind: kind, err: fmt.Errorf(format, args...)}
}

// Options configure one bench run.
type Options struct {
	// Exe is the scaleout binary: --local starts `Exe agent` processes, the
	// childstart scenario `Exe exec`, and the local cluster's key comes
	// from `Exe keygen`.
	Exe string
	// Version is the version reported with the results.
	Version string
	// Local starts this many server agents on 127.0.0.1 (0: drive the
	// cluster at Address).
	Local int
	// Address is the API of the cluster to drive without Local (empty:
	// $SCALEOUT_ADDR, else the default address).
	Address string
	// Scenarios to run (names from Scenarios; empty names are skipped).
	Scenarios []string
	// Executions is the number of executions of the throughput scenario.
	Executions int
	// ExecExecutions is the number of executions of the exec scenario's
	// throughput measurement (0: 3,000).
	ExecExecutions int
	// ScaleEnded is the number of ended executions the scale scenario
	// fills the catalog up to (0: 1,000,000).
	ScaleEnded int
	// Slots is how many executions the slots scenario runs at once on the
	// first agent (0: 1,000), each for SlotsHold (0: 45 s).
	Slots     int
	SlotsHold time.Duration
	// Clients is the number of concurrent clients of the submit scenario.
	Clients int
	// MaxTasks and CoalesceMax are given to the agents Local starts
	// (CoalesceMax 0: the agents' default).
	MaxTasks    int
	CoalesceMax int
	// TLS runs the Local agents with mutual TLS and encrypted gossip
	// (`Exe tls init`); without it they run with --insecure.
	TLS bool
	// ACL bootstraps the Local cluster's access control lists before the
	// scenarios; the clients then send the management token. Without it
	// the agents run with --insecure (with TLS too), so the API is open.
	ACL bool
	// Ended is the number of ended executions in the catalog before the
	// memory scenario measures.
	Ended int
	// KillCmd (without Local) kills the leader for the failover scenario,
	// run with sh -c; {leader} is replaced by its node name.
	KillCmd string
	// Pids (without Local) names agents on this machine for the memory
	// scenarios: "name=pid,...".
	Pids string
	// BaselineDuration is how long each baseline measurement runs.
	BaselineDuration time.Duration
	// StartBaseline starts the trivial Raft cluster the rates are compared
	// with, keeping its data under dir (the caller wires cluster/raftbench).
	StartBaseline func(dir string) (Baseline, error)
	// ChildJob encodes the job a `scaleout exec` child reads on stdin to run
	// the package pkg in workDir (the caller wires the worker's protocol).
	ChildJob func(pkg, workDir string) ([]byte, error)
	// SSISProject is the SSIS project folder the import scenario packs an
	// .ispac of 20 packages from (empty: DefaultSSISProject).
	SSISProject string
	// Log receives progress lines ("bench: ...").
	Log io.Writer
}

// Baseline is a trivial Raft cluster in this process.
type Baseline interface {
	// Measure hammers Apply from concurrency goroutines for d.
	Measure(ctx context.Context, concurrency int, d time.Duration) (BaselineResult, error)
	// Stop stops the cluster.
	Stop()
}

// BaselineResult is one baseline measurement.
type BaselineResult struct {
	// PerSecond is the applies per second; P50 and P99 the apply latency.
	PerSecond float64
	P50, P99  time.Duration
}

// Row is one line of the table.
type Row struct {
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

// Report is the result of a run: the table's rows and what they were
// measured on. It is also the JSON document.
type Report struct {
	Time      time.Time `json:"time"`
	Version   string    `json:"version"`
	GoVersion string    `json:"go_version"`
	CPUs      int       `json:"cpus"`
	Host      string    `json:"host"`
	Local     int       `json:"local_servers,omitempty"`
	MaxTasks  int       `json:"max_tasks,omitempty"`
	Coalesce  int       `json:"coalesce_max,omitempty"`
	TLS       bool      `json:"tls,omitempty"`
	ACL       bool      `json:"acl,omitempty"`
	Rows      []Row     `json:"rows"`
	Duration  string    `json:"duration"`
}

// bench is one run's state.
type bench struct {
	o        Options
	logw     io.Writer
	lc       *localCluster // nil against a foreign cluster
	addrs    []string
	clients  []*api.Client
	rows     []Row
	baseline map[int]float64 // concurrency -> applies/s
	pids     map[string]int
	noop     string
	ended    int // executions this run has ended (for the memory scenario)
}

func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(b.logw, "bench: "+format+"\n", args...)
}

func (b *bench) add(r Row) {
	if r.Baseline > 0 && r.Ratio == 0 {
		r.Ratio = r.Value / r.Baseline
	}
	b.rows = append(b.rows, r)
	b.logf("%-12s %-44s %10.1f %s", r.Scenario, r.Metric, r.Value, r.Unit)
}

// Run sets the cluster up (or reaches it), runs the scenarios and returns
// the report. A scenario that fails adds an "error" row and the others
// still run; when ctx ends, the remaining scenarios are skipped and the
// report so far is returned. Errors before any scenario ran return no
// report.
func Run(ctx context.Context, o Options) (*Report, error) {
	start := time.Now()
	logw := o.Log
	if logw == nil {
		logw = io.Discard
	}
	b := &bench{o: o, logw: logw, baseline: map[int]float64{}, pids: map[string]int{}, noop: noopPackage}
	want := map[string]bool{}
	for _, s := range o.Scenarios {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if !contains(Scenarios, s) && !contains(Optional, s) {
			return nil, errorf(ErrUsage, "unknown scenario %q (have %s)", s, strings.Join(append(slices.Clone(Scenarios), Optional...), ", "))
		}
		want[s] = true
	}
	if o.Local > 0 {
		lc, err := startLocalCluster(ctx, o.Exe, o.Local, o.MaxTasks, o.CoalesceMax, o.TLS, o.ACL, b.logf)
		if err != nil {
			return nil, fmt.Errorf("start local cluster: %w", err)
		}
		defer lc.stop()
		b.lc = lc
		b.addrs = lc.addrs()
		for _, a := range lc.agents {
			b.pids[a.name] = a.cmd.Process.Pid
		}
	} else {
		addr := o.Address
		if addr == "" {
			addr = api.AddressFromEnv()
		}
		b.addrs = []string{addr}
		if err := parsePids(o.Pids, b.pids); err != nil {
			return nil, errorf(ErrUsage, "%v", err)
		}
	}
	for _, a := range b.addrs {
		c, err := api.NewClient(api.Config{Address: a, Caller: "scaleout-bench"})
		if err != nil {
			return nil, errorf(ErrUsage, "%v", err)
		}
		b.clients = append(b.clients, c)
	}
	if _, err := b.clients[0].Status().Leader(ctx); err != nil {
		return nil, errorf(ErrUnreachable, "cluster at %s: %v", b.addrs[0], err)
	}

	type scenario struct {
		name string
		run  func(context.Context) error
	}
	for _, s := range []scenario{
		{"baseline", b.runBaseline}, {"memory-idle", b.memoryIdle}, {"childstart", b.childStart},
		{"latency", b.latency}, {"submit", b.submit}, {"throughput", b.throughput}, {"exec", b.execScenario}, {"import", b.importSSIS},
		{"memory", b.memoryAfter}, {"failover", b.failover}, {"scale", b.scale}, {"slots", b.slots},
	} {
		if !want[s.name] {
			continue
		}
		if ctx.Err() != nil {
			break
		}
		b.logf("== %s", s.name)
		if err := s.run(ctx); err != nil {
			b.add(Row{Scenario: s.name, Metric: "error", Note: err.Error()})
			b.logf("%s failed: %v", s.name, err)
		}
	}
	rep := &Report{Time: start.UTC(), Version: o.Version, GoVersion: runtime.Version(), CPUs: runtime.NumCPU(),
		Local: o.Local, MaxTasks: o.MaxTasks, Coalesce: o.CoalesceMax, TLS: o.TLS, ACL: o.ACL, Rows: b.rows, Duration: time.Since(start).Round(time.Second).String()}
	rep.Host, _ = os.Hostname()
	return rep, nil
}

// WriteTable prints the report as a Markdown table followed by the rows'
// notes.
func (rep *Report) WriteTable(out io.Writer) {
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
