package dataflow

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"unsafe"

	"github.com/scaleout/scaleout/catalog/pkgspec"
	"github.com/xuri/excelize/v2"
)

// excelSource reads a worksheet of an .xlsx file row by row (excelize's
// streaming reader), with raw cell values: numbers as written, dates as
// Excel serial numbers, which date and time columns convert.
func (n *node) excelSource(ctx context.Context) error {
	ff := n.c.FlatFile
	path, err := n.env.Path("path", ff.Path)
	if err != nil {
		return err
	}
	f, err := excelize.OpenFile(path, excelize.Options{RawCellValue: true})
	if err != nil {
		return err
	}
	defer f.Close()
	sheet := ff.Sheet
	if sheet == "" {
		sheets := f.GetSheetList()
		if len(sheets) == 0 {
			return fmt.Errorf("%s has no worksheet", path)
		}
		sheet = sheets[0]
	}
	rows, err := f.Rows(sheet)
	if err != nil {
		return fmt.Errorf("sheet %q: %w (sheets: %s)", sheet, err, strings.Join(f.GetSheetList(), ", "))
	}
	defer rows.Close()
	cols := n.c.SourceCols
	pos := make([]int, len(cols))
	for i := range pos {
		pos[i] = i
	}
	line := 0
	next := func() ([]string, bool, error) {
		if !rows.Next() {
			return nil, false, rows.Error()
		}
		line++
		r, err := rows.Columns(excelize.Options{RawCellValue: true})
		return r, true, err
	}
	for range ff.SkipRows {
		if _, ok, err := next(); !ok || err != nil {
			return err
		}
	}
	if ff.Header {
		header, ok, err := next()
		if !ok || err != nil {
			return err
		}
		for i, c := range cols {
			pos[i] = -1
			for k, h := range header {
				if strings.TrimSpace(h) == c.Field {
					pos[i] = k
				}
			}
			if pos[i] < 0 {
				return fmt.Errorf("column %q is not in the sheet's header row (%s)", c.Field, strings.Join(header, ", "))
			}
		}
	}
	fp := &fieldParser{n: n, cols: cols, out: n.out(pkgspec.OutputDefault)}
	fields := make([][]byte, len(cols))
	where := func() string { return fmt.Sprintf("sheet %q row %d", sheet, line) }
	for {
		if err := ctx.Err(); err != nil {
			return context.Cause(ctx)
		}
		cells, ok, err := next()
		if err != nil || !ok {
			return err
		}
		empty := true
		for i, k := range pos {
			s := ""
			if k < len(cells) {
				s = cells[k]
			}
			if s != "" {
				empty = false
			}
			if cols[i].Type.Store() == pkgspec.StoreTime && s != "" {
				if serial, err := strconv.ParseFloat(s, 64); err == nil {
					if t, err := excelize.ExcelDateToTime(serial, false); err == nil {
						s = t.Format("2006-01-02 15:04:05.999999999")
					}
				}
			}
			fields[i] = unsafe.Slice(unsafe.StringData(s), len(s))
		}
		if empty {
			continue // blank rows between data
		}
		if err := fp.emit(ctx, fields, where); err != nil {
			return err
		}
	}
}
