//go:build unix

package executor

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/scaleout/scaleout/executor/sqltest"
)

// sqliteRows reads one column of q from the SQLite file path, closing the
// database before it returns.
func sqliteRows(t *testing.T, path, q string) []string {
	t.Helper()
	db := sqltest.Open(t, "sqlite", "file:"+path)
	defer db.Close()
	return sqltest.Strings(t, db, q)
}

// A bulk insert reads the table's columns from the database and maps the
// fields by position: rows before first_row and after last_row are not
// loaded, an empty field takes the column's default (NULL with
// keep_nulls), a row with the wrong number of fields is skipped up to
// max_errors, and one more fails the task naming the row.
func TestRun_BulkInsertSQLite(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "stage.db")
	setup := func(t *testing.T) {
		os.Remove(db)
		sqltest.Open(t, "sqlite", "file:"+db, "CREATE TABLE stage (id INTEGER, name TEXT, status TEXT DEFAULT 'new', qty INTEGER)").Close()
	}
	write := func(name, s string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("in.txt", "id;name;status;qty\r\n1;ann;open;2\r\n2;bob;;\r\n3;cy\r\n4;di;shut;7\r\n5;ed;open;1\r\n")
	run := func(t *testing.T, opts string) (Result, *recorder) {
		return runSrc(t, `name: p
connections: {db: {driver: sqlite, database: stage.db}}
tasks:
  - name: load
    bulk_insert: {connection: db, table: '[main].[stage]', path: in.txt, field_terminator: ';', first_row: 2`+opts+`}
`, nil, Options{WorkDir: dir})
	}
	setup(t)
	res, rec := run(t, ", last_row: 5, max_errors: 1, batch_size: 2")
	if res.Status != StatusSucceeded || !rec.has(EventPostExecute, "load", "3 rows loaded into [main].[stage]") || !rec.has(EventWarning, "load", "row 4 skipped: 2 fields, the table has 4 columns") {
		t.Fatalf("Run = %+v\n%s", res, rec)
	}
	got := sqliteRows(t, db, "SELECT id || '|' || name || '|' || coalesce(status, 'NULL') || '|' || coalesce(qty, 'NULL') FROM stage ORDER BY id")
	if want := []string{"1|ann|open|2", "2|bob|new|NULL", "4|di|shut|7"}; !slices.Equal(got, want) {
		t.Errorf("rows %q, want %q", got, want)
	}

	setup(t)
	res, rec = run(t, ", keep_nulls: true, max_errors: 1")
	got = sqliteRows(t, db, "SELECT id || '|' || coalesce(status, 'NULL') FROM stage ORDER BY id")
	if res.Status != StatusSucceeded || !slices.Equal(got, []string{"1|open", "2|NULL", "4|shut", "5|open"}) {
		t.Errorf("keep_nulls: %+v, rows %q\n%s", res, got, rec)
	}

	setup(t)
	res, rec = run(t, ", max_errors: 0")
	if res.Status != StatusFailed || !strings.Contains(res.Message, "row 4: 2 fields, the table has 4 columns; 1 rows had the wrong number of fields, more than max_errors 0") {
		t.Errorf("max_errors 0: %+v\n%s", res, rec)
	}
	// One transaction (batch_size 0): the failure keeps none of the rows.
	if got := sqliteRows(t, db, "SELECT count(*) FROM stage"); !slices.Equal(got, []string{"0"}) {
		t.Errorf("rows after the failure: %q", got)
	}

	res, rec = runSrc(t, `name: p
connections: {db: {driver: sqlite, database: stage.db}}
tasks:
  - {name: load, bulk_insert: {connection: db, table: nope, path: in.txt}}
`, nil, Options{WorkDir: dir})
	if res.Status != StatusFailed || !strings.Contains(res.Message, "table nope: no such table") {
		t.Errorf("unknown table: %+v\n%s", res, rec)
	}
}
