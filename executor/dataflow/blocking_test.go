package dataflow

import (
	"context"
	"database/sql"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scaleout/scaleout/executor/sqltest"
)

// sqliteExec opens the SQLite database name in dir for the length of the
// test and runs stmts on it.
func sqliteExec(t *testing.T, dir, name string, stmts ...string) *sql.DB {
	t.Helper()
	return sqltest.Open(t, "sqlite", "file:"+filepath.Join(dir, name+".db"), stmts...)
}

func lines(t *testing.T, dir, name string) []string {
	return strings.Split(strings.TrimSpace(read(t, dir, name)), "\n")
}

func TestRun_LookupSQLiteAndFile(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "orders.csv", ordersCSV)
	sqliteExec(t, dir, "ref", "CREATE TABLE c (id INTEGER, name TEXT)", "INSERT INTO c VALUES (10, 'ten'), (20, 'twenty'), (20, 'dup')")
	write(t, dir, "regions.csv", "cust,region\n10,north\n30,south\n")
	df := flow(t, ordersSource+`        - name: cust
          lookup:
            input: src
            connection: ref
            query: SELECT id, name FROM c
            reference_columns: [{name: id, type: DT_I8}, {name: name, type: DT_WSTR}]
            join: {customer: id}
            columns: [{name: name, as: cname}]
            no_match: redirect
        - name: region
          lookup:
            input: cust.match
            path: regions.csv
            reference_columns: [{name: cust, type: DT_I4}, {name: region, type: DT_WSTR}]
            join: {customer: cust}
            columns: [region]
            no_match: ignore
        - name: out
          json_destination: {input: region, path: out.jsonl}
        - name: miss
          json_destination: {input: cust.no_match, path: miss.jsonl}
`)
	warnings := mustRunEvents(t, df, dir, EventWarning)
	var got []string
	for _, l := range lines(t, dir, "out.jsonl") {
		i := strings.Index(l, `"cname"`)
		got = append(got, l[:7]+l[i:])
	}
	want := []string{`{"id":1"cname":"ten","region":"north"}`, `{"id":2"cname":"twenty","region":null}`, `{"id":3"cname":"ten","region":"north"}`, `{"id":5"cname":"twenty","region":null}`}
	if !slices.Equal(got, want) {
		t.Errorf("out =\n%s", strings.Join(got, "\n"))
	}
	if m := lines(t, dir, "miss.jsonl"); len(m) != 1 || !strings.HasPrefix(m[0], `{"id":4,"customer":30`) {
		t.Errorf("miss = %q", m)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "1 reference rows repeat a key") {
		t.Errorf("warnings = %q", warnings)
	}

	// no_match: fail stops the flow, naming the key.
	df = flow(t, ordersSource+`        - name: cust
          lookup:
            input: src
            path: regions.csv
            reference_columns: [{name: cust, type: DT_I4}]
            join: {customer: cust}
        - name: out
          json_destination: {input: cust, path: out.jsonl}
`)
	_, err := Run(context.Background(), df, testEnv(t, dir))
	if err == nil || !strings.Contains(err.Error(), `column "customer": no reference row for customer=20`) {
		t.Errorf("Run = %v", err)
	}
}

func TestRun_SortAggregateMergeJoin(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "orders.csv", ordersCSV+"6;10;2026-01-08;;1;null amount\n")
	write(t, dir, "customers.jsonl", `{"id": 30, "name": "c30"}
{"id": 10, "name": "c10"}
{"id": 40, "name": "c40"}
`)
	df := flow(t, ordersSource+`        - name: agg
          aggregate:
            input: src
            group_by: [customer]
            aggregations:
              - {name: n, op: count}
              - {name: n_amount, op: count, column: amount}
              - {name: days, op: count_distinct, column: day}
              - {name: total, op: sum, column: amount}
              - {name: avg_qty, op: avg, column: qty}
              - {name: first_day, op: min, column: day}
              - {name: max_note, op: max, column: note}
        - name: sorted
          sort: {input: agg, by: [customer]}
        - name: cust
          json_source:
            path: customers.jsonl
            columns: [{name: id, type: DT_I4}, {name: name, type: DT_WSTR}]
        - name: csorted
          sort: {input: cust, by: [id]}
        - name: mj
          merge_join: {inputs: [sorted, csorted], type: full, left_keys: [customer], right_keys: [id]}
        - name: out
          flat_file_destination: {input: mj, path: out.csv}
`)
	mustRun(t, df, dir)
	want := []string{
		"customer,n,n_amount,days,total,avg_qty,first_day,max_note,id,name",
		"10,3,2,3,17.50,2,2026-01-05,quote \"\"q\"\",10,c10",
		"20,2,2,2,5.25,2.5,2026-01-05,semi;colon,,",
		"30,1,1,1,1.10,10,2026-01-07,,30,c30",
		",,,,,,,,40,c40",
	}
	want[1] = `10,3,2,3,17.50,2,2026-01-05,"quote ""q""",10,c10`
	if got := lines(t, dir, "out.csv"); !slices.Equal(got, want) {
		t.Errorf("out.csv =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestRun_MergeJoinInnerLeftAndOrderCheck(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "l.csv", "k,v\n1,a\n2,b\n2,c\n4,d\n")
	write(t, dir, "r.csv", "k,w\n2,x\n2,y\n3,z\n4,q\n")
	comp := func(typ string) string {
		return `        - name: l
          flat_file_source: {path: l.csv, sorted_by: [k], columns: [{name: k, type: DT_I4}, {name: v, type: DT_WSTR}]}
        - name: r
          flat_file_source: {path: r.csv, sorted_by: [k], columns: [{name: k, type: DT_I8}, {name: w, type: DT_WSTR}]}
        - name: mj
          merge_join: {inputs: [l, r], type: ` + typ + `, left_keys: [k], right_keys: [k]}
        - name: out
          flat_file_destination: {input: mj, path: out.csv, header: false}
`
	}
	for typ, want := range map[string]string{
		"inner": "2,b,x\n2,b,y\n2,c,x\n2,c,y\n4,d,q\n",
		"left":  "1,a,\n2,b,x\n2,b,y\n2,c,x\n2,c,y\n4,d,q\n",
	} {
		mustRun(t, flow(t, comp(typ)), dir)
		if got := read(t, dir, "out.csv"); got != want {
			t.Errorf("%s join =\n%s\nwant\n%s", typ, got, want)
		}
	}
	write(t, dir, "r.csv", "k,w\n3,x\n2,y\n")
	_, err := Run(context.Background(), flow(t, comp("inner")), testEnv(t, dir))
	if err == nil || !strings.Contains(err.Error(), "the right input is not sorted on its join keys: 2 after 3") {
		t.Errorf("Run = %v", err)
	}
}

func TestRun_SortRemoveDuplicatesAndMemoryLimit(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "orders.csv", ordersCSV)
	df := flow(t, ordersSource+`        - name: s
          sort: {input: src, by: [customer desc], remove_duplicates: true}
        - name: out
          flat_file_destination: {input: s, path: out.csv, header: false}
`)
	mustRun(t, df, dir)
	var ids []string
	for _, l := range lines(t, dir, "out.csv") {
		ids = append(ids, strings.SplitN(l, ",", 2)[0])
	}
	if !slices.Equal(ids, []string{"4", "2", "1"}) { // first row of each customer, stable
		t.Errorf("ids = %v", ids)
	}
	df = flow(t, ordersSource+`        - name: s
          sort: {input: src, by: [customer], memory_limit: 100}
        - name: out
          flat_file_destination: {input: s, path: out.csv}
`)
	_, err := Run(context.Background(), df, testEnv(t, dir))
	if err == nil || !strings.Contains(err.Error(), "sort holds more than") {
		t.Errorf("Run = %v", err)
	}
}

func TestRun_UnionAllFixedWidthSQLite(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "a.txt", "id name      amt\n  1Ann       1.5\n  2Bob       2.25\n")
	write(t, dir, "b.jsonl", `{"id": 3, "name": "Chen", "amt": 7}`+"\n"+`{"id": 4, "name": null, "amt": "8.125"}`+"\n")
	db := sqliteExec(t, dir, "dw", "CREATE TABLE t (id INTEGER, label TEXT, amount REAL)", "INSERT INTO t VALUES (99, 'old', 0)")
	df := flow(t, `        - name: a
          flat_file_source:
            path: a.txt
            format: fixed_width
            columns: [{name: id, type: DT_I4, width: 3}, {name: name, type: DT_WSTR, width: 10}, {name: amt, type: DT_R8, width: 5}]
        - name: b
          json_source:
            path: b.jsonl
            columns: [{name: id, type: DT_I8}, {name: name, type: DT_WSTR}, {name: amt, type: 'DT_NUMERIC(6,3)'}]
        - name: u
          union_all: {inputs: [a, b]}
        - name: load
          sql_destination: {input: u, connection: dw, table: t, truncate: true, batch_size: 2, mapping: {id: id, label: name, amount: amt}}
`)
	st, err := Run(context.Background(), df, testEnv(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	got := sqltest.Rows(t, db, "SELECT id, coalesce(label, 'NULL'), amount FROM t ORDER BY id", func(rows *sql.Rows) (string, error) {
		var id int
		var label string
		var amt float64
		err := rows.Scan(&id, &label, &amt)
		return strings.Join([]string{itoa(id), label, ftoa(amt)}, " "), err
	})
	if want := []string{"1 Ann 1.5", "2 Bob 2.25", "3 Chen 7", "4 NULL 8.125"}; !slices.Equal(got, want) {
		t.Errorf("table t = %q, want %q", got, want)
	}
	if st.Written() != 4 {
		t.Errorf("written = %d", st.Written())
	}
}

func TestRun_SQLSourceWithParams(t *testing.T) {
	dir := t.TempDir()
	sqliteExec(t, dir, "src", "CREATE TABLE o (id INTEGER, amount TEXT, at TEXT)", "INSERT INTO o VALUES (1, '1.5', '2026-01-01 10:00:00'), (2, 'bad', '2026-01-02'), (3, '3', '2026-01-03')")
	df := flow(t, `        - name: q
          sql_source:
            connection: src
            query: SELECT id, amount, at FROM o WHERE id >= ? ORDER BY id
            params: ['1']
            on_error: redirect
            columns: [{name: id, type: DT_I4}, {name: amount, type: DT_R8}, {name: at, type: DT_DBTIMESTAMP}]
        - name: out
          json_destination: {input: q, path: out.jsonl}
        - name: bad
          json_destination: {input: q.error, path: bad.jsonl}
`)
	mustRun(t, df, dir)
	if got := lines(t, dir, "out.jsonl"); !slices.Equal(got, []string{`{"id":1,"amount":1.5,"at":"2026-01-01T10:00:00Z"}`, `{"id":3,"amount":3,"at":"2026-01-03T00:00:00Z"}`}) {
		t.Errorf("out = %q", got)
	}
	if got := lines(t, dir, "bad.jsonl"); len(got) != 1 || !strings.Contains(got[0], `"ErrorCode":1,"ErrorColumn":"amount","ErrorDescription":"row 2: cannot convert \"bad\" to DT_R8"`) {
		t.Errorf("bad = %q", got)
	}
}

func TestRun_Cancel(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("id;customer;day;amount;qty;note\n")
	for i := range 200000 {
		b.WriteString(itoa(i) + ";1;2026-01-01;1.00;1;x\n")
	}
	write(t, dir, "orders.csv", b.String())
	df := flow(t, ordersSource+`        - name: s
          sort: {input: src, by: [id]}
        - name: out
          json_destination: {input: s, path: out.jsonl}
`)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := Run(ctx, df, testEnv(t, dir))
	if err == nil || !strings.Contains(err.Error(), "deadline exceeded") {
		t.Errorf("Run = %v", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("Run took %s after cancel", took)
	}
}
