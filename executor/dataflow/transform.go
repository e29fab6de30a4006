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
	return e.vm.Run(x.Prog, e.env)
}

// derivedColumn adds or replaces columns computed by expressions.
func (n *node) derivedColumn(ctx context.Context) error {
	in := n.c.In[0]
	ev := newEvaluator(n.env, in.Columns)
	out := n.out(pkgspec.OutputDefault)
	target := make([]int, len(n.c.Derived))
	next := len(in.Columns)
	for i, dc := range n.c.Derived {
		if dc.Replace {
			target[i] = in.Index(dc.Name)
		} else {
			target[i] = next
			next++
		}
	}
	return n.each(ctx, func(row []Value) error {
		dst, err := out.slot(ctx)
		if err != nil {
			return err
		}
		copy(dst, row)
		for i, dc := range n.c.Derived {
			v, err := ev.eval(dc.Expr, row)
			if err != nil {
				out.undo()
				return n.rowFailed(ctx, row, &rowError{code: CodeExpression, column: dc.Name, desc: err.Error()})
			}
			val, code := fromAny(v, dc.Type)
			if code != 0 {
				if n.c.OnError == pkgspec.OnErrorIgnore {
					dst[target[i]] = Value{Null: true}
					continue
				}
				out.undo()
				return n.rowFailed(ctx, row, &rowError{code: code, column: dc.Name, desc: codeText(code, fmt.Sprint(v), dc.Type)})
			}
			dst[target[i]] = val
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
	out := n.out(pkgspec.OutputDefault)
	src := make([]int, len(n.c.Convert))
	target := make([]int, len(n.c.Convert))
	next := len(in.Columns)
	for i, cc := range n.c.Convert {
		src[i] = in.Index(cc.Input)
		if cc.Name == cc.Input {
			target[i] = src[i]
		} else {
			target[i] = next
			next++
		}
	}
	return n.each(ctx, func(row []Value) error {
		dst, err := out.slot(ctx)
		if err != nil {
			return err
		}
		copy(dst, row)
		for i, cc := range n.c.Convert {
			from := in.Columns[src[i]].Type
			v, code := convert(row[src[i]], from, cc.Type)
			if code != 0 {
				if n.c.OnError == pkgspec.OnErrorIgnore {
					dst[target[i]] = Value{Null: true}
					continue
				}
				out.undo()
				return n.rowFailed(ctx, row, &rowError{code: code, column: cc.Input, desc: codeText(code, text(row[src[i]], from), cc.Type)})
			}
			dst[target[i]] = v
		}
		return nil
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
