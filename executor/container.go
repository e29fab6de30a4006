package executor

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"slices"

	"github.com/scaleout/scaleout/catalog/pkgspec"
)

// body runs a container's tasks in a new scope below the current one.
func (tc *taskCtx) body(ctx context.Context, c *pkgspec.Container) (*listResult, error) {
	sc := &scope{parent: tc.sc, vars: map[string]*variable{}, owner: tc.task}
	inner := &taskCtx{pr: tc.pr, sc: sc, task: tc.task}
	if err := inner.declare(c.Variables); err != nil {
		return nil, err
	}
	return tc.pr.runList(ctx, sc, c.Tasks), nil
}

// listOut turns the result of a container's task list into the
// container's outcome.
func listOut(lr *listResult, c *pkgspec.Container) taskOut {
	lr.tolerate(c.MaxErrors)
	res := lr.result(c.Tasks)
	switch res.Status {
	case StatusCanceled:
		return taskOut{state: stateCanceled, msg: res.Message}
	case StatusFailed:
		return taskOut{state: stateFailed, msg: res.Message, fromChild: true}
	}
	return taskOut{state: stateSucceeded, summary: res.Message}
}

// sequence runs a group of tasks with its own variables and constraints.
func (tc *taskCtx) sequence(ctx context.Context) taskOut {
	c := tc.task.Sequence
	lr, err := tc.body(ctx, c)
	if err != nil {
		return failed("%v", err)
	}
	return listOut(lr, c)
}

// forEach runs its tasks once per item, one iteration at a time, and stops
// at the first iteration that fails or is canceled.
func (tc *taskCtx) forEach(ctx context.Context) taskOut {
	f := tc.task.ForEach
	items, err := tc.items(ctx, f)
	if err != nil {
		return failed("%v", err)
	}
	// One scope for the whole loop: its variables keep their values from
	// one iteration to the next; the loop variable is rebound each time.
	sc := &scope{parent: tc.sc, vars: map[string]*variable{f.Var: {typ: pkgspec.TypeObject}}, owner: tc.task}
	loop := &taskCtx{pr: tc.pr, sc: sc, task: tc.task}
	if err := loop.declare(f.Variables); err != nil {
		return failed("%v", err)
	}
	name := tc.name()
	for i, item := range items {
		if ctx.Err() != nil {
			return taskOut{state: stateCanceled}
		}
		tc.pr.r.emit(EventProgress, name, fmt.Sprintf("iteration %d of %d: %s = %s", i+1, len(items), f.Var, short(format(item))))
		tc.pr.mu.Lock()
		lv := sc.vars[f.Var]
		val, err := convert(lv.typ, item) // a loop variable declared with a type
		if err == nil {
			lv.val = val
		}
		tc.pr.mu.Unlock()
		if err != nil {
			return taskOut{state: stateFailed, msg: fmt.Sprintf("iteration %d of %d: item %s: loop variable %q (%s): %v", i+1, len(items), short(format(item)), f.Var, lv.typ, err),
				info: map[string]any{"iterations": i + 1}}
		}
		lr := tc.pr.runList(ctx, sc, f.Tasks)
		if out := listOut(lr, &f.Container); out.state != stateSucceeded {
			out.msg = fmt.Sprintf("iteration %d of %d (%s = %s): %s", i+1, len(items), f.Var, short(format(item)), out.msg)
			out.info = map[string]any{"iterations": i + 1}
			return out
		}
	}
	return taskOut{state: stateSucceeded, result: len(items), info: map[string]any{"iterations": len(items)},
		summary: plural(len(items), "iteration")}
}

// short cuts a value for a progress message.
func short(s string) string {
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return s
}

// anys returns the elements of s as a []any.
func anys[T any](s []T) []any {
	out := make([]any, len(s))
	for i, x := range s {
		out[i] = x
	}
	return out
}

// items returns the items of a foreach loop from its one source.
func (tc *taskCtx) items(ctx context.Context, f *pkgspec.ForEachTask) ([]any, error) {
	switch {
	case f.Items != nil:
		out := make([]any, len(f.Items))
		for i, it := range f.Items {
			v, err := tc.value(fmt.Sprintf("foreach items[%d]", i), it)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	case f.In != "":
		v, err := tc.eval("foreach in", f.In)
		if err != nil {
			return nil, err
		}
		rv := reflect.ValueOf(v)
		if v == nil || (rv.Kind() != reflect.Slice && rv.Kind() != reflect.Array) {
			return nil, fmt.Errorf("foreach in: expression %q is %s, not a list", f.In, describe(v))
		}
		out := make([]any, rv.Len())
		for i := range out {
			out[i] = rv.Index(i).Interface()
		}
		return out, nil
	case f.Files != "":
		_, matches, err := tc.glob("foreach files", f.Files)
		if err != nil {
			return nil, err
		}
		slices.Sort(matches)
		return anys(matches), nil
	case f.CSV != "":
		path, err := tc.path("foreach csv", f.CSV)
		if err != nil {
			return nil, err
		}
		return readCSV(path)
	case f.Query != nil:
		rows, err := tc.query(ctx, f.Query, "foreach query")
		if err != nil {
			return nil, err
		}
		return anys(rows), nil
	}
	return nil, errors.New("foreach has no source of items")
}

// readCSV reads a CSV file with a header line into one map per row.
func readCSV(path string) ([]any, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("foreach csv: %w", err)
	}
	defer f.Close()
	cr := csv.NewReader(f)
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("foreach csv %s: header: %w", path, err)
	}
	var out []any
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("foreach csv: %w", err)
		}
		row := make(map[string]any, len(header))
		for i, h := range header {
			row[h] = rec[i]
		}
		out = append(out, row)
	}
}

// forLoop runs init once, then its tasks while the condition holds, running
// step after each iteration.
func (tc *taskCtx) forLoop(ctx context.Context) taskOut {
	f := tc.task.For
	sc := &scope{parent: tc.sc, vars: map[string]*variable{}, owner: tc.task}
	loop := &taskCtx{pr: tc.pr, sc: sc, task: tc.task}
	if err := loop.declare(f.Variables); err != nil {
		return failed("%v", err)
	}
	for _, a := range f.Init { // undeclared init variables live in the loop's scope
		tc.pr.mu.Lock()
		found := false
		for s := sc; s != nil; s = s.parent {
			if _, ok := s.vars[a.Var]; ok {
				found = true
				break
			}
		}
		if !found {
			sc.vars[a.Var] = &variable{typ: pkgspec.TypeObject}
		}
		tc.pr.mu.Unlock()
	}
	if out := loop.assign(f.Init, "for init"); out.state != stateSucceeded {
		return out
	}
	name := tc.name()
	n := 0
	for {
		if ctx.Err() != nil {
			return taskOut{state: stateCanceled}
		}
		ok, err := loop.condition("for condition", f.Condition)
		if err != nil {
			return failed("%v", err)
		}
		if !ok {
			break
		}
		n++
		tc.pr.r.emit(EventProgress, name, fmt.Sprintf("iteration %d", n))
		lr := tc.pr.runList(ctx, sc, f.Tasks)
		if out := listOut(lr, &f.Container); out.state != stateSucceeded {
			out.msg = fmt.Sprintf("iteration %d: %s", n, out.msg)
			out.info = map[string]any{"iterations": n}
			return out
		}
		if out := loop.assign(f.Step, "for step"); out.state != stateSucceeded {
			return out
		}
	}
	return taskOut{state: stateSucceeded, result: n, info: map[string]any{"iterations": n}, summary: plural(n, "iteration")}
}
