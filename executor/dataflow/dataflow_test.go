package dataflow

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/scaleout/scaleout/catalog/pkgspec"
	_ "modernc.org/sqlite"
)

// flow parses a package whose only task is a data flow with the given
// components (YAML at the indentation of a list under components:).
func flow(t *testing.T, components string) *pkgspec.DataFlowTask {
	t.Helper()
	src := "name: p\nparameters:\n  rate: {type: int, default: 2}\nvariables:\n  n: {type: int}\ntasks:\n  - name: df\n    dataflow:\n      buffer_rows: 3\n      components:\n" + components
	pkg, err := pkgspec.Parse("p.yaml", []byte(src))
	if err != nil {
		t.Fatalf("Parse:\n%v", err)
	}
	return pkg.Task("df").DataFlow
}

// testEnv resolves paths in dir and opens SQLite databases in it.
func testEnv(t *testing.T, dir string) Env {
	dbs := map[string]*sql.DB{}
	open := func(name string) (*sql.DB, error) {
		if db := dbs[name]; db != nil {
			return db, nil
		}
		db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, name+".db"))
		if err != nil {
			return nil, err
		}
		t.Cleanup(func() { db.Close() })
		dbs[name] = db
		return db, nil
	}
	return Env{
		Path: func(_, p string) (string, error) { return filepath.Join(dir, p), nil },
		DB: func(name string) (*sql.DB, string, error) {
			db, err := open(name)
			return db, pkgspec.DriverSQLite, err
		},
		Query: func(ctx context.Context, conn, q string, params []string) (*sql.Rows, error) {
			db, err := open(conn)
			if err != nil {
				return nil, err
			}
			args := make([]any, len(params))
			for i, p := range params {
				args[i] = p
			}
			return db.QueryContext(ctx, q, args...)
		},
		Prepare: func(ctx context.Context, conn, stmt string) (*sql.Stmt, error) {
			db, err := open(conn)
			if err != nil {
				return nil, err
			}
			return db.PrepareContext(ctx, stmt)
		},
		Roots: map[string]any{"param": map[string]any{"rate": 2}, "vars": map[string]any{}, "sys": map[string]any{}},
	}
}

// mustRun runs df in testEnv(t, dir) and fails the test if it fails.
func mustRun(t *testing.T, df *pkgspec.DataFlowTask, dir string) {
	t.Helper()
	if _, err := Run(context.Background(), df, testEnv(t, dir)); err != nil {
		t.Fatal(err)
	}
}

// mustRunEvents is mustRun that returns the messages of the events of kind
// the flow reported.
func mustRunEvents(t *testing.T, df *pkgspec.DataFlowTask, dir, kind string) []string {
	t.Helper()
	var msgs []string
	env := testEnv(t, dir)
	env.Event = func(k, msg string) {
		if k == kind {
			msgs = append(msgs, msg)
		}
	}
	if _, err := Run(context.Background(), df, env); err != nil {
		t.Fatal(err)
	}
	return msgs
}

func write(t *testing.T, dir, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func read(t *testing.T, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// rowsOut returns the rows a component sent on an output.
func rowsOut(s *Stats, comp, output string) int64 {
	for _, c := range s.Components {
		if c.Name == comp {
			for _, o := range c.Outputs {
				if o.Name == output {
					return o.Rows
				}
			}
		}
	}
	return -1
}

const ordersCSV = `id;customer;day;amount;qty;note
1;10;2026-01-05;10.50;2;plain
2;20;2026-01-05;3.25;1;"semi;colon"
3;10;2026-01-06;7.00;3;"quote ""q"""
4;30;2026-01-07;1.10;10;
5;20;2026-01-07;2.00;4;multi
`

const ordersSource = `        - name: src
          flat_file_source:
            path: orders.csv
            delimiter: ';'
            on_error: redirect
            columns:
              - {name: id, type: DT_I4}
              - {name: customer, type: DT_I4}
              - {name: day, type: DT_DBDATE}
              - {name: amount, type: 'DT_NUMERIC(8,2)'}
              - {name: qty, type: DT_I1}
              - {name: note, type: 'DT_WSTR(12)'}
`

func TestRun_FlatFileToFlatFile(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "orders.csv", ordersCSV+"6;20;2026-13-01;1.00;1;bad month\n7;20;2026-01-08;x;1;bad amount\n8;10;2026-01-08;1.00;300;overflow\n9;10;2026-01-08;1.00;1;note far too long\n10;10\n")
	df := flow(t, ordersSource+`        - name: d
          derived_column:
            input: src
            columns:
              - {name: total, expression: 'amount * qty * param.rate', type: 'DT_NUMERIC(10,2)'}
              - {name: note, expression: 'note ?? "-"'}
        - name: out
          flat_file_destination: {input: d, path: out.csv}
        - name: bad
          flat_file_destination: {input: src.error, path: bad.csv, delimiter: '|'}
`)
	st, err := Run(context.Background(), df, testEnv(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	want := `id,customer,day,amount,qty,note,total
1,10,2026-01-05,10.50,2,plain,42.00
2,20,2026-01-05,3.25,1,semi;colon,6.50
3,10,2026-01-06,7.00,3,"quote ""q""",42.00
4,30,2026-01-07,1.10,10,,22.00
5,20,2026-01-07,2.00,4,multi,16.00
`
	if got := read(t, dir, "out.csv"); got != want {
		t.Errorf("out.csv =\n%s\nwant\n%s", got, want)
	}
	bad := strings.Split(strings.TrimSpace(read(t, dir, "bad.csv")), "\n")
	wantBad := []string{
		"id|customer|day|amount|qty|note|ErrorCode|ErrorColumn|ErrorDescription",
		`6|20|2026-13-01|1.00|1|bad month|1|day|"line 7: cannot convert ""2026-13-01"" to DT_DBDATE"`,
		`7|20|2026-01-08|x|1|bad amount|1|amount|"line 8: cannot convert ""x"" to DT_NUMERIC(8,2)"`,
		`8|10|2026-01-08|1.00|300|overflow|3|qty|line 9: 300 is out of range for DT_I1`,
		`9|10|2026-01-08|1.00|1|note far too long|2|note|"line 10: ""note far too long"" is longer than DT_WSTR(12) allows"`,
		`10|10|||||1||line 11: 2 fields, want 6`,
	}
	if !slices.Equal(bad, wantBad) {
		t.Errorf("bad.csv =\n%s\nwant\n%s", strings.Join(bad, "\n"), strings.Join(wantBad, "\n"))
	}
	if rowsOut(st, "src", "output") != 5 || rowsOut(st, "src", "error") != 5 || st.Written() != 10 {
		t.Errorf("stats:\n%s", st.Table())
	}
}

func TestRun_OnErrorFailAndIgnore(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "orders.csv", ordersCSV+"6;20;2026-13-01;1.00;1;bad month\n")
	src := strings.Replace(ordersSource, "on_error: redirect", "on_error: fail", 1)
	_, err := Run(context.Background(), flow(t, src+"        - name: out\n          json_destination: {input: src, path: o.jsonl}\n"), testEnv(t, dir))
	if err == nil || !strings.Contains(err.Error(), `component "src" (flat_file_source): column "day": line 7: cannot convert "2026-13-01" to DT_DBDATE`) {
		t.Fatalf("Run = %v", err)
	}
	src = strings.Replace(ordersSource, "on_error: redirect", "on_error: ignore", 1)
	mustRun(t, flow(t, src+"        - name: out\n          json_destination: {input: src, path: o.jsonl}\n"), dir)
	lines := strings.Split(strings.TrimSpace(read(t, dir, "o.jsonl")), "\n")
	if len(lines) != 6 || lines[5] != `{"id":6,"customer":20,"day":null,"amount":1.00,"qty":1,"note":"bad month"}` {
		t.Errorf("o.jsonl =\n%s", strings.Join(lines, "\n"))
	}
}

func TestRun_SplitConversionMulticastRowCountTop(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "orders.csv", ordersCSV)
	df := flow(t, ordersSource+`        - name: conv
          data_conversion:
            input: src
            on_error: redirect
            columns:
              - {input: amount, name: amount_i, type: DT_I2}
              - {input: note, type: 'DT_STR(5)'}
        - name: split
          conditional_split:
            input: conv
            cases:
              - {output: big, condition: 'amount_i >= 7'}
              - {output: many, condition: 'qty >= 3'}
            default: rest
        - name: mc
          multicast: {input: split.big, outputs: [a, b]}
        - name: cnt
          row_count: {input: mc.a, variable: n}
        - name: first
          top: {input: split.rest, rows: 1}
        - name: o1
          json_destination: {input: cnt, path: big.jsonl}
        - name: o2
          json_destination: {input: mc.b, path: big2.jsonl}
        - name: o3
          json_destination: {input: first, path: rest.jsonl}
        - name: o4
          json_destination: {input: conv.error, path: convbad.jsonl}
        - name: o5
          json_destination: {input: split.many, path: many.jsonl}
`)
	st, err := Run(context.Background(), df, testEnv(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	// amounts 10.50 -> 11 (rounded), 3.25 -> 3, 7.00 -> 7, 1.10 -> 1, 2.00 -> 2;
	// notes longer than 5 bytes fail the DT_STR(5) conversion: rows 2 and 3.
	if got := read(t, dir, "big.jsonl"); got != `{"id":1,"customer":10,"day":"2026-01-05T00:00:00Z","amount":10.50,"qty":2,"note":"plain","amount_i":11}`+"\n" {
		t.Errorf("big.jsonl = %s", got)
	}
	if read(t, dir, "big2.jsonl") != read(t, dir, "big.jsonl") {
		t.Error("multicast outputs differ")
	}
	if st.RowCounts["n"] != 1 {
		t.Errorf("row count = %v", st.RowCounts)
	}
	conv := strings.Split(strings.TrimSpace(read(t, dir, "convbad.jsonl")), "\n")
	if len(conv) != 2 || !strings.Contains(conv[0], `"ErrorCode":2,"ErrorColumn":"note","ErrorDescription":"\"semi;colon\" is longer than DT_STR(5) allows"`) {
		t.Errorf("convbad.jsonl = %q", conv)
	}
	if got := strings.Count(read(t, dir, "many.jsonl"), "\n"); got != 2 { // rows 4 and 5
		t.Errorf("many.jsonl:\n%s", read(t, dir, "many.jsonl"))
	}
	if rowsOut(st, "split", "many") != 2 || rowsOut(st, "split", "rest") != 0 || rowsOut(st, "first", "output") != 0 {
		t.Errorf("stats:\n%s", st.Table())
	}
}

func itoa(i int) string     { return fmt.Sprint(i) }
func ftoa(f float64) string { return fmt.Sprint(f) }
