package dataflow

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"
)

// TestRun_ExcelSource reads a real .xlsx written by excelize: numbers,
// text, a date cell (an Excel serial number inside), a blank row, and a
// bad value redirected to the error output.
func TestRun_ExcelSource(t *testing.T) {
	dir := t.TempDir()
	f := excelize.NewFile()
	const sheet = "Orders"
	if _, err := f.NewSheet(sheet); err != nil {
		t.Fatal(err)
	}
	rows := [][]any{
		{"id", "placed", "amount", "customer"},
		{1, time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), 19.99, "Ann"},
		{2, time.Date(2026, 3, 2, 12, 30, 0, 0, time.UTC), 250, "Bob"},
		{},
		{3, "not a date", 5.5, "Chen"},
	}
	for r, row := range rows {
		for c, v := range row {
			cell, _ := excelize.CoordinatesToCellName(c+1, r+1)
			if err := f.SetCellValue(sheet, cell, v); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := f.SaveAs(filepath.Join(dir, "orders.xlsx")); err != nil {
		t.Fatal(err)
	}
	df := flow(t, `        - name: x
          excel_source:
            path: orders.xlsx
            sheet: Orders
            on_error: redirect
            columns:
              - {name: id, type: DT_I4}
              - {name: placed, type: DT_DBTIMESTAMP}
              - {name: amount, type: 'DT_NUMERIC(8,2)'}
              - {name: customer, type: DT_WSTR}
        - name: out
          json_destination: {input: x, path: out.jsonl}
        - name: bad
          json_destination: {input: x.error, path: bad.jsonl}
`)
	mustRun(t, df, dir)
	want := []string{
		`{"id":1,"placed":"2026-03-01T00:00:00Z","amount":19.99,"customer":"Ann"}`,
		`{"id":2,"placed":"2026-03-02T12:30:00Z","amount":250.00,"customer":"Bob"}`,
	}
	if got := lines(t, dir, "out.jsonl"); !slices.Equal(got, want) {
		t.Errorf("out =\n%s", strings.Join(got, "\n"))
	}
	if got := lines(t, dir, "bad.jsonl"); len(got) != 1 || !strings.Contains(got[0], `"ErrorColumn":"placed","ErrorDescription":"sheet \"Orders\" row 5: cannot convert \"not a date\" to DT_DBTIMESTAMP"`) {
		t.Errorf("bad = %q", got)
	}
	df = flow(t, `        - name: x
          excel_source: {path: orders.xlsx, sheet: Nope, columns: [{name: id, type: DT_I4}]}
        - name: out
          json_destination: {input: x, path: out.jsonl}
`)
	if _, err := Run(context.Background(), df, testEnv(t, dir)); err == nil || !strings.Contains(err.Error(), `sheet "Nope"`) {
		t.Errorf("Run with a missing sheet = %v", err)
	}
}
