package dataflow

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/scaleout/scaleout/catalog/pkgspec"
)

// lookup adds columns from a reference set: read once into memory (cache
// full), or queried per row (cache none), through an LRU cache of
// recently seen keys (cache partial).
func (n *node) lookup(ctx context.Context) error {
	l := n.c.Lookup
	if l.Cache == pkgspec.CachePartial || l.Cache == pkgspec.CacheNone {
		return n.lookupPerRow(ctx)
	}
	in := n.c.In[0]
	mem := &memory{what: "lookup cache", limit: l.MemLimit}
	refTypes := make([]pkgspec.DataType, len(l.RefCols))
	for i, c := range l.RefCols {
		refTypes[i] = c.Type
	}
	joinRef := make([]int, len(l.JoinRef))
	for i, name := range l.JoinRef {
		joinRef[i] = refIndex(l, name)
	}
	addRef := make([]int, len(l.Add))
	for i, name := range l.Add {
		addRef[i] = refIndex(l, name)
	}
	cache := map[string]int{}
	var values []Value // len(l.Add) per reference row
	var key []byte
	dups := 0
	add := func(row []Value) error {
		key = key[:0]
		for _, k := range joinRef {
			if row[k].Null {
				return nil // a NULL key never matches
			}
			key = appendKey(key, row[k], refTypes[k].Store())
		}
		if _, dup := cache[string(key)]; dup {
			dups++ // SSIS keeps the first
			return nil
		}
		cache[string(key)] = len(values) / max(len(addRef), 1)
		start := len(values)
		for _, k := range addRef {
			values = append(values, row[k])
		}
		if len(addRef) == 0 {
			values = append(values, Value{})
		}
		return mem.add(int64(len(key)) + 48 + rowSize(values[start:]))
	}
	if err := n.loadReference(ctx, add); err != nil {
		return fmt.Errorf("reference: %w", err)
	}
	if dups > 0 {
		n.env.Event(EventWarning, fmt.Sprintf("lookup %q: %d reference rows repeat a key; the first of each is used", n.c.Name, dups))
	}
	joinIn := make([]int, len(l.JoinIn))
	for i, name := range l.JoinIn {
		joinIn[i] = in.Index(name)
	}
	emit := n.lookupEmitter()
	stride := max(len(addRef), 1)
	return n.each(ctx, func(row []Value) error {
		key = key[:0]
		ok := true
		for i, k := range joinIn {
			v := row[k]
			rt := refTypes[joinRef[i]]
			if v.Null {
				ok = false
				break
			}
			if ft := in.Columns[k].Type; ft.Store() != rt.Store() || (ft.Store() == pkgspec.StoreDecimal && ft.Scale != rt.Scale) {
				var code int
				if v, code = convert(v, ft, rt); code != 0 {
					ok = false
					break
				}
			}
			key = appendKey(key, v, rt.Store())
		}
		if ok {
			if g, hit := cache[string(key)]; hit {
				return emit(ctx, row, values[g*stride:g*stride+len(addRef)], true)
			}
		}
		return emit(ctx, row, nil, false)
	})
}

// refIndex is the index of the reference column name, -1 if none.
func refIndex(l *pkgspec.LookupConfig, name string) int {
	for i, c := range l.RefCols {
		if c.Name == name {
			return i
		}
	}
	return -1
}

// lookupEmitter returns what sends an input row on: with the added
// values to the match output when found, else as no_match says.
func (n *node) lookupEmitter() func(ctx context.Context, row, add []Value, found bool) error {
	l := n.c.Lookup
	in := n.c.In[0]
	joinIn := make([]int, len(l.JoinIn))
	for i, name := range l.JoinIn {
		joinIn[i] = in.Index(name)
	}
	match, noMatch := n.out(pkgspec.OutputMatch), n.out(pkgspec.OutputNoMatch)
	w := len(in.Columns)
	return func(ctx context.Context, row, add []Value, found bool) error {
		if !found {
			switch l.NoMatch {
			case pkgspec.NoMatchRedirect:
				return noMatch.put(ctx, row)
			case pkgspec.NoMatchFail:
				var desc []string
				for _, k := range joinIn {
					desc = append(desc, fmt.Sprintf("%s=%s", in.Columns[k].Name, text(row[k], in.Columns[k].Type)))
				}
				return n.rowFailed(ctx, row, &rowError{code: CodeNoMatch, column: l.JoinIn[0], desc: "no reference row for " + strings.Join(desc, ", ")})
			}
		}
		dst, err := match.slot(ctx)
		if err != nil {
			return err
		}
		copy(dst, row)
		for i := range l.Add {
			if !found {
				dst[w+i] = Value{Null: true}
			} else {
				dst[w+i] = add[i]
			}
		}
		return nil
	}
}

// loadReference reads the lookup's reference rows (typed as
// reference_columns) into add.
func (n *node) loadReference(ctx context.Context, add func([]Value) error) error {
	l := n.c.Lookup
	row := make([]Value, len(l.RefCols))
	if l.SQL != nil {
		rows, err := n.query(ctx, l.SQL, l.RefCols)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			if err := rows.scan(); err != nil {
				return err
			}
			for i, c := range l.RefCols {
				x := rows.value(i)
				v, code := fromAny(x, c.Type)
				if code != 0 {
					return fmt.Errorf("column %q: %s", c.Name, codeText(code, fmt.Sprint(x), c.Type))
				}
				row[i] = v
			}
			if err := add(row); err != nil {
				return err
			}
		}
		return rows.Err()
	}
	r, closeFn, err := n.openInput(l.File.Path, l.File.Encoding)
	if err != nil {
		return err
	}
	defer closeFn()
	rr, err := newRecordReader(r, l.File)
	if err != nil {
		return err
	}
	pos := make([]int, len(l.RefCols))
	for i := range pos {
		pos[i] = i
	}
	if l.File.Header {
		if err := rr.read(); err != nil {
			return fmt.Errorf("header: %w", err)
		}
		for i, c := range l.RefCols {
			pos[i] = -1
			for k := range rr.ends {
				if string(rr.field(k)) == c.Field {
					pos[i] = k
				}
			}
			if pos[i] < 0 {
				return fmt.Errorf("column %q is not in the file's header", c.Field)
			}
		}
	}
	for {
		if err := rr.read(); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		for i, c := range l.RefCols {
			if pos[i] >= len(rr.ends) {
				return fmt.Errorf("line %d: %d fields, want at least %d", rr.line, len(rr.ends), pos[i]+1)
			}
			v, code := fromText(string(rr.field(pos[i])), c.Type)
			if code != 0 {
				return fmt.Errorf("line %d column %q: %s", rr.line, c.Name, codeText(code, string(rr.field(pos[i])), c.Type))
			}
			row[i] = v
		}
		if err := add(row); err != nil {
			return err
		}
	}
}
