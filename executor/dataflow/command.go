package dataflow

import (
	"context"
	"fmt"

	"github.com/scaleout/scaleout/catalog/pkgspec"
)

// sqlCommand runs its statement for each row (SSIS's OLE DB Command), the
// ? markers bound to the row's param_columns, and passes the row on. A
// statement that fails for a row is a row error (CodeCommand): with
// on_error ignore the row passes on all the same, with redirect it goes to
// the error output.
func (n *node) sqlCommand(ctx context.Context) error {
	cmd := n.c.Command
	if n.env.Prepare == nil {
		return fmt.Errorf("no SQL connections in this run")
	}
	stmt, err := n.env.Prepare(ctx, cmd.Connection, cmd.Statement)
	if err != nil {
		return fmt.Errorf("statement %q: %w", cmd.Statement, err)
	}
	defer stmt.Close()
	in := n.c.In[0]
	idx := make([]int, len(cmd.Params))
	for i, name := range cmd.Params {
		idx[i] = in.Index(name)
	}
	args := make([]any, len(idx))
	out := n.out(pkgspec.OutputDefault)
	rows := 0
	err = n.each(ctx, func(row []Value) error {
		rows++
		for i, k := range idx {
			args[i] = goValue(row[k], in.Columns[k].Type)
		}
		if _, err := stmt.ExecContext(ctx, args...); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if n.c.OnError != pkgspec.OnErrorIgnore {
				return n.rowFailed(ctx, row, &rowError{code: CodeCommand, desc: fmt.Sprintf("row %d: the statement failed: %v", rows, err)})
			}
		}
		return out.put(ctx, row)
	})
	return err
}

// maxRecordset bounds the rows a recordset_destination holds, as a sql
// task's rowset.
const maxRecordset = 1_000_000

// recordsetDest keeps the rows (SSIS's Recordset Destination) for its
// object variable, which the task sets when the flow has succeeded; a
// foreach in: vars.X iterates them (SSIS's Foreach ADO enumerator).
func (n *node) recordsetDest(ctx context.Context) error {
	in := n.c.In[0]
	mem := &memory{what: "recordset", limit: n.flow.MemoryLimit}
	return n.each(ctx, func(row []Value) error {
		if len(n.recordset) >= maxRecordset {
			return fmt.Errorf("more than %d rows for variable %s", maxRecordset, n.c.Recordset)
		}
		m := make(map[string]any, len(row))
		for i, c := range in.Columns {
			m[c.Name] = toAny(row[i], c.Type)
		}
		n.recordset = append(n.recordset, m)
		return mem.add(rowSize(row) + int64(len(row))*32)
	})
}
