package dataflow

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"slices"

	"github.com/scaleout/scaleout/catalog/pkgspec"
)

// valueSize is the memory one Value takes besides its text.
const valueSize = 40

// memory tracks the bytes a blocking component holds against its limit.
type memory struct {
	what  string
	limit int64
	used  int64
}

func (m *memory) add(n int64) error {
	m.used += n
	if m.limit > 0 && m.used > m.limit {
		return fmt.Errorf("%s holds more than %d MiB (memory_limit of the component or the data flow): raise memory_limit or reduce the rows it holds", m.what, m.limit>>20)
	}
	return nil
}

func rowSize(row []Value) int64 {
	n := int64(len(row) * valueSize)
	for _, v := range row {
		n += int64(len(v.S))
	}
	return n
}

// appendKey appends an encoding of v, equal for equal values of one
// storage kind.
func appendKey(b []byte, v Value, store int) []byte {
	if v.Null {
		return append(b, 0)
	}
	b = append(b, 1)
	switch store {
	case pkgspec.StoreString, pkgspec.StoreBytes:
		b = binary.AppendUvarint(b, uint64(len(v.S)))
		return append(b, v.S...)
	case pkgspec.StoreFloat:
		return binary.LittleEndian.AppendUint64(b, math.Float64bits(v.F))
	}
	return binary.LittleEndian.AppendUint64(b, uint64(v.I))
}

// sort sorts its whole input, optionally removing rows with equal keys.
func (n *node) sort(ctx context.Context) error {
	cfg := n.c.Sort
	in := n.c.In[0]
	mem := &memory{what: "sort", limit: cfg.MemLimit}
	w := len(in.Columns)
	var arena []Value
	err := n.each(ctx, func(row []Value) error {
		arena = append(arena, row...)
		return mem.add(rowSize(row))
	})
	if err != nil {
		return err
	}
	rows := len(arena) / max(w, 1)
	keys := make([]int, len(cfg.Keys))
	types := make([]pkgspec.DataType, len(cfg.Keys))
	for i, k := range cfg.Keys {
		keys[i] = in.Index(k.Column)
		types[i] = in.Columns[keys[i]].Type
	}
	row := func(i int) []Value { return arena[i*w : (i+1)*w] }
	cmp := func(a, b int) int {
		ra, rb := row(a), row(b)
		for i, k := range keys {
			c := compareNull(ra[k], types[i], rb[k], types[i])
			if cfg.Keys[i].Desc {
				c = -c
			}
			if c != 0 {
				return c
			}
		}
		return 0
	}
	perm := make([]int, rows)
	for i := range perm {
		perm[i] = i
	}
	slices.SortStableFunc(perm, cmp)
	out := n.outs[0]
	for i, r := range perm {
		if cfg.RemoveDuplicates && i > 0 && cmp(perm[i-1], r) == 0 {
			continue
		}
		if err := out.put(ctx, row(r)); err != nil {
			return err
		}
	}
	return nil
}

// aggState is the state of one aggregation of one group.
type aggState struct {
	count    int64
	sumI     int64
	sumF     float64
	ext      Value // min or max
	hasExt   bool
	distinct map[string]struct{}
}

// aggregate groups rows and computes count, count distinct, sum, avg, min
// and max per group. Groups come out in the order they were first seen.
func (n *node) aggregate(ctx context.Context) error {
	cfg := n.c.Aggregate
	in := n.c.In[0]
	mem := &memory{what: "aggregate", limit: cfg.MemLimit}
	gidx := make([]int, len(cfg.GroupBy))
	for i, g := range cfg.GroupBy {
		gidx[i] = in.Index(g)
	}
	aidx := make([]int, len(cfg.Aggs))
	for i, a := range cfg.Aggs {
		aidx[i] = -1
		if a.Column != "" {
			aidx[i] = in.Index(a.Column)
		}
	}
	groups := map[string]int{}
	var keys [][]Value
	var states [][]aggState
	var key, dkey []byte
	err := n.each(ctx, func(row []Value) error {
		key = key[:0]
		for _, k := range gidx {
			key = appendKey(key, row[k], in.Columns[k].Type.Store())
		}
		g, ok := groups[string(key)]
		if !ok {
			g = len(keys)
			groups[string(key)] = g
			kv := make([]Value, len(gidx))
			for i, k := range gidx {
				kv[i] = row[k]
			}
			keys = append(keys, kv)
			states = append(states, make([]aggState, len(cfg.Aggs)))
			if err := mem.add(int64(len(key)) + rowSize(kv) + int64(len(cfg.Aggs))*64 + 64); err != nil {
				return err
			}
		}
		st := states[g]
		for i, a := range cfg.Aggs {
			s := &st[i]
			if aidx[i] < 0 {
				s.count++
				continue
			}
			v := row[aidx[i]]
			if v.Null {
				continue
			}
			t := in.Columns[aidx[i]].Type
			s.count++
			switch a.Op {
			case pkgspec.AggSum, pkgspec.AggAvg:
				if a.Op == pkgspec.AggSum && a.Type.Store() != pkgspec.StoreFloat {
					sum := s.sumI + v.I
					if (v.I > 0 && sum < s.sumI) || (v.I < 0 && sum > s.sumI) {
						return fmt.Errorf("sum %q overflows %s", a.Name, a.Type)
					}
					s.sumI = sum
				} else {
					s.sumF += numeric(v, t)
				}
			case pkgspec.AggMin, pkgspec.AggMax:
				c := 0
				if s.hasExt {
					c = compare(v, t, s.ext, t)
				}
				if !s.hasExt || (a.Op == pkgspec.AggMin && c < 0) || (a.Op == pkgspec.AggMax && c > 0) {
					s.ext, s.hasExt = v, true
				}
			case pkgspec.AggCountDistinct:
				if s.distinct == nil {
					s.distinct = map[string]struct{}{}
				}
				dkey = appendKey(dkey[:0], v, t.Store())
				if _, seen := s.distinct[string(dkey)]; !seen {
					s.distinct[string(dkey)] = struct{}{}
					if err := mem.add(int64(len(dkey)) + 48); err != nil {
						return err
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(gidx) == 0 && len(keys) == 0 { // no group by: one row, even for no input
		keys = append(keys, nil)
		states = append(states, make([]aggState, len(cfg.Aggs)))
	}
	out := n.outs[0]
	for g, kv := range keys {
		dst, err := out.slot(ctx)
		if err != nil {
			return err
		}
		copy(dst, kv)
		for i, a := range cfg.Aggs {
			s := &states[g][i]
			var v Value
			switch a.Op {
			case pkgspec.AggCount:
				v = Value{I: s.count}
			case pkgspec.AggCountDistinct:
				v = Value{I: int64(len(s.distinct))}
			case pkgspec.AggSum:
				switch {
				case s.count == 0:
					v = Value{Null: true}
				case a.Type.Store() == pkgspec.StoreFloat:
					v = Value{F: s.sumF}
				default:
					v = Value{I: s.sumI}
				}
			case pkgspec.AggAvg:
				v = Value{Null: true}
				if s.count > 0 {
					v = Value{F: s.sumF / float64(s.count)}
				}
			default:
				v = Value{Null: !s.hasExt}
				if s.hasExt {
					v = s.ext
				}
			}
			dst[len(kv)+i] = v
		}
	}
	return nil
}

// cursor reads one sorted input of a merge join row by row and checks
// the order.
type cursor struct {
	n     *node
	in    int
	side  string
	keys  []int
	types []pkgspec.DataType
	b     *Batch
	r     int
	done  bool
	prev  []Value
	has   bool
}

func (c *cursor) row() []Value { return c.b.Row(c.r) }

func (c *cursor) advance(ctx context.Context) error {
	if c.b != nil {
		c.r++
	}
	for c.b == nil || c.r >= c.b.N {
		b, err := c.n.recv(ctx, c.in)
		if err != nil {
			return err
		}
		if b == nil {
			c.done = true
			return nil
		}
		c.b, c.r = b, 0
	}
	row := c.row()
	if c.has {
		for i, k := range c.keys {
			cmp := compareNull(row[k], c.types[i], c.prev[i], c.types[i])
			if cmp < 0 {
				return fmt.Errorf("the %s input is not sorted on its join keys: %s after %s", c.side, text(row[k], c.types[i]), text(c.prev[i], c.types[i]))
			}
			if cmp > 0 {
				break
			}
		}
	}
	for i, k := range c.keys {
		c.prev[i] = row[k]
	}
	c.has = true
	return nil
}

func (c *cursor) keyNull() bool {
	row := c.row()
	for _, k := range c.keys {
		if row[k].Null {
			return true
		}
	}
	return false
}

// mergeJoin joins two inputs sorted on the join keys.
func (n *node) mergeJoin(ctx context.Context) error {
	m := n.c.MergeJoin
	left, right := n.c.In[0], n.c.In[1]
	mk := func(in int, side string, o *pkgspec.Output, names []string) *cursor {
		c := &cursor{n: n, in: in, side: side, prev: make([]Value, len(names))}
		for _, name := range names {
			k := o.Index(name)
			c.keys = append(c.keys, k)
			c.types = append(c.types, o.Columns[k].Type)
		}
		return c
	}
	l, r := mk(0, "left", left, m.LeftKeys), mk(1, "right", right, m.RightKeys)
	var rightCols []int // right columns in the output
	for i, c := range right.Columns {
		if m.Type == pkgspec.JoinFull || !slices.Contains(m.RightKeys, c.Name) {
			rightCols = append(rightCols, i)
		}
	}
	lw := len(left.Columns)
	out := n.outs[0]
	emit := func(lrow, rrow []Value) error {
		dst, err := out.slot(ctx)
		if err != nil {
			return err
		}
		if lrow != nil {
			copy(dst, lrow)
		} else {
			for i := range lw {
				dst[i] = Value{Null: true}
			}
		}
		for i, k := range rightCols {
			if rrow != nil {
				dst[lw+i] = rrow[k]
			} else {
				dst[lw+i] = Value{Null: true}
			}
		}
		return nil
	}
	cmpKeys := func(a, b []Value) int {
		for i := range l.keys {
			if c := compare(a[l.keys[i]], l.types[i], b[r.keys[i]], r.types[i]); c != 0 {
				return c
			}
		}
		return 0
	}
	mem := &memory{what: "merge join (rows of one right key)", limit: n.flow.MemoryLimit}
	if err := l.advance(ctx); err != nil {
		return err
	}
	if err := r.advance(ctx); err != nil {
		return err
	}
	var group []Value
	rw := len(right.Columns)
	for !l.done || !r.done {
		var c int
		switch {
		case r.done:
			c = -1
		case l.done:
			c = 1
		case l.keyNull():
			c = -1
		case r.keyNull():
			c = 1
		default:
			c = cmpKeys(l.row(), r.row())
		}
		switch {
		case c < 0:
			if m.Type != pkgspec.JoinInner {
				if err := emit(l.row(), nil); err != nil {
					return err
				}
			}
			if err := l.advance(ctx); err != nil {
				return err
			}
		case c > 0:
			if m.Type == pkgspec.JoinFull {
				if err := emit(nil, r.row()); err != nil {
					return err
				}
			}
			if err := r.advance(ctx); err != nil {
				return err
			}
		default:
			// Hold the right rows of this key, then pair each left row
			// of the key with them.
			group = group[:0]
			mem.used = 0
			first := slices.Clone(r.row())
			for !r.done && !r.keyNull() && cmpKeys(l.row(), r.row()) == 0 {
				group = append(group, r.row()...)
				if err := mem.add(rowSize(r.row())); err != nil {
					return err
				}
				if err := r.advance(ctx); err != nil {
					return err
				}
			}
			for !l.done && !l.keyNull() && cmpKeys(l.row(), first) == 0 {
				for g := 0; g < len(group); g += rw {
					if err := emit(l.row(), group[g:g+rw]); err != nil {
						return err
					}
				}
				if err := l.advance(ctx); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
