//go:build unix

package executor

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/scaleout/scaleout/catalog/pkgspec"
	"github.com/scaleout/scaleout/executor/pgtest"
	"github.com/scaleout/scaleout/executor/sqltest"
)

// fileLines returns the lines of a file.
func fileLines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}

// TestRun_DataFlowSample runs the sample project of testdata/projects/dataflow
// against a real PostgreSQL server and a real SQLite file: orders CSV,
// customers looked up in SQLite, derived columns, a conditional split, an
// aggregate bulk-loaded into PostgreSQL, and every bad row (bad date, bad
// number, overflow, unknown customer, no quantity) in a rejects file.
func TestRun_DataFlowSample(t *testing.T) {
	port := pgtest.New(t).Port
	proj, pkg := sampleProject(t, "dataflow", "load_orders")
	work := t.TempDir()
	for run := 1; run <= 2; run++ { // twice: truncate makes the load repeatable
		rec := &recorder{}
		res := Run(context.Background(), pkg, map[string]string{"pg_port": fmt.Sprint(port)}, Options{ProjectDir: proj, WorkDir: work, LoggingLevel: pkgspec.LoggingVerbose}, rec)
		if res.Status != StatusSucceeded {
			t.Fatalf("run %d: Run = %+v\n%s", run, res, rec)
		}
		if got := rec.messages(EventStdout, "report"); !slices.Equal(got, []string{"loaded 6 orders; 9 rows written"}) {
			t.Errorf("report printed %q", got)
		}
		if !rec.has(EventInformation, "load", "data flow summary") || !rec.has(EventDiagnostic, "load", "path orders.output -> customer: 9 rows sent") {
			t.Errorf("no summary or rows-sent events\n%s", rec)
		}
	}
	rejected := fileLines(t, filepath.Join(work, "rejected_rows.csv"))
	if len(rejected) != 4 || !strings.HasPrefix(rejected[0], "order_id,customer_id,order_date,amount,quantity,note,ErrorCode,ErrorColumn,ErrorDescription") {
		t.Fatalf("rejected_rows.csv = %q", rejected)
	}
	for i, want := range []string{"7,2,2026-02-30,15.00,1,bad date,1,order_date,", "8,3,2026-03-04,abc,1,bad amount,1,amount,", "9,1,2026-03-04,12.00,70000,quantity overflows DT_I2,3,quantity,"} {
		if !strings.HasPrefix(rejected[i+1], want) {
			t.Errorf("rejected row %d = %q, want prefix %q", i+1, rejected[i+1], want)
		}
	}
	orders := fileLines(t, filepath.Join(work, "rejected_orders.jsonl"))
	var ids []string
	for _, l := range orders {
		ids = append(ids, strings.SplitN(strings.TrimPrefix(l, `{"order_id":`), ",", 2)[0])
	}
	slices.Sort(ids)
	if !slices.Equal(ids, []string{"10", "12", "6"}) {
		t.Errorf("rejected orders = %q", orders)
	}
	db := sqltest.Open(t, "pgx", fmt.Sprintf("postgres://scaleout@127.0.0.1:%d/postgres?sslmode=disable", port))
	got := sqltest.Rows(t, db, `SELECT country, orders, customers, revenue::text, round(avg_order::numeric, 2)::text, largest::text FROM sales_by_country ORDER BY country`, func(rows *sql.Rows) (string, error) {
		var c, rev, avg, largest string
		var n, cust int
		err := rows.Scan(&c, &n, &cust, &rev, &avg, &largest)
		return fmt.Sprintf("%s %d %d %s %s %s", c, n, cust, rev, avg, largest), err
	})
	want := []string{"FR 3 2 415.98 138.66 321.00", "IE 2 1 840.00 420.00 750.00", "SG 1 1 120.00 120.00 120.00"}
	if !slices.Equal(got, want) {
		t.Errorf("sales_by_country =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestRun_DataFlowPostgresCopy loads awkward text (tabs, newlines,
// backslashes, NULLs), bytes, times and decimals into PostgreSQL in
// batches of two rows, with a table lock and a column mapping, then reads
// them back exactly.
func TestRun_DataFlowPostgresCopy(t *testing.T) {
	port := pgtest.New(t).Port
	work := t.TempDir()
	if err := os.WriteFile(filepath.Join(work, "in.jsonl"), []byte(`{"id": 1, "s": "tab\there", "b": "raw", "at": "2026-01-02 03:04:05.123456", "d": "1.50"}
{"id": 2, "s": "line\nbreak \\ back", "b": null, "at": null, "d": "-0.01"}
{"id": 3, "s": null, "b": "", "at": "2026-07-01", "d": null}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	runOK(t, fmt.Sprintf(`name: pgcopy
connections:
  db: {driver: postgres, host: 127.0.0.1, port: "%d", user: scaleout, database: postgres, options: {sslmode: disable}}
tasks:
  - name: schema
    sql: {connection: db, statement: 'CREATE TABLE t (id int, txt text, raw bytea, at timestamptz, amount numeric(6,2))'}
  - name: load
    after: [schema]
    dataflow:
      components:
        - name: src
          json_source:
            path: in.jsonl
            columns: [{name: id, type: DT_I4}, {name: s, type: DT_WSTR}, {name: b, type: DT_BYTES}, {name: at, type: DT_DBTIMESTAMP}, {name: d, type: 'DT_NUMERIC(6,2)'}]
        - name: dst
          sql_destination:
            input: src
            connection: db
            table: t
            batch_size: 2
            table_lock: true
            mapping: {id: id, txt: s, raw: b, at: at, amount: d}
`, port), nil, Options{WorkDir: work, ProjectDir: work})
	db := sqltest.Open(t, "pgx", fmt.Sprintf("postgres://scaleout@127.0.0.1:%d/postgres?sslmode=disable", port))
	got := sqltest.Rows(t, db, `SELECT id, coalesce(txt, 'NULL'), coalesce(encode(raw, 'escape'), 'NULL'), coalesce(to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US'), 'NULL'), coalesce(amount::text, 'NULL') FROM t ORDER BY id`, func(rows *sql.Rows) (string, error) {
		var id int
		var s, b, at, d string
		err := rows.Scan(&id, &s, &b, &at, &d)
		return fmt.Sprintf("%d|%s|%s|%s|%s", id, s, b, at, d), err
	})
	want := []string{
		"1|tab\there|raw|2026-01-02 03:04:05.123456|1.50",
		"2|line\nbreak \\ back|NULL|NULL|-0.01",
		"3|NULL||2026-07-01 00:00:00.000000|NULL",
	}
	if !slices.Equal(got, want) {
		t.Errorf("table t =\n%q\nwant\n%q", got, want)
	}
}
