//go:build unix

package main

import (
	"database/sql"
	"strconv"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/scaleout/scaleout/executor/pgtest"
)

// TestE2E_DataFlowSample deploys testdata/projects/dataflow and runs its
// data flow through an agent: orders CSV, customers looked up in SQLite,
// derived columns, a split and an aggregate bulk-loaded into a real
// PostgreSQL, bad rows redirected. It checks the table, the row counts
// and the summary in the execution's messages.
func TestE2E_DataFlowSample(t *testing.T) {
	pg := pgtest.New(t)
	port := pg.Port
	a := startAgent(t, t.TempDir())
	for _, args := range [][]string{{"folders", "create", "F"}, {"deploy", "testdata/projects/dataflow", "--folder", "F"}} {
		if r := cli(t, a.api, args...); r.code != 0 {
			t.Fatalf("%v: %d %s", args, r.code, r.stderr)
		}
	}
	r := cli(t, a.api, "run", "F/dataflow/load_orders", "--param", "pg_port="+strconv.Itoa(port), "--wait")
	if r.code != 0 {
		t.Fatalf("run: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"loaded 6 orders; 9 rows written", "running -> succeeded"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
	logs := cli(t, a.api, "executions", "logs", strconv.FormatUint(parseOutID(t, r), 10))
	for _, want := range []string{"data flow summary", "orders               flat_file_source                  -  output 9, error 3", "customer             lookup                            9  match 7, no_match 2"} {
		if !strings.Contains(logs.stdout, want) {
			t.Errorf("logs lack %q:\n%s", want, logs.stdout)
		}
	}
	db, err := sql.Open("pgx", pg.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	var revenue string
	if err := db.QueryRow(`SELECT count(*), sum(revenue)::text FROM sales_by_country`).Scan(&n, &revenue); err != nil || n != 3 || revenue != "1375.98" {
		t.Errorf("sales_by_country: %d rows, revenue %s, %v; want 3 and 1375.98", n, revenue, err)
	}
}
