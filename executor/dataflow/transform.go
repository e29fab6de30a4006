package dataflow

import (
	"context"
	"fmt"

	"github.com/expr-lang/expr/vm"
	"github.com/scaleout/scaleout/catalog/pkgspec"
)

// evaluator runs row expressions with one reused environment and VM, so
// that an evaluation allocates only for the values it boxes.
type evaluator struct {
	env   map[string]any
	vm    vm.VM
	types []pkgspec.DataType
}

func newEvaluator(env *Env, cols []pkgspec.Column) *evaluator {
	e := &evaluator{env: make(map[string]any, len(cols)+len(env.Roots))}
	for k, v := range env.Roots {
		e.env[k] = v
	}
	for _, c := range cols {
		e.types = append(e.types, c.Type)
	}
	return e
}

func (e *evaluator) eval(x *pkgspec.RowExpr, row []Value) (any, error) {
	if x.SSIS() {
		return x.EvalSSIS(e.env, func(i int) any { c := x.Cols[i]; return toAny(row[c], e.types[c]) })
	}
	for i, c := range x.Cols {
		e.env[x.Names[i]] = toAny(row[c], e.types[c])
	}
	return pkgspec.RunExprReused(&e.vm, x.Prog, e.env)
}

// derivedColumn adds or replaces columns computed by expressions.
func (n *node) derivedColumn(ctx context.Context) error {
	in := n.c.In[0]
	ev := newEvaluator(n.env, in.Columns)
	target := columnTargets(len(in.Columns), len(n.c.Derived), func(i int) int {
		if dc := n.c.Derived[i]; dc.Replace {
			return in.Index(dc.Name)
		}
		return -1
	})
	return n.setColumns(ctx, target, func(row []Value, i int) (Value, *rowError, bool) {
		dc := n.c.Derived[i]
		v, err := ev.eval(dc.Expr, row)
		if err != nil {
			return Value{}, &rowError{code: CodeExpression, column: dc.Name, desc: err.Error()}, false
		}
		val, code := fromAny(v, dc.Type)
		if code != 0 {
			return Value{}, &rowError{code: code, column: dc.Name, desc: codeText(code, fmt.Sprint(v), dc.Type)}, true
		}
		return val, nil, true
	})
}

// columnTargets places the k columns a component sets in its output rows,
// which start with the width input columns: replaces(i) is the input column
// that column i overwrites, or -1 for a new column (appended in order).
func columnTargets(width, k int, replaces func(i int) int) []int {
	target := make([]int, k)
	next := width
	for i := range target {
		if c := replaces(i); c >= 0 {
			target[i] = c
		} else {
			target[i] = next
			next++
		}
	}
	return target
}

// setColumns sends each input row to the default output with column
// target[i] set to compute(row, i). A row error fails the row (see
// rowFailed), except that an ignorable one sets the column NULL when the
// component ignores errors.
func (n *node) setColumns(ctx context.Context, target []int, compute func(row []Value, i int) (Value, *rowError, bool)) error {
	out := n.out(pkgspec.OutputDefault)
	return n.each(ctx, func(row []Value) error {
		dst, err := out.slot(ctx)
		if err != nil {
			return err
		}
		copy(dst, row)
		for i, t := range target {
			v, rerr, ignorable := compute(row, i)
			if rerr != nil {
				if ignorable && n.c.OnError == pkgspec.OnErrorIgnore {
					dst[t] = Value{Null: true}
					continue
				}
				out.undo()
				return n.rowFailed(ctx, row, rerr)
			}
			dst[t] = v
		}
		return nil
	})
}

// conditionalSplit sends each row to the output of the first case whose
// condition holds, else to the default output.
func (n *node) conditionalSplit(ctx context.Context) error {
	in := n.c.In[0]
	ev := newEvaluator(n.env, in.Columns)
	cases := n.c.Split.Cases
	outs := make([]*port, len(cases))
	for i, c := range cases {
		outs[i] = n.out(c.Output)
	}
	def := n.out(n.c.Split.Default)
	return n.each(ctx, func(row []Value) error {
		for i, c := range cases {
			v, err := ev.eval(c.Cond, row)
			if err != nil {
				if n.c.OnError == pkgspec.OnErrorIgnore {
					continue // the condition counts as false
				}
				return n.rowFailed(ctx, row, &rowError{code: CodeExpression, column: c.Output, desc: err.Error()})
			}
			if b, _ := v.(bool); b {
				return outs[i].put(ctx, row)
			}
		}
		return def.put(ctx, row)
	})
}

// dataConversion converts columns to other types.
func (n *node) dataConversion(ctx context.Context) error {
	in := n.c.In[0]
	src := make([]int, len(n.c.Convert))
	for i, cc := range n.c.Convert {
		src[i] = in.Index(cc.Input)
	}
	target := columnTargets(len(in.Columns), len(n.c.Convert), func(i int) int {
		if cc := n.c.Convert[i]; cc.Name == cc.Input {
			return src[i]
		}
		return -1
	})
	return n.setColumns(ctx, target, func(row []Value, i int) (Value, *rowError, bool) {
		cc := n.c.Convert[i]
		from := in.Columns[src[i]].Type
		v, code := convert(row[src[i]], from, cc.Type)
		if code != 0 {
			return Value{}, &rowError{code: code, column: cc.Input, desc: codeText(code, text(row[src[i]], from), cc.Type)}, true
		}
		return v, nil, true
	})
}

// unionAll passes the rows of every input to one output, matching columns
// by name, reading the inputs as their buffers arrive.
func (n *node) unionAll(ctx context.Context) error {
	out := n.outs[0]
	cols := n.c.Outputs[0].Columns
	maps := make([][]int, len(n.c.In))
	for i, o := range n.c.In {
		for _, c := range cols {
			maps[i] = append(maps[i], o.Index(c.Name))
		}
	}
	type item struct {
		i int
		b *Batch
	}
	items := make(chan item)
	done := make(chan struct{})
	defer close(done)
	for i, ch := range n.ins {
		go func() {
			for b := range ch {
				select {
				case items <- item{i, b}:
				case <-done:
					for range ch { // let the upstream finish
					}
					return
				}
			}
			select {
			case items <- item{i, nil}:
			case <-done:
			}
		}()
	}
	open := len(n.ins)
	for open > 0 {
		var it item
		select {
		case it = <-items:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
		if it.b == nil {
			open--
			continue
		}
		n.rowsIn.Add(int64(it.b.N))
		m := maps[it.i]
		in := n.c.In[it.i]
		for r := 0; r < it.b.N; r++ {
			row := it.b.Row(r)
			dst, err := out.slot(ctx)
			if err != nil {
				return err
			}
			for j, k := range m {
				v := row[k]
				if ft, tt := in.Columns[k].Type, cols[j].Type; ft != tt && !v.Null {
					var code int
					if v, code = convert(v, ft, tt); code != 0 {
						return fmt.Errorf("column %q: %s", cols[j].Name, codeText(code, text(row[k], ft), tt))
					}
				}
				dst[j] = v
			}
		}
	}
	return nil
}

// multicast copies every row to each output.
func (n *node) multicast(ctx context.Context) error {
	return n.each(ctx, func(row []Value) error {
		for _, p := range n.outs {
			if err := p.put(ctx, row); err != nil {
				return err
			}
		}
		return nil
	})
}

// top passes the first N rows and drops the rest.
func (n *node) top(ctx context.Context) error {
	left := n.c.Top
	out := n.outs[0]
	for left > 0 {
		b, err := n.recv(ctx, 0)
		if err != nil || b == nil {
			return err
		}
		for i := 0; i < b.N && left > 0; i++ {
			if err := out.put(ctx, b.Row(i)); err != nil {
				return err
			}
			left--
		}
	}
	return nil
}
