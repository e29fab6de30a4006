package dataflow

import (
	"context"
	"slices"
	"strings"
	"testing"
)

// TestRun_ParquetRoundTrip writes every kind of column to a Parquet file
// and reads it back by name: values, NULLs, decimals, dates, timestamps.
func TestRun_ParquetRoundTrip(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "in.csv", `id,ok,amount,ratio,day,at,name
1,true,10.50,0.25,2026-01-05,2026-01-05 10:11:12.5,Ann
2,false,-3.07,,2026-02-28,2026-02-28T23:59:59Z,
3,,0.00,1e3,,,"Chen, Li"
`)
	write := flow(t, `        - name: src
          flat_file_source:
            path: in.csv
            columns:
              - {name: id, type: DT_I8}
              - {name: ok, type: DT_BOOL}
              - {name: amount, type: 'DT_NUMERIC(9,2)'}
              - {name: ratio, type: DT_R8}
              - {name: day, type: DT_DBDATE}
              - {name: at, type: DT_DBTIMESTAMP}
              - {name: name, type: DT_WSTR}
        - name: pq
          parquet_destination: {input: src, path: out.parquet}
`)
	mustRun(t, write, dir)
	read := flow(t, `        - name: pq
          parquet_source:
            path: out.parquet
            columns:
              - {name: name, type: DT_WSTR}
              - {name: id, type: DT_I4}
              - {name: amount, type: 'DT_NUMERIC(9,2)'}
              - {name: ratio, type: DT_R8}
              - {name: day, type: DT_DBDATE}
              - {name: at, type: DT_DBTIMESTAMP}
              - {name: ok, type: DT_BOOL}
        - name: out
          json_destination: {input: pq, path: out.jsonl}
`)
	mustRun(t, read, dir)
	want := []string{
		`{"name":"Ann","id":1,"amount":10.50,"ratio":0.25,"day":"2026-01-05T00:00:00Z","at":"2026-01-05T10:11:12.5Z","ok":true}`,
		`{"name":"","id":2,"amount":-3.07,"ratio":null,"day":"2026-02-28T00:00:00Z","at":"2026-02-28T23:59:59Z","ok":false}`,
		`{"name":"Chen, Li","id":3,"amount":0.00,"ratio":1000,"day":null,"at":null,"ok":null}`,
	}
	if got := lines(t, dir, "out.jsonl"); !slices.Equal(got, want) {
		t.Errorf("read back =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	bad := flow(t, `        - name: pq
          parquet_source: {path: out.parquet, columns: [{name: nope, type: DT_I4}]}
        - name: out
          json_destination: {input: pq, path: o.jsonl}
`)
	if _, err := Run(context.Background(), bad, testEnv(t, dir)); err == nil || !strings.Contains(err.Error(), `the file has no column "nope" (columns: `) {
		t.Errorf("Run = %v", err)
	}
}
