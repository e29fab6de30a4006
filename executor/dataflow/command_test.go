package dataflow

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/scaleout/scaleout/executor/sqltest"
)

// A sql_command runs its statement for each row with the row's columns
// bound and passes the row on; a row whose statement fails is redirected
// (or passed with ignore, or fails the flow). A recordset_destination
// keeps the rows, as maps by column name, for its variable.
func TestRun_SQLCommandAndRecordset(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "in.csv", "id,status\n1,shipped\n2,NULL\n3,lost\n")
	db := sqliteExec(t, dir, "ref", "CREATE TABLE orders (id INTEGER PRIMARY KEY, status TEXT NOT NULL, n INTEGER DEFAULT 0)",
		"INSERT INTO orders (id, status) VALUES (1, 'new'), (2, 'new'), (3, 'new')")
	run := func(onError string) (*Stats, error) {
		df := flow(t, `        - name: src
          flat_file_source:
            path: in.csv
            null_value: 'NULL'
            columns: [{name: id, type: DT_I4}, {name: status, type: 'DT_WSTR(10)'}]
        - name: cmd
          sql_command:
            input: src
            connection: ref
            statement: UPDATE orders SET status = ?, n = n + 1 WHERE id = ?
            param_columns: [status, id]
            on_error: `+onError+`
        - name: keep
          recordset_destination: {input: cmd, variable: n}
`+map[string]string{"redirect": "        - name: bad\n          json_destination: {input: cmd.error, path: bad.jsonl}\n"}[onError])
		return Run(context.Background(), df, testEnv(t, dir))
	}
	stats, err := run("redirect")
	if err != nil {
		t.Fatal(err)
	}
	got := sqltest.Strings(t, db, "SELECT id || ':' || status || ':' || n FROM orders ORDER BY id")
	if want := []string{"1:shipped:1", "2:new:0", "3:lost:1"}; !slices.Equal(got, want) {
		t.Errorf("orders %q, want %q", got, want)
	}
	rs := stats.Recordsets["n"]
	if len(rs) != 2 || rs[0].(map[string]any)["id"] != int64(1) || rs[1].(map[string]any)["status"] != "lost" {
		t.Errorf("recordset %v", rs)
	}
	if bad := lines(t, dir, "bad.jsonl"); len(bad) != 1 || !strings.Contains(bad[0], `"id":2`) || !strings.Contains(bad[0], `"ErrorCode":6`) || !strings.Contains(bad[0], "NOT NULL") {
		t.Errorf("bad rows %q", bad)
	}

	stats, err = run("ignore")
	if err != nil || len(stats.Recordsets["n"]) != 3 {
		t.Errorf("ignore: %v, recordset %v", err, stats.Recordsets["n"])
	}
	_, err = run("fail")
	if err == nil || !strings.Contains(err.Error(), "row 2: the statement failed") {
		t.Errorf("fail: %v", err)
	}
}
