package executor

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/scaleout/scaleout/catalog/pkgspec"
)

// maxRows caps the rows a rowset result or a foreach query holds in
// memory.
const maxRows = 1_000_000

// prepared is a statement ready to run: its pool, text and bound values.
type prepared struct {
	db     *sql.DB
	driver string
	stmt   string
	args   []any
}

// prepare resolves the connection, reads the statement and evaluates its
// parameters. Parameters are always bound by the driver, never pasted
// into the SQL text.
func (tc *taskCtx) prepare(s *pkgspec.SQLTask, field string) (*prepared, error) {
	conn, err := tc.connection(s.Connection)
	if err != nil {
		return nil, err
	}
	db, err := tc.pr.r.db(conn)
	if err != nil {
		return nil, fmt.Errorf("connection %q: %w", s.Connection, err)
	}
	stmt := s.Statement
	if s.StatementExpression != "" {
		v, err := tc.eval(field+" statement_expression", s.StatementExpression)
		if err != nil {
			return nil, err
		}
		text, ok := v.(string)
		if !ok || strings.TrimSpace(text) == "" {
			return nil, fmt.Errorf("%s statement_expression %q gives %s, not the text of a statement", field, s.StatementExpression, describe(v))
		}
		stmt = text
	}
	if s.File != "" {
		path, err := tc.path(field+" file", s.File)
		if err != nil {
			return nil, err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("%s file: %w", field, err)
		}
		stmt = string(b)
	}
	args := make([]any, len(s.Params))
	for i, p := range s.Params {
		v, err := tc.value(fmt.Sprintf("%s params[%d]", field, i), p)
		if err != nil {
			return nil, err
		}
		args[i] = sqlArg(v)
	}
	var n int
	if len(args) > 0 {
		stmt, n = placeholders(conn.Driver, stmt)
		if n != len(args) {
			return nil, fmt.Errorf("%s: the statement has %d ? markers but %d params are given", field, n, len(args))
		}
	}
	tc.pr.r.emit(EventDiagnostic, tc.name(), fmt.Sprintf("%s on %q: %s; params %s", field, s.Connection, strings.TrimSpace(stmt), format(args)))
	return &prepared{db: db, driver: conn.Driver, stmt: stmt, args: args}, nil
}

// sqlArg turns an expression value into a value database/sql can bind.
func sqlArg(v any) any {
	switch v := v.(type) {
	case nil, string, int64, float64, bool, []byte, time.Time:
		return v
	case int:
		return int64(v)
	case int32:
		return int64(v)
	case float32:
		return float64(v)
	}
	return format(v)
}

// sqlTask runs the statement in its result mode.
func (tc *taskCtx) sqlTask(ctx context.Context) taskOut {
	s := tc.task.SQL
	p, err := tc.prepare(s, "sql")
	if err != nil {
		return failed("%v", err)
	}
	switch s.Mode {
	case pkgspec.ModeSingleRow, pkgspec.ModeRowset:
		limit := maxRows
		if s.Mode == pkgspec.ModeSingleRow {
			limit = 1
		}
		rows, cols, err := p.query(ctx, limit)
		if err != nil {
			return failed("%v", err)
		}
		out := taskOut{state: stateSucceeded, info: map[string]any{"rows": len(rows)}, summary: plural(len(rows), "row")}
		if s.Mode == pkgspec.ModeRowset {
			out.result = anys(rows)
			return out
		}
		if len(rows) == 0 {
			return failed("single_row: the query returned no rows")
		}
		out.result = rows[0]
		if len(cols) == 1 { // a lone value is more useful than a map of one
			out.result = rows[0][cols[0]]
		}
		for i, name := range s.Into {
			if i >= len(cols) {
				return failed("into: %d variables but the query returns %d columns", len(s.Into), len(cols))
			}
			if err := tc.set(name, rows[0][cols[i]]); err != nil {
				return failed("into: %v", err)
			}
		}
		return out
	}
	res, err := p.db.ExecContext(ctx, p.stmt, p.args...)
	if err != nil {
		return failed("%v", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		n = -1
	}
	out := taskOut{state: stateSucceeded, info: map[string]any{"rows": int(n)}, summary: fmt.Sprintf("%d rows affected", n)}
	if s.Mode == pkgspec.ModeRowCount {
		out.result = int(n)
	}
	return out
}

// query runs a foreach query and returns its rows.
func (tc *taskCtx) query(ctx context.Context, s *pkgspec.SQLTask, field string) ([]map[string]any, error) {
	p, err := tc.prepare(s, field)
	if err != nil {
		return nil, err
	}
	rows, _, err := p.query(ctx, maxRows)
	return rows, err
}

// query runs the statement and reads up to limit rows (more is an error
// unless limit is 1) as maps from column name to value.
func (p *prepared) query(ctx context.Context, limit int) ([]map[string]any, []string, error) {
	rows, err := p.db.QueryContext(ctx, p.stmt, p.args...)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, nil, err
	}
	var out []map[string]any
	for rows.Next() {
		if len(out) == limit {
			if limit == 1 {
				break
			}
			return nil, nil, fmt.Errorf("the query returned more than %d rows", limit)
		}
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, nil, err
		}
		row := make(map[string]any, len(cols))
		for i, c := range cols {
			row[c] = sqlValue(vals[i])
		}
		out = append(out, row)
	}
	return out, cols, rows.Err()
}

// sqlValue turns a scanned value into an expression value.
func sqlValue(v any) any {
	switch v := v.(type) {
	case []byte:
		return string(v)
	case int64:
		return int(v)
	case int32:
		return int(v)
	}
	return v
}
