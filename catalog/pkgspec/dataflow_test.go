package pkgspec

import (
	"errors"
	"strings"
	"testing"
)

// dfHead starts a package whose task "df" is a data flow; components
// follow at the indentation of dfComp. Line 9 is the first component.
const dfHead = `name: a
variables:
  n: {type: int}
tasks:
  - name: df
    dataflow:
      memory_limit: 64MiB
      components:
`

// dfSource is a valid source at lines 9-15.
const dfSource = `        - name: src
          flat_file_source:
            path: in.csv
            columns:
              - {name: id, type: DT_I4}
              - {name: amount, type: 'DT_NUMERIC(10,2)'}
              - {name: name, type: 'DT_WSTR(20)'}
`

func TestParse_DataFlowProblems(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []want
	}{
		{"unknown column in expression", dfSource + `        - name: d
          derived_column:
            input: src
            columns: [{name: x, expression: 'amount * qty'}]
`, []want{{19, `component "d" column "x": expression "amount * qty" at character 10: unknown name qty`}}},
		{"unknown input component", dfSource + `        - name: d
          row_count: {input: nowhere, variable: n}
`, []want{{17, `component "d" reads unknown component "nowhere" (known: src, d)`}}},
		{"unknown output", dfSource + `        - name: d
          row_count: {input: src.bad, variable: n}
`, []want{{17, `reads "src.bad", which is not an output (outputs: src.output, src.error)`}}},
		{"unknown data type", `        - name: src
          json_source:
            path: in.jsonl
            columns: [{name: id, type: DT_INT}]
`, []want{{12, `columns "id" type: unknown data type "DT_INT"`}}},
		{"bad numeric precision", `        - name: src
          json_source:
            path: in.jsonl
            columns: [{name: id, type: 'DT_NUMERIC(30,2)'}]
`, []want{{12, `precision must be 1 to 18`}}},
		{"sum of text", dfSource + `        - name: agg
          aggregate:
            input: src
            group_by: [id]
            aggregations: [{name: s, op: sum, column: name}]
`, []want{{20, `aggregation "s": sum needs a numeric column; "name" is DT_WSTR(20)`}}},
		{"group by missing column", dfSource + `        - name: agg
          aggregate:
            input: src
            group_by: [country]
            aggregations: [{name: c, op: count}]
`, []want{{19, `group_by: no column "country" in the input (columns: id, amount, name)`}}},
		{"split condition not bool", dfSource + `        - name: s
          conditional_split:
            input: src
            cases: [{output: big, condition: 'amount + 1'}]
`, []want{{19, `case "big": expression "amount + 1"`}}},
		{"split without output name", dfSource + `        - name: s
          conditional_split:
            input: src
            cases: [{output: big, condition: 'amount > 1'}]
        - name: c
          row_count: {input: s, variable: n}
`, []want{{21, `"s" has several outputs; name one of s.big, s.default, s.error`}}},
		{"output read twice", dfSource + `        - name: c1
          row_count: {input: src, variable: n}
        - name: c2
          row_count: {input: src, variable: n}
`, []want{{19, `reads "src.output", which another component reads already (an output feeds one path; use a multicast)`}}},
		{"error output without redirect", dfSource + `        - name: c1
          row_count: {input: src.error, variable: n}
`, []want{{17, `"src" does not redirect errors (set on_error: redirect)`}}},
		{"cycle", dfSource + `        - name: a1
          union_all: {inputs: [src, a2]}
        - name: a2
          top: {input: a1, rows: 5}
`, []want{{16, `has a cycle through components a1, a2`}}},
		{"merge join unsorted", dfSource + `        - name: src2
          json_source:
            path: b.jsonl
            columns: [{name: id, type: DT_I8}]
            sorted_by: [id]
        - name: mj
          merge_join:
            inputs: [src, src2]
            left_keys: [id]
            right_keys: [id]
`, []want{{23, `the left input must be sorted on id (add a sort, or declare sorted_by on its source); it is sorted on []`}}},
		{"merge join of one multicast", dfSource + `        - name: m
          multicast: {input: src, outputs: [a, b]}
        - name: sa
          sort: {input: m.a, by: [id]}
        - name: sb
          sort: {input: m.b, by: [id]}
        - name: mj
          merge_join:
            inputs: [sa, sb]
            left_keys: [id]
            right_keys: [id]
            right_prefix: r_
`, []want{{24, `both inputs come from "m", so the join could wait forever`}}},
		{"union type mismatch", dfSource + `        - name: src2
          json_source:
            path: b.jsonl
            columns: [{name: id, type: DT_WSTR}, {name: amount, type: DT_R8}, {name: name, type: DT_WSTR}]
        - name: u
          union_all: {inputs: [src, src2]}
`, []want{{21, `column "id" is DT_I4 in the first input but DT_WSTR in "src2.output"`}}},
		{"lookup column clash", dfSource + `        - name: lk
          lookup:
            input: src
            path: ref.csv
            reference_columns: [{name: id, type: DT_I8}, {name: name, type: DT_WSTR}]
            join: {id: id}
            columns: [name]
`, []want{{22, `column "name" exists in the input already (write {name: name, as: OTHER})`}}},
		{"row count undeclared variable", dfSource + `        - name: c
          row_count: {input: src, variable: nope}
`, []want{{17, `assigns variable "nope", which is not declared`}}},
		{"derived type mismatch", dfSource + `        - name: d
          derived_column:
            input: src
            columns: [{name: x, expression: 'id > 3', type: DT_DBDATE}]
`, []want{{19, `column "x": expression gives DT_BOOL, which cannot become DT_DBDATE`}}},
		{"conversion of unknown column", dfSource + `        - name: c
          data_conversion:
            input: src
            columns: [{input: qty, type: DT_I8}]
`, []want{{19, `column: no column "qty" in the input`}}},
		{"destination read", dfSource + `        - name: out
          json_destination: {input: src, path: o.jsonl}
        - name: c
          row_count: {input: out, variable: n}
`, []want{{19, `reads "out", a destination, which has no output`}}},
		{"unknown component type", `        - name: src
          xml_source: {path: a.xml}
`, []want{{10, `unknown field "xml_source"`}, {9, `has no component type`}}},
		{"undeclared parameter in expression", dfSource + `        - name: d
          derived_column:
            input: src
            columns: [{name: x, expression: 'amount * param.rate'}]
`, []want{{19, `references undeclared parameter "rate"`}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("p.yaml", []byte(dfHead+tt.src))
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Parse = %v, want a ValidationError", err)
			}
			for _, w := range tt.want {
				found := false
				for _, p := range ve.Problems {
					if p.Line == w.line && strings.Contains(p.Msg, w.msg) {
						found = true
					}
				}
				if !found {
					t.Errorf("no problem at line %d containing %q; got:\n%v", w.line, w.msg, err)
				}
			}
		})
	}
}

func TestParse_DataFlowMetadata(t *testing.T) {
	src := dfHead + dfSource + `        - name: d
          derived_column:
            input: src
            columns:
              - {name: total, expression: 'amount * 2'}
              - {name: name, expression: 'upper(name)'}
              - {name: big, expression: 'id > 10'}
        - name: s
          sort: {input: d, by: [id, total desc], remove_duplicates: true}
        - name: out
          json_destination: {input: s, path: o.jsonl}
`
	pkg, err := Parse("p.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	df := pkg.Task("df").DataFlow
	if df.MemoryLimit != 64<<20 || df.BufferRows != DefaultBufferRows {
		t.Errorf("limits = %d, %d", df.MemoryLimit, df.BufferRows)
	}
	d := df.Components[1].Output(OutputDefault)
	var got []string
	for _, c := range d.Columns {
		got = append(got, c.Name+" "+c.Type.String())
	}
	if want := "id DT_I4,amount DT_NUMERIC(10,2),name DT_WSTR,total DT_R8,big DT_BOOL"; strings.Join(got, ",") != want {
		t.Errorf("derived columns = %s, want %s", strings.Join(got, ","), want)
	}
	if s := df.Components[2].Output(OutputDefault); strings.Join(s.SortedBy, ",") != "id" {
		t.Errorf("sort output sorted by %v, want [id] (the desc key ends the ascending prefix)", s.SortedBy)
	}
}

func TestParseDataType(t *testing.T) {
	for in, want := range map[string]string{"dt_i4": "DT_I4", "DT_WSTR(50)": "DT_WSTR(50)", "DT_NUMERIC(10, 2)": "DT_NUMERIC(10,2)", "DT_NUMERIC": "DT_NUMERIC(18,0)", "DT_DECIMAL(4)": "DT_DECIMAL(4)", "DT_DBTIMESTAMP2(3)": "DT_DBTIMESTAMP2(3)"} {
		got, err := ParseDataType(in)
		if err != nil || got.String() != want {
			t.Errorf("ParseDataType(%q) = %v, %v; want %s", in, got, err, want)
		}
	}
	for _, bad := range []string{"DT_X", "DT_I4(2)", "DT_NUMERIC(5,6)", "DT_WSTR(-1)", "DT_WSTR(5", "DT_NUMERIC(1,2,3)"} {
		if _, err := ParseDataType(bad); err == nil {
			t.Errorf("ParseDataType(%q) succeeded", bad)
		}
	}
}
