package dataflow

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"strings"
	"time"
	"unsafe"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/snappy"
	"github.com/scaleout/scaleout/catalog/pkgspec"
)

// parquetRowGroup bounds the rows a Parquet writer buffers before it
// writes a row group: the destination's memory.
const parquetRowGroup = 128 << 10

// parquetNode returns the Parquet column of a data flow type; every
// column is optional (NULL-able).
func parquetNode(t pkgspec.DataType) parquet.Node {
	var n parquet.Node
	switch t.Store() {
	case pkgspec.StoreBool:
		n = parquet.Leaf(parquet.BooleanType)
	case pkgspec.StoreInt:
		n = parquet.Int(64)
	case pkgspec.StoreFloat:
		n = parquet.Leaf(parquet.DoubleType)
		if t.Name == "DT_R4" {
			n = parquet.Leaf(parquet.FloatType)
		}
	case pkgspec.StoreDecimal:
		n = parquet.Decimal(t.Scale, t.Precision, parquet.Int64Type)
	case pkgspec.StoreBytes:
		n = parquet.Leaf(parquet.ByteArrayType)
	case pkgspec.StoreTime:
		n = parquet.Timestamp(parquet.Nanosecond)
		if t.Name == "DT_DBDATE" {
			n = parquet.Date()
		}
	default:
		n = parquet.String()
	}
	return parquet.Optional(n)
}

// parquetValue returns the Parquet value of v for column index col.
func parquetValue(v Value, t pkgspec.DataType, col int) parquet.Value {
	if v.Null {
		return parquet.NullValue().Level(0, 0, col)
	}
	var pv parquet.Value
	switch t.Store() {
	case pkgspec.StoreBool:
		pv = parquet.BooleanValue(v.I != 0)
	case pkgspec.StoreInt, pkgspec.StoreDecimal:
		pv = parquet.Int64Value(v.I)
	case pkgspec.StoreFloat:
		if t.Name == "DT_R4" {
			pv = parquet.FloatValue(float32(v.F))
		} else {
			pv = parquet.DoubleValue(v.F)
		}
	case pkgspec.StoreTime:
		if t.Name == "DT_DBDATE" {
			pv = parquet.Int32Value(int32(v.I / int64(24*time.Hour)))
		} else {
			pv = parquet.Int64Value(v.I)
		}
	default: // the row's string is never modified: no copy
		pv = parquet.ByteArrayValue(unsafe.Slice(unsafe.StringData(v.S), len(v.S)))
	}
	return pv.Level(0, 1, col)
}

// parquetDest writes a Parquet file (Snappy-compressed).
func (n *node) parquetDest(ctx context.Context) (err error) {
	cols := n.c.In[0].Columns
	path, err := n.env.Path("path", n.c.FlatFile.Path)
	if err != nil {
		return err
	}
	group := parquet.Group{}
	for _, c := range cols {
		group[c.Name] = parquetNode(c.Type)
	}
	schema := parquet.NewSchema(n.c.Name, group)
	idx := make([]int, len(cols))
	for i, c := range cols {
		leaf, _ := schema.Lookup(c.Name)
		idx[i] = leaf.ColumnIndex
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	w := parquet.NewWriter(f, schema, parquet.Compression(&snappy.Codec{}), parquet.MaxRowsPerRowGroup(parquetRowGroup))
	buf := make([]parquet.Row, 0, 1024)
	flush := func() error {
		if len(buf) == 0 {
			return nil
		}
		_, err := w.WriteRows(buf)
		buf = buf[:0]
		return err
	}
	err = n.each(ctx, func(row []Value) error {
		pr := make(parquet.Row, len(cols))
		for i, c := range cols {
			pr[idx[i]] = parquetValue(row[i], c.Type, idx[i])
		}
		buf = append(buf, pr)
		if len(buf) == cap(buf) {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	return err
}

// parquetAny returns the Go value of a Parquet value of type t.
func parquetAny(v parquet.Value, t parquet.Type) any {
	if v.IsNull() {
		return nil
	}
	lt := t.LogicalType()
	dec := func(m *big.Int) any {
		s := m.String()
		scale := int(lt.Decimal.Scale)
		neg := strings.HasPrefix(s, "-")
		s = strings.TrimPrefix(s, "-")
		for len(s) <= scale {
			s = "0" + s
		}
		if scale > 0 {
			s = s[:len(s)-scale] + "." + s[len(s)-scale:]
		}
		if neg {
			s = "-" + s
		}
		return s
	}
	switch t.Kind() {
	case parquet.Boolean:
		return v.Boolean()
	case parquet.Int32:
		switch {
		case lt != nil && lt.Date != nil:
			return time.Unix(int64(v.Int32())*86400, 0).UTC()
		case lt != nil && lt.Decimal != nil:
			return dec(big.NewInt(int64(v.Int32())))
		}
		return int64(v.Int32())
	case parquet.Int64:
		switch {
		case lt != nil && lt.Timestamp != nil:
			u := lt.Timestamp.Unit
			switch {
			case u.Millis != nil:
				return time.UnixMilli(v.Int64()).UTC()
			case u.Micros != nil:
				return time.UnixMicro(v.Int64()).UTC()
			}
			return time.Unix(0, v.Int64()).UTC()
		case lt != nil && lt.Decimal != nil:
			return dec(big.NewInt(v.Int64()))
		}
		return v.Int64()
	case parquet.Float:
		return float64(v.Float())
	case parquet.Double:
		return v.Double()
	case parquet.ByteArray, parquet.FixedLenByteArray:
		b := v.ByteArray()
		if lt != nil && lt.Decimal != nil { // big-endian two's complement
			m := new(big.Int).SetBytes(b)
			if len(b) > 0 && b[0]&0x80 != 0 {
				m.Sub(m, new(big.Int).Lsh(big.NewInt(1), uint(len(b)*8)))
			}
			return dec(m)
		}
		return string(b)
	}
	return v.String()
}

// parquetSource reads a Parquet file's columns by name.
func (n *node) parquetSource(ctx context.Context) error {
	path, err := n.env.Path("path", n.c.FlatFile.Path)
	if err != nil {
		return err
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	pf, err := parquet.OpenFile(f, st.Size())
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	r := parquet.NewReader(pf)
	defer r.Close()
	schema := r.Schema()
	cols := n.c.SourceCols
	idx := make([]int, len(cols))
	types := make([]parquet.Type, len(cols))
	for i, c := range cols {
		leaf, ok := schema.Lookup(strings.Split(c.Field, ".")...)
		if !ok {
			var names []string
			for _, p := range schema.Columns() {
				names = append(names, strings.Join(p, "."))
			}
			return fmt.Errorf("the file has no column %q (columns: %s)", c.Field, strings.Join(names, ", "))
		}
		if leaf.MaxRepetitionLevel > 0 {
			return fmt.Errorf("column %q is repeated (a list); only flat columns are read", c.Field)
		}
		idx[i], types[i] = leaf.ColumnIndex, leaf.Node.Type()
	}
	out := n.out(pkgspec.OutputDefault)
	raw := make([]Value, len(cols))
	byCol := make([]parquet.Value, len(schema.Columns()))
	value := func(i int) any { return parquetAny(byCol[idx[i]], types[i]) }
	buf := make([]parquet.Row, 256)
	line := 0
	for {
		k, rerr := r.ReadRows(buf)
		for _, row := range buf[:k] {
			line++
			for _, v := range row {
				if c := v.Column(); c < len(byCol) {
					byCol[c] = v
				}
			}
			if err := n.sourceRow(ctx, out, raw, "row", line, value, value); err != nil {
				return err
			}
		}
		if rerr != nil {
			if errors.Is(rerr, io.EOF) {
				return nil
			}
			return rerr
		}
	}
}
