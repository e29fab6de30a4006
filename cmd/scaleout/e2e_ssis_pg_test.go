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

// TestE2E_SSISSplitLoadPostgres imports SplitLoad.dtsx with its OLE DB
// connection pointed at PostgreSQL (--connection) and runs its Data Flow:
// flat file source -> derived column (net = qty * price into
// DT_NUMERIC(7,2), rows it cannot hold redirected to a rejects file) ->
// conditional split (net >= 100) -> PostgreSQL (fast load) and a flat
// file. It checks the table's rows and both files.
func TestE2E_SSISSplitLoadPostgres(t *testing.T) {
	pg := pgtest.New(t)
	db, err := sql.Open("pgx", pg.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("CREATE TABLE large_orders (id int, qty int, price numeric(10,2), net numeric(7,2))"); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	src, err := os.ReadFile("../../testdata/ssis/packages/SplitLoad.dtsx")
	if err != nil {
		t.Fatal(err)
	}
	pkg := filepath.Join(t.TempDir(), "SplitLoad.dtsx")
	writeFiles(t, map[string]string{
		pkg:                               strings.ReplaceAll(string(src), `C:\Data\`, root+"/"),
		filepath.Join(root, "orders.txt"): "id;qty;price\n1;2;60.00\n2;1;5.50\n3;10;10.00\n4;5000;100.00\n",
	})
	a := ssisAgent(t)
	if r := cli(t, a.api, "import", pkg, "--folder", "F", "--strict", "--connection", "Warehouse="+pg.URL()); r.code != 0 || !strings.Contains(r.stdout, "1 ready to run") {
		t.Fatalf("import: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if r := cli(t, a.api, "run", "F/SplitLoad/SplitLoad", "--wait"); r.code != 0 {
		t.Fatalf("run: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if got := queryStrings(t, db, "SELECT id || '|' || qty || '|' || price || '|' || net FROM large_orders ORDER BY id"); !slices.Equal(got, []string{"1|2|60.00|120.00", "3|10|10.00|100.00"}) {
		t.Errorf("large_orders = %q", got)
	}
	if got, err := os.ReadFile(filepath.Join(root, "small.txt")); err != nil || string(got) != "id;qty;price;net\n2;1;5.50;5.50\n" {
		t.Errorf("small.txt = %q, %v", got, err)
	}
	rej, err := os.ReadFile(filepath.Join(root, "rejects.txt"))
	if err != nil || !strings.HasPrefix(string(rej), "id;qty;price;ErrorCode;ErrorColumn;ErrorDescription\n4;5000;100.00;3;net;") || strings.Count(string(rej), "\n") != 2 {
		t.Errorf("rejects.txt = %q, %v; want the header and row 4 (overflow, ErrorCode 3, column net)", rej, err)
	}
}
