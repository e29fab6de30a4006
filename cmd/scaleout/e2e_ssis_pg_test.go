//go:build unix

package main

import (
	"database/sql"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/scaleout/scaleout/executor/pgtest"
)

// TestE2E_SSISImportPostgres imports the SSIS etl project with its SQL
// Server connection pointed at a real PostgreSQL (--connection) and runs
// the Data Flow package (flat file -> data conversion -> row count ->
// multicast -> bulk load) and the parent-child pair against it.
func TestE2E_SSISImportPostgres(t *testing.T) {
	pg := pgtest.New(t)
	root := t.TempDir()
	proj := ssisProject(t, root)
	writeFiles(t, map[string]string{
		filepath.Join(root, "orders.csv"):   "id,customer,amount\n1,Ada,10.50\n2,Bob,abc\n3,\"Cy, Jr\",7\n4,Di,1234.5\n",
		filepath.Join(root, "out", ".keep"): "",
	})
	a := ssisAgent(t)
	if r := cli(t, a.api, "import", proj, "--folder", "F", "--connection", "Warehouse="+pg.URL()); r.code != 0 {
		t.Fatalf("import: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for _, pkg := range []string{"Orders", "Parent"} {
		if r := cli(t, a.api, "run", "F/ETL/"+pkg, "--param", "ApiKey=k", "--wait"); r.code != 0 {
			t.Fatalf("run %s: exit %d\n%s\n%s", pkg, r.code, r.stdout, r.stderr)
		}
	}
	db, err := sql.Open("pgx", pg.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if got := queryStrings(t, db, "SELECT id || '|' || customer || '|' || amount FROM orders ORDER BY id"); !slices.Equal(got, []string{"1|Ada|10.50", "3|Cy, Jr|7.00", "4|Di|1234.50"}) {
		t.Errorf("orders = %q", got)
	}
	if got := queryStrings(t, db, "SELECT rows_loaded::text FROM runs"); !slices.Equal(got, []string{"3"}) {
		t.Errorf("runs = %q, want [3]", got)
	}
	if got := queryStrings(t, db, "SELECT label FROM child_runs"); !slices.Equal(got, []string{"from parent"}) {
		t.Errorf("child_runs = %q", got)
	}
	rej, err := os.ReadFile(filepath.Join(root, "out", "rejects.csv"))
	if err != nil || !strings.Contains(string(rej), "\n2,Bob,abc,1,amount,") {
		t.Errorf("rejects.csv = %q, %v", rej, err)
	}
}
