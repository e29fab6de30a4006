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
	"github.com/scaleout/scaleout/executor/sqltest"
	"golang.org/x/text/encoding/charmap"
)

// ssisPostgres starts a PostgreSQL server for the test, runs stmts in it
// and returns its URL and a connection to it, closed when the test ends.
func ssisPostgres(t *testing.T, stmts ...string) (string, *sql.DB) {
	t.Helper()
	pg := pgtest.New(t)
	return pg.URL(), sqltest.Open(t, "pgx", pg.URL(), stmts...)
}

// TestE2E_SSISImportPostgres imports the SSIS etl project with its SQL
// Server connection pointed at a real PostgreSQL (--connection) and runs
// the Data Flow package (flat file -> data conversion -> row count ->
// multicast -> bulk load) and the parent-child pair against it.
func TestE2E_SSISImportPostgres(t *testing.T) {
	pgURL, db := ssisPostgres(t)
	root := t.TempDir()
	proj := ssisProject(t, root)
	writeFiles(t, map[string]string{
		filepath.Join(root, "orders.csv"):   "id,customer,amount\n1,Ada,10.50\n2,Bob,abc\n3,\"Cy, Jr\",7\n4,Di,1234.5\n",
		filepath.Join(root, "out", ".keep"): "",
	})
	a := ssisAgent(t)
	ssisImport(t, a, proj, "", "--connection", "Warehouse="+pgURL)
	for _, pkg := range []string{"Orders", "Parent"} {
		ssisRun(t, a, "F/ETL/"+pkg, 0, "--param", "ApiKey=k")
	}
	if got := sqltest.Strings(t, db, "SELECT id || '|' || customer || '|' || amount FROM orders ORDER BY id"); !slices.Equal(got, []string{"1|Ada|10.50", "3|Cy, Jr|7.00", "4|Di|1234.50"}) {
		t.Errorf("orders = %q", got)
	}
	if got := sqltest.Strings(t, db, "SELECT rows_loaded::text FROM runs"); !slices.Equal(got, []string{"3"}) {
		t.Errorf("runs = %q, want [3]", got)
	}
	if got := sqltest.Strings(t, db, "SELECT label FROM child_runs"); !slices.Equal(got, []string{"from parent"}) {
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
	pgURL, db := ssisPostgres(t, "CREATE TABLE large_orders (id int, qty int, price numeric(10,2), net numeric(7,2))")
	root := t.TempDir()
	pkg := ssisPackage(t, "SplitLoad.dtsx", map[string]string{
		filepath.Join(root, "orders.txt"): "id;qty;price\n1;2;60.00\n2;1;5.50\n3;10;10.00\n4;5000;100.00\n",
	}, `C:\Data\`, root+"/")
	ssisImportRun(t, pkg, "1 ready to run", "--strict", "--connection", "Warehouse="+pgURL)
	if got := sqltest.Strings(t, db, "SELECT id || '|' || qty || '|' || price || '|' || net FROM large_orders ORDER BY id"); !slices.Equal(got, []string{"1|2|60.00|120.00", "3|10|10.00|100.00"}) {
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

// TestE2E_SSISLookupCacheModesPostgres imports LookupModes.dtsx with its
// OLE DB connection pointed at PostgreSQL and runs its Data Flow: flat
// file -> Lookup without cache (CacheType 2) -> Lookup with a partial
// cache (CacheType 1) -> flat file, the first lookup's misses to another
// file. The reference views number their rows with a sequence on every
// read, so the output shows when each lookup read its reference: the
// uncached one once per row (three orders of customer 10 get three
// numbers, where a full cache would give one), the partial one once per
// key (they share one region).
func TestE2E_SSISLookupCacheModesPostgres(t *testing.T) {
	pgURL, _ := ssisPostgres(t,
		"CREATE SEQUENCE gen", "CREATE TABLE customer_base (id int, name text)", "INSERT INTO customer_base VALUES (10, 'ten'), (20, 'twenty')",
		"CREATE VIEW customers AS SELECT id, name || '#' || nextval('gen') AS name FROM customer_base",
		"CREATE SEQUENCE rgen", "CREATE TABLE region_base (customer_id int, region text)", "INSERT INTO region_base VALUES (10, 'north'), (20, 'south')",
		"CREATE VIEW regions AS SELECT customer_id, region || '#' || nextval('rgen') AS region FROM region_base",
	)
	root := t.TempDir()
	pkg := ssisPackage(t, "LookupModes.dtsx", map[string]string{
		filepath.Join(root, "orders.csv"): "id,customer\r\n1,10\r\n2,20\r\n3,10\r\n4,30\r\n5,20\r\n6,10\r\n",
	}, `C:\Data\`, root+"/")
	ssisImportRun(t, pkg, "", "--strict", "--connection", "Warehouse="+pgURL)
	if got, err := os.ReadFile(filepath.Join(root, "unknown.csv")); err != nil || string(got) != "id,customer\r\n4,30\r\n" {
		t.Errorf("unknown.csv = %q, %v", got, err)
	}
	out, err := os.ReadFile(filepath.Join(root, "enriched.csv"))
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string][]string{}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\r\n")[1:] {
		f := strings.Split(l, ",")
		rows[f[0]] = f
	}
	if len(rows) != 5 {
		t.Fatalf("enriched.csv = %q, want orders 1, 2, 3, 5, 6", out)
	}
	names := map[string]bool{}
	for _, id := range []string{"1", "3", "6"} {
		r := rows[id]
		if !strings.HasPrefix(r[2], "ten#") || r[3] != rows["1"][3] || !strings.HasPrefix(r[3], "north#") {
			t.Errorf("order %s = %q; want ten#N and the region of order 1 (%s)", id, r, rows["1"][3])
		}
		names[r[2]] = true
	}
	if len(names) != 3 {
		t.Errorf("the three orders of customer 10 got names %v: the uncached lookup did not query per row\n%s", names, out)
	}
	if r := rows["5"]; !strings.HasPrefix(r[2], "twenty#") || r[3] != rows["2"][3] {
		t.Errorf("orders 2 and 5 = %q, %q", rows["2"], r)
	}
}

// TestE2E_SSISBulkInsertPostgres imports BulkLoad.dtsx (two Bulk Insert
// tasks, as SSIS saves them) with its OLE DB connection pointed at
// PostgreSQL and runs it. The tasks name no columns: the tables' columns
// come from information_schema when they run. Load Orders reads a
// Windows-1252 file with '|' fields and CR LF rows from its second row,
// skips the identity column's field (the database numbers the rows), gives
// an empty field its column's default and skips one row with too few fields
// (MaximumErrors 1), two rows per transaction under a table lock; Load
// Returns reads tab-separated LF rows and keeps empty fields NULL
// (KeepNulls).
func TestE2E_SSISBulkInsertPostgres(t *testing.T) {
	pgURL, db := ssisPostgres(t,
		"CREATE SCHEMA dbo",
		"CREATE TABLE dbo.orders_stage (row_id int GENERATED ALWAYS AS IDENTITY, id int, customer text, amount numeric(10,2), status text DEFAULT 'new')",
		"CREATE TABLE dbo.returns_stage (return_id int, note text DEFAULT 'none', qty int)",
	)
	orders, err := charmap.Windows1252.NewEncoder().String("row_id|id|customer|amount|status\r\n99|1|Müller|10.50|shipped\r\n99|2|Señora||\r\n99|3|Bob|7\r\n99|4|Zoë|1.25|open\r\n")
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	pkg := ssisPackage(t, "BulkLoad.dtsx", map[string]string{
		filepath.Join(root, "orders_extract.txt"):  orders,
		filepath.Join(root, "returns_extract.txt"): "1\t\t5\n2\tdamaged\t1\n",
	}, `C:\Feeds\`, root+"/")
	ssisImportRun(t, pkg, `\Package\Load Returns: CheckConstraints is False`, "--strict", "--connection", "Staging="+pgURL)
	got := sqltest.Strings(t, db, "SELECT row_id || '|' || id || '|' || customer || '|' || coalesce(amount::text, 'NULL') || '|' || status FROM dbo.orders_stage ORDER BY id")
	if want := []string{"1|1|Müller|10.50|shipped", "2|2|Señora|NULL|new", "3|4|Zoë|1.25|open"}; !slices.Equal(got, want) {
		t.Errorf("orders_stage = %q, want %q", got, want)
	}
	got = sqltest.Strings(t, db, "SELECT return_id || '|' || coalesce(note, 'NULL') || '|' || qty FROM dbo.returns_stage ORDER BY return_id")
	if want := []string{"1|NULL|5", "2|damaged|1"}; !slices.Equal(got, want) {
		t.Errorf("returns_stage = %q, want %q", got, want)
	}
}

// TestE2E_SSISCommandRecordsetPostgres imports CommandRecordset.dtsx with
// its OLE DB connection pointed at PostgreSQL: a Data Flow runs an OLE DB
// Command (a parameterised UPDATE per row, parameters mapped out of column
// order) and keeps the rows in an object variable through a Recordset
// Destination; a Foreach ADO loop then maps each row's columns into
// variables for an Execute SQL task that writes an audit row.
func TestE2E_SSISCommandRecordsetPostgres(t *testing.T) {
	pgURL, db := ssisPostgres(t,
		"CREATE TABLE orders (id int PRIMARY KEY, status text, updated int DEFAULT 0)",
		"INSERT INTO orders (id, status) VALUES (1, 'new'), (2, 'new'), (3, 'new')",
		"CREATE TABLE status_audit (seq serial, order_id int, status text)",
	)
	root := t.TempDir()
	pkg := ssisPackage(t, "CommandRecordset.dtsx", map[string]string{
		filepath.Join(root, "status_updates.csv"): "order_id,status\r\n1,shipped\r\n3,cancelled\r\n1,delivered\r\n",
	}, `C:\Feeds\`, root+"/")
	ssisImportRun(t, pkg, "", "--strict", "--connection", "Orders DB="+pgURL)
	if got, want := sqltest.Strings(t, db, "SELECT id || '|' || status || '|' || updated FROM orders ORDER BY id"), []string{"1|delivered|2", "2|new|0", "3|cancelled|1"}; !slices.Equal(got, want) {
		t.Errorf("orders = %q, want %q", got, want)
	}
	if got, want := sqltest.Strings(t, db, "SELECT order_id || '|' || status FROM status_audit ORDER BY seq"), []string{"1|shipped", "3|cancelled", "1|delivered"}; !slices.Equal(got, want) {
		t.Errorf("status_audit = %q, want %q", got, want)
	}
}
