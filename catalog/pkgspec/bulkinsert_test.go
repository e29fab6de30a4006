package pkgspec

import (
	"errors"
	"strings"
	"testing"
)

// lookupLK is a lookup "lk" on src against the connection db; a case adds
// its cache fields after it.
const lookupLK = `        - name: lk
          lookup:
            input: src
            connection: db
            query: SELECT id, label FROM r
            reference_columns: [{name: id, type: DT_I8}, {name: label, type: DT_WSTR}]
            join: {id: id}
`

// lookupDB is a data flow of the source src and lookupLK.
const lookupDB = dfHead + dfSource + lookupLK

// The fields added for SSIS's Bulk Insert task, Lookup cache modes, OLE DB
// Command, Recordset Destination and DT_STR code pages are checked when the
// package is parsed.
func TestParse_BulkLookupCommandProblems(t *testing.T) {
	tests := []struct{ name, src, msg string }{
		{"bulk insert without table", "name: p\ntasks:\n  - {name: b, bulk_insert: {connection: db, path: a.txt}}\n", `has no table`},
		{"bulk insert last before first", "name: p\ntasks:\n  - {name: b, bulk_insert: {connection: db, table: t, path: a.txt, first_row: 5, last_row: 2}}\n", `last_row 2 is before first_row 5`},
		{"bulk insert same terminators", "name: p\ntasks:\n  - {name: b, bulk_insert: {connection: db, table: t, path: a.txt, field_terminator: '\\n'}}\n", `field_terminator and row_terminator are the same`},
		{"bulk insert encoding", "name: p\ntasks:\n  - {name: b, bulk_insert: {connection: db, table: t, path: a.txt, encoding: ebcdic}}\n", `"ebcdic" is not one of utf-8`},
		{"lookup partial from a file", dfHead + dfSource + `        - name: lk
          lookup:
            input: src
            path: ref.csv
            reference_columns: [{name: id, type: DT_I8}, {name: label, type: DT_WSTR}]
            join: {id: id}
            cache: partial
`, `cache partial queries the reference per row, so it needs connection and query, not a flat file`},
		{"lookup cache size on full", lookupDB + `            cache_size: 1MiB
`, `are for cache: partial or none`},
		{"lookup row params unknown", lookupDB + `            cache: none
            row_query: SELECT id, label FROM r WHERE id = ?
            row_params: [nope]
`, `row_params: no column "nope" in the input`},
		{"lookup row query without params", lookupDB + `            cache: none
            row_query: SELECT id, label FROM r WHERE id = ?
`, `row_query and row_params go together`},
		{"lookup unknown cache", lookupDB + `            cache: some
`, `must be full, partial or none, not "some"`},
		{"sql command unknown param column", dfHead + dfSource + `        - name: cmd
          sql_command: {input: src, connection: db, statement: 'UPDATE t SET a = ?', param_columns: [nope]}
`, `param_columns: no column "nope" in the input`},
		{"sql command without statement", dfHead + dfSource + `        - name: cmd
          sql_command: {input: src, connection: db}
`, `needs connection and statement`},
		{"recordset undeclared variable", dfHead + dfSource + `        - name: keep
          recordset_destination: {input: src, variable: nope}
`, `assigns variable "nope", which is not declared`},
		{"code page not supported", dfHead + `        - name: src
          flat_file_source:
            path: in.csv
            columns: [{name: id, type: 'DT_STR(10,932)'}]
`, `code page 932 is not supported`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("p.yaml", []byte(tt.src))
			var ve *ValidationError
			if !errors.As(err, &ve) || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("Parse = %v, want a problem containing %q", err, tt.msg)
			}
		})
	}
	// Valid: the new fields together parse, and DT_STR keeps its code page.
	pkg, err := Parse("p.yaml", []byte(dfHead+`        - name: src
          flat_file_source:
            path: in.csv
            columns: [{name: id, type: DT_I4}, {name: name, type: 'DT_STR(6,1252)'}]
`+lookupLK+`            columns: [label]
            cache: partial
            cache_size: 1MiB
            miss_cache_percent: 10
        - name: cmd
          sql_command: {input: lk, connection: db, statement: 'UPDATE t SET a = ? WHERE id = ?', param_columns: [label, id]}
        - name: keep
          recordset_destination: {input: cmd, variable: n}
`))
	if err != nil {
		t.Fatal(err)
	}
	df := pkg.Task("df").DataFlow
	if c := df.Components[0].SourceCols[1].Type; c.String() != "DT_STR(6,1252)" || c.CodePage != 1252 {
		t.Errorf("DT_STR(6,1252) parsed as %v (code page %d)", c, c.CodePage)
	}
	if l := df.Components[1].Lookup; l.Cache != CachePartial || l.CacheSize != 1<<20 || l.MissPercent != 10 {
		t.Errorf("lookup %+v", l)
	}
	if uses := pkg.ConnectionUses(); len(uses) != 2 || uses[1].Connection != "db" {
		t.Errorf("ConnectionUses = %+v", uses)
	}
}
