//go:build unix

// Command dfbench measures the data flow engine against Miller and
// PostgreSQL's COPY on generated CSV files (make bench-dataflow):
//
//   - transform: filter + derived column + group-by aggregate, CSV -> CSV,
//     by a scaleout data flow and by Miller (mlr) doing the same work;
//   - load: CSV -> PostgreSQL table, by a data flow (COPY in text format through pgx) and by
//     the server's own COPY FROM of the same file.
//
// Each run is a child process of its own, as an execution is on an agent,
// so that its peak RSS is measured alone. Data and the PostgreSQL server
// live in a temporary directory removed at the end. It runs on Unix only
// (peak RSS comes from getrusage).
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/scaleout/scaleout/catalog/pkgspec"
	"github.com/scaleout/scaleout/executor"
	"github.com/scaleout/scaleout/executor/pgtest"
)

func main() {
	if len(os.Args) == 3 && os.Args[1] == "flow" {
		os.Exit(runFlow(os.Args[2]))
	}
	rowsFlag := flag.String("rows", "1000000,10000000", "comma-separated row counts of the generated files")
	skipPG := flag.Bool("skip-pg", false, "skip the PostgreSQL load")
	keep := flag.Bool("keep", false, "keep the temporary directory")
	only := flag.String("only", "", "run only this scenario: transform or load")
	flag.Parse()
	dir, err := os.MkdirTemp("", "dfbench-")
	check(err)
	if !*keep {
		defer os.RemoveAll(dir)
	}
	check(os.Chmod(dir, 0o755))
	var rows []result
	var pg *postgres
	if !*skipPG {
		if srv, err := pgtest.Start(filepath.Join(dir, "pg"), "max_wal_size=4GB"); err != nil {
			fmt.Fprintln(os.Stderr, "dfbench: no PostgreSQL load:", err)
		} else {
			pg = &postgres{srv}
			defer func() { _ = srv.Stop() }()
		}
	}
	start := time.Now()
	for _, s := range strings.Split(*rowsFlag, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		check(err)
		label := fmt.Sprintf("%dM", n/1_000_000)
		if n < 1_000_000 {
			label = fmt.Sprintf("%dk", n/1000)
		}
		csv := filepath.Join(dir, "orders-"+label+".csv")
		size := generate(csv, n)
		mb := float64(size) / 1e6
		logf("%s rows: %s (%.0f MB)", label, csv, mb)

		if *only != "load" {
			rows = append(rows, transform(dir, csv, label, n, mb)...)
		}
		if pg != nil && *only != "transform" {
			rows = append(rows, load(pg, dir, csv, label, n, mb)...)
		}
		if !*keep {
			os.Remove(csv)
		}
	}
	fmt.Printf("\ndfbench: %s, %d CPUs, %s/%s, took %s\n\n", runtime.Version(), runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, time.Since(start).Round(time.Second))
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 1, ' ', 0)
	fmt.Fprintln(tw, "| scenario\t| metric\t| value\t| unit\t| note\t|")
	fmt.Fprintln(tw, "| ---\t| ---\t| ---\t| ---\t| ---\t|")
	for _, r := range rows {
		v := fmt.Sprintf("%.1f", r.value)
		if r.unit == "ratio" {
			v = fmt.Sprintf("%.2f", r.value)
		}
		fmt.Fprintf(tw, "| %s\t| %s\t| %s\t| %s\t| %s\t|\n", r.scenario, r.metric, v, r.unit, r.note)
	}
	tw.Flush()
	fmt.Println()
}

// transform runs the data flow and Miller on the same file.
func transform(dir, csv, label string, n int, mb float64) []result {
	var rows []result
	df := transformFlow(dir, csv, filepath.Join(dir, "by_country-df.csv"))
	scale := measure(exec.Command(self(), "flow", df))
	rows = append(rows, throughput("transform "+label, "scaleout data flow", n, mb, scale, 0)...)
	mlr := exec.Command("mlr", "--icsv", "--ocsv", "filter", "$qty > 1", "then", "put", "$net = $amount * $qty",
		"then", "stats1", "-a", "count,sum", "-f", "net", "-g", "country", csv)
	mlrOut, err := os.Create(filepath.Join(dir, "by_country-mlr.csv"))
	check(err)
	mlr.Stdout = mlrOut
	miller := measure(mlr)
	mlrOut.Close()
	rows = append(rows, throughput("transform "+label, "miller (mlr)", n, mb, miller, 0)...)
	rows = append(rows, result{"transform " + label, "scaleout / miller rows/s", miller.seconds / scale.seconds, "ratio", "target >= 1"})
	if same, msg := sameTotals(filepath.Join(dir, "by_country-df.csv"), filepath.Join(dir, "by_country-mlr.csv")); !same {
		rows = append(rows, result{"transform " + label, "results differ", 0, "", msg})
	}
	return rows
}

// load loads the file with COPY FROM and with the data flow.
func load(pg *postgres, dir, csv, label string, n int, mb float64) []result {
	var rows []result
	check(pg.psql("DROP TABLE IF EXISTS orders; CREATE TABLE orders (id bigint, customer_id int, country text, order_date date, amount numeric(10,2), qty smallint, note text)"))
	cp := measure(exec.Command(pg.Bin("psql"), pg.URL(), "-qc", fmt.Sprintf("COPY orders FROM '%s' CSV HEADER", csv)))
	rows = append(rows, throughput("load "+label, "postgres COPY FROM (server)", n, mb, cp, -1)...)
	check(pg.psql("TRUNCATE orders"))
	lf := loadFlow(dir, csv, pg.Port)
	load := measure(exec.Command(self(), "flow", lf))
	rows = append(rows, throughput("load "+label, "scaleout data flow (pgx COPY)", n, mb, load, 0)...)
	rows = append(rows, result{"load " + label, "scaleout / COPY rows/s", cp.seconds / load.seconds, "ratio", "target >= 0.5"})
	if cnt, err := pg.count(); err != nil || cnt != n {
		rows = append(rows, result{"load " + label, "rows loaded differ", float64(cnt), "rows", fmt.Sprint(err)})
	}
	return rows
}

type result struct {
	scenario, metric string
	value            float64
	unit, note       string
}

type run struct {
	seconds float64
	rssMiB  float64
}

func throughput(scenario, who string, n int, mb float64, r run, rss int) []result {
	out := []result{
		{scenario, who + " rows/s", float64(n) / r.seconds, "rows/s", fmt.Sprintf("%.1fs", r.seconds)},
		{scenario, who + " MB/s", mb / r.seconds, "MB/s", ""},
	}
	if rss == 0 {
		note := ""
		if strings.HasPrefix(who, "scaleout") {
			note = "target < 256 MiB"
		}
		out = append(out, result{scenario, who + " peak RSS", r.rssMiB, "MiB", note})
	}
	return out
}

// measure runs cmd and returns its wall time and peak RSS.
func measure(cmd *exec.Cmd) run {
	cmd.Stderr = os.Stderr
	if cmd.Stdout == nil {
		cmd.Stdout = os.Stderr
	}
	t := time.Now()
	if err := cmd.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "dfbench: %s: %v\n", strings.Join(cmd.Args, " "), err)
		os.Exit(1)
	}
	r := run{seconds: time.Since(t).Seconds()}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.rssMiB = float64(ru.Maxrss) / 1024
	}
	logf("%s: %.2fs, %.0f MiB", filepath.Base(cmd.Args[0]), r.seconds, r.rssMiB)
	return r
}

// generate writes n orders and returns the file size.
func generate(path string, n int) int64 {
	f, err := os.Create(path)
	check(err)
	w := bufio.NewWriterSize(f, 1<<20)
	countries := []string{"FR", "IE", "SG", "DE", "US", "GB", "JP", "BR", "IN", "CN", "ES", "IT", "NL", "SE", "NO", "PL", "PT", "CA", "AU", "NZ"}
	notes := []string{"", "gift", "express", "back order", "fragile"}
	rng := rand.New(rand.NewPCG(1, 2))
	w.WriteString("id,customer_id,country,order_date,amount,qty,note\n")
	var b []byte
	for i := range n {
		b = b[:0]
		b = strconv.AppendInt(b, int64(i+1), 10)
		b = append(b, ',')
		b = strconv.AppendInt(b, int64(rng.IntN(100000)), 10)
		b = append(b, ',')
		b = append(b, countries[rng.IntN(len(countries))]...)
		b = append(b, ",2026-"...)
		m, d := 1+rng.IntN(12), 1+rng.IntN(28)
		b = append(b, byte('0'+m/10), byte('0'+m%10), '-', byte('0'+d/10), byte('0'+d%10), ',')
		cents := rng.IntN(100000)
		b = strconv.AppendInt(b, int64(cents/100), 10)
		b = append(b, '.', byte('0'+cents%100/10), byte('0'+cents%10), ',')
		b = strconv.AppendInt(b, int64(1+rng.IntN(9)), 10)
		b = append(b, ',')
		b = append(b, notes[rng.IntN(len(notes))]...)
		b = append(b, '\n')
		w.Write(b)
	}
	check(w.Flush())
	st, err := f.Stat()
	check(err)
	check(f.Close())
	return st.Size()
}

const ordersColumns = `            columns:
              - {name: id, type: DT_I8}
              - {name: customer_id, type: DT_I4}
              - {name: country, type: 'DT_STR(2)'}
              - {name: order_date, type: DT_DBDATE}
              - {name: amount, type: 'DT_NUMERIC(10,2)'}
              - {name: qty, type: DT_I2}
              - {name: note, type: 'DT_WSTR(50)'}
`

// transformFlow writes the package of the transform and returns its path.
func transformFlow(dir, in, out string) string {
	src := fmt.Sprintf(`name: bench_transform
tasks:
  - name: transform
    dataflow:
      components:
        - name: orders
          flat_file_source:
            path: %s
%s        - name: filter
          conditional_split:
            input: orders
            cases: [{output: keep, condition: 'qty > 1'}]
        - name: derive
          derived_column:
            input: filter.keep
            columns: [{name: net, expression: 'amount * qty', type: 'DT_NUMERIC(12,2)'}]
        - name: by_country
          aggregate:
            input: derive
            group_by: [country]
            aggregations: [{name: count, op: count}, {name: net_sum, op: sum, column: net}]
        - name: out
          flat_file_destination: {input: by_country, path: %s}
`, in, ordersColumns, out)
	path := filepath.Join(dir, "transform.yaml")
	check(os.WriteFile(path, []byte(src), 0o644))
	return path
}

// loadFlow writes the package of the load and returns its path.
func loadFlow(dir, in string, port int) string {
	src := fmt.Sprintf(`name: bench_load
connections:
  pg: {driver: postgres, host: 127.0.0.1, port: '%d', user: scaleout, database: postgres, options: {sslmode: disable}}
tasks:
  - name: load
    dataflow:
      components:
        - name: orders
          flat_file_source:
            path: %s
%s        - name: table
          sql_destination: {input: orders, connection: pg, table: orders, table_lock: true}
`, port, in, ordersColumns)
	path := filepath.Join(dir, "load.yaml")
	check(os.WriteFile(path, []byte(src), 0o644))
	return path
}

// runFlow runs a package file in this process, as an agent's child does.
func runFlow(path string) int {
	if prof := os.Getenv("DFBENCH_CPUPROFILE"); prof != "" { // where the time goes
		f, err := os.Create(prof)
		check(err)
		check(pprof.StartCPUProfile(f))
		defer pprof.StopCPUProfile()
	}
	pkg, err := pkgspec.ParseFile(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	sink := executor.SinkFunc(func(e executor.Event) {
		if e.Type == executor.EventError || e.Type == executor.EventInformation && strings.HasPrefix(e.Message, "data flow summary") {
			fmt.Fprintf(os.Stderr, "  %s %s: %s\n", e.Type, e.Task, e.Message)
		}
	})
	res := executor.Run(context.Background(), pkg, nil, executor.Options{WorkDir: filepath.Dir(path)}, sink)
	if res.Status != executor.StatusSucceeded {
		fmt.Fprintln(os.Stderr, res.Message)
		return 1
	}
	return 0
}

// sameTotals compares the per-country count and net sum of both outputs.
func sameTotals(a, b string) (bool, string) {
	read := func(p string) map[string]string {
		out := map[string]string{}
		data, err := os.ReadFile(p)
		if err != nil {
			return out
		}
		for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n")[1:] {
			f := strings.Split(l, ",")
			if len(f) == 3 {
				sum, _ := strconv.ParseFloat(f[2], 64)
				out[f[0]] = f[1] + " " + strconv.FormatFloat(sum, 'f', 2, 64)
			}
		}
		return out
	}
	x, y := read(a), read(b)
	if len(x) == 0 || len(x) != len(y) {
		return false, fmt.Sprintf("%d vs %d groups", len(x), len(y))
	}
	for k, v := range x {
		if y[k] != v {
			return false, fmt.Sprintf("%s: %s vs %s", k, v, y[k])
		}
	}
	return true, ""
}

// postgres is the benchmark's server, with the psql calls it needs.
type postgres struct{ *pgtest.Server }

func (p postgres) psql(stmt string) error {
	out, err := exec.Command(p.Bin("psql"), p.URL(), "-qc", stmt).CombinedOutput()
	if err != nil {
		return fmt.Errorf("psql %s: %v\n%s", stmt, err, out)
	}
	return nil
}

func (p postgres) count() (int, error) {
	out, err := exec.Command(p.Bin("psql"), p.URL(), "-tAc", "SELECT count(*) FROM orders").Output()
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(out)))
}

func self() string {
	exe, err := os.Executable()
	check(err)
	return exe
}

func logf(format string, args ...any) { fmt.Fprintf(os.Stderr, "dfbench: "+format+"\n", args...) }

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "dfbench:", err)
		os.Exit(1)
	}
}
