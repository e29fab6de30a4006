package dataflow

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/scaleout/scaleout/catalog/pkgspec"
)

// jsonSource reads JSON lines: one object per line, a key per column.
func (n *node) jsonSource(ctx context.Context) error {
	r, closeFn, err := n.openInput(n.c.JSON.Path, "")
	if err != nil {
		return err
	}
	defer closeFn()
	rr := &recordReader{r: bufio.NewReaderSize(r, 1<<16), next: 1}
	out := n.out(pkgspec.OutputDefault)
	cols := n.c.SourceCols
	raw := make([]Value, len(cols))
	obj := map[string]any{}
	field := func(i int) any { return obj[cols[i].Field] }
	value := func(i int) any { // objects and arrays as their JSON text
		x := obj[cols[i].Field]
		switch x.(type) {
		case map[string]any, []any:
			b, _ := json.Marshal(x)
			x = string(b)
		}
		return x
	}
	for {
		lineNo := rr.next
		line, err := rr.readLine()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		clear(obj)
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.UseNumber()
		if err := dec.Decode(&obj); err != nil {
			for i := range raw {
				raw[i] = Value{}
			}
			if len(raw) > 0 {
				raw[0] = Value{S: string(line)}
			}
			if err := n.rowFailed(ctx, raw, &rowError{code: CodeConversion, desc: fmt.Sprintf("line %d: not a JSON object: %v", lineNo, err)}); err != nil {
				return err
			}
			continue
		}
		if err := n.sourceRow(ctx, out, raw, "line", lineNo, value, field); err != nil {
			return err
		}
	}
}

// appendJSONString appends s as a JSON string.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			b = append(b, c)
			i++
			continue
		}
		if c < utf8.RuneSelf {
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, `\u00`...)
				b = append(b, "0123456789abcdef"[c>>4], "0123456789abcdef"[c&0xf])
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}

// appendJSON appends v (of type t) as a JSON value.
func appendJSON(b []byte, v Value, t pkgspec.DataType) []byte {
	if v.Null {
		return append(b, "null"...)
	}
	switch t.Store() {
	case pkgspec.StoreString, pkgspec.StoreBytes:
		return appendJSONString(b, v.S)
	case pkgspec.StoreFloat:
		if math.IsNaN(v.F) || math.IsInf(v.F, 0) {
			return append(b, "null"...)
		}
		return strconv.AppendFloat(b, v.F, 'g', -1, 64)
	case pkgspec.StoreTime:
		b = append(b, '"')
		b = time.Unix(0, v.I).UTC().AppendFormat(b, time.RFC3339Nano)
		return append(b, '"')
	}
	return appendText(b, v, t)
}

// jsonDest writes one JSON object per row.
func (n *node) jsonDest(ctx context.Context) (err error) {
	cols := n.c.In[0].Columns
	w, closeFn, err := n.openOutput(n.c.JSON.Path, "", n.c.JSON.Append)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := closeFn(); err == nil {
			err = cerr
		}
	}()
	keys := make([][]byte, len(cols))
	for i, c := range cols {
		keys[i] = append(appendJSONString(nil, c.Name), ':')
	}
	var line []byte
	return n.writeRows(ctx, w, &line, func(row []Value) {
		line = append(line, '{')
		for i, c := range cols {
			if i > 0 {
				line = append(line, ',')
			}
			line = append(line, keys[i]...)
			line = appendJSON(line, row[i], c.Type)
		}
		line = append(line, '}', '\n')
	})
}
