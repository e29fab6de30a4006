package dataflow

import (
	"context"
	"database/sql"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/stdlib"
	mssql "github.com/microsoft/go-mssqldb"
	"github.com/scaleout/scaleout/catalog/pkgspec"
)

// sqlSource runs a query and maps its result columns by name (ignoring
// case) onto the declared columns.
func (n *node) sqlSource(ctx context.Context) error {
	s := n.c.SQL
	if n.env.Query == nil {
		return fmt.Errorf("no SQL connections in this run")
	}
	rows, err := n.env.Query(ctx, s.Connection, s.Query, s.Params)
	if err != nil {
		return err
	}
	defer rows.Close()
	names, err := rows.Columns()
	if err != nil {
		return err
	}
	cols := n.c.SourceCols
	pos := make([]int, len(cols))
	for i, c := range cols {
		pos[i] = -1
		for k, name := range names {
			if strings.EqualFold(name, c.Field) {
				pos[i] = k
			}
		}
		if pos[i] < 0 {
			return fmt.Errorf("the query returns no column %q (it returns %s)", c.Field, strings.Join(names, ", "))
		}
	}
	vals := make([]any, len(names))
	ptrs := make([]any, len(names))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	raw := make([]Value, len(cols))
	out := n.out(pkgspec.OutputDefault)
	line := 0
	for rows.Next() {
		line++
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		dst, err := out.slot(ctx)
		if err != nil {
			return err
		}
		for i, c := range cols {
			x := vals[pos[i]]
			if b, ok := x.([]byte); ok {
				x = string(b)
			}
			v, code := fromAny(x, c.Type)
			if code == 0 {
				dst[i] = v
				continue
			}
			if n.c.OnError == pkgspec.OnErrorIgnore {
				dst[i] = Value{Null: true}
				continue
			}
			out.undo()
			for k := range cols {
				raw[k] = Value{S: fmt.Sprint(vals[pos[k]]), Null: vals[pos[k]] == nil}
			}
			if err := n.rowFailed(ctx, raw, &rowError{code: code, column: c.Name, desc: fmt.Sprintf("row %d: %s", line, codeText(code, fmt.Sprint(x), c.Type))}); err != nil {
				return err
			}
			break
		}
	}
	return rows.Err()
}

// destColumns returns the table columns and, for each, the input column
// index: the mapping, or every input column by name.
func (n *node) destColumns() ([]string, []int) {
	in := n.c.In[0]
	var names []string
	var idx []int
	if len(n.c.SQL.Mapping) == 0 {
		for i, c := range in.Columns {
			names = append(names, c.Name)
			idx = append(idx, i)
		}
		return names, idx
	}
	for _, m := range n.c.SQL.Mapping {
		names = append(names, m[0])
		idx = append(idx, in.Index(m[1]))
	}
	return names, idx
}

// quoteIdent quotes a table or column name for the driver; a dotted
// table name is quoted per part.
func quoteIdent(driver, name string) string {
	parts := strings.Split(name, ".")
	for i, p := range parts {
		if driver == pkgspec.DriverSQLServer {
			parts[i] = "[" + strings.ReplaceAll(p, "]", "]]") + "]"
		} else {
			parts[i] = `"` + strings.ReplaceAll(p, `"`, `""`) + `"`
		}
	}
	return strings.Join(parts, ".")
}

// sqlDest bulk-loads rows into a table.
func (n *node) sqlDest(ctx context.Context) error {
	s := n.c.SQL
	db, driver, err := n.env.DB(s.Connection)
	if err != nil {
		return err
	}
	names, idx := n.destColumns()
	table := quoteIdent(driver, s.Table)
	if s.Truncate {
		stmt := "TRUNCATE TABLE " + table
		if driver == pkgspec.DriverSQLite {
			stmt = "DELETE FROM " + table
		}
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("truncate %s: %w", s.Table, err)
		}
	}
	switch driver {
	case pkgspec.DriverPostgres:
		return n.copyPostgres(ctx, db, names, idx)
	case pkgspec.DriverSQLServer:
		return n.bulkSQLServer(ctx, db, names, idx)
	}
	return n.insertSQLite(ctx, db, table, names, idx)
}

// goValue returns the database value of v.
func goValue(v Value, t pkgspec.DataType) any {
	if v.Null {
		return nil
	}
	switch t.Store() {
	case pkgspec.StoreDecimal:
		return decimalText(v, t)
	case pkgspec.StoreBytes:
		return []byte(v.S)
	}
	return toAny(v, t)
}

func decimalText(v Value, t pkgspec.DataType) string {
	return string(formatDecimal(nil, v.I, t.Scale))
}

// insertSQLite inserts with one prepared statement, batch_size rows per
// transaction (default 10000).
func (n *node) insertSQLite(ctx context.Context, db *sql.DB, table string, names []string, idx []int) error {
	batch := n.c.SQL.BatchSize
	if batch <= 0 {
		batch = 10000
	}
	cols := n.c.In[0].Columns
	quoted := make([]string, len(names))
	for i, c := range names {
		quoted[i] = quoteIdent(pkgspec.DriverSQLite, c)
	}
	stmt := fmt.Sprintf("INSERT INTO %s (%s) VALUES (%s)", table, strings.Join(quoted, ", "), strings.TrimSuffix(strings.Repeat("?, ", len(names)), ", "))
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	var tx *sql.Tx
	var ps *sql.Stmt
	inTx := 0
	commit := func() error {
		if tx == nil {
			return nil
		}
		ps.Close()
		err := tx.Commit()
		tx, ps, inTx = nil, nil, 0
		return err
	}
	defer func() {
		if tx != nil {
			_ = tx.Rollback()
		}
	}()
	args := make([]any, len(idx))
	err = n.each(ctx, func(row []Value) error {
		if tx == nil {
			var err error
			if tx, err = conn.BeginTx(ctx, nil); err != nil {
				return err
			}
			if ps, err = tx.PrepareContext(ctx, stmt); err != nil {
				return fmt.Errorf("%s: %w", stmt, err)
			}
		}
		for i, k := range idx {
			args[i] = goValue(row[k], cols[k].Type)
		}
		if _, err := ps.ExecContext(ctx, args...); err != nil {
			return fmt.Errorf("insert into %s: %w", n.c.SQL.Table, err)
		}
		if inTx++; inTx == batch {
			return commit()
		}
		return nil
	})
	if err != nil {
		return err
	}
	return commit()
}

// copySource feeds the node's input to pgx CopyFrom, up to limit rows
// (0: all).
type copySource struct {
	n     *node
	ctx   context.Context
	cols  []pkgspec.Column
	idx   []int
	b     *Batch
	i     int
	vals  []any
	err   error
	limit int
	sent  int
	done  bool
}

func (s *copySource) Next() bool {
	if s.limit > 0 && s.sent == s.limit {
		return false
	}
	s.i++
	for s.b == nil || s.i >= s.b.N {
		b, err := s.n.recv(s.ctx, 0)
		if err != nil {
			s.err = err
			return false
		}
		if b == nil {
			s.done = true
			return false
		}
		s.b, s.i = b, 0
	}
	row := s.b.Row(s.i)
	for j, k := range s.idx {
		s.vals[j] = pgValue(row[k], s.cols[k].Type)
	}
	s.sent++
	return true
}

func (s *copySource) Values() ([]any, error) { return s.vals, nil }
func (s *copySource) Err() error             { return s.err }

// pgValue returns the value pgx encodes for v: numeric as pgtype.Numeric
// built from the exact mantissa.
func pgValue(v Value, t pkgspec.DataType) any {
	if v.Null {
		return nil
	}
	switch t.Store() {
	case pkgspec.StoreDecimal:
		return pgtype.Numeric{Int: big.NewInt(v.I), Exp: int32(-t.Scale), Valid: true}
	case pkgspec.StoreBytes:
		return []byte(v.S)
	case pkgspec.StoreTime:
		return time.Unix(0, v.I).UTC()
	}
	return toAny(v, t)
}

// copyPostgres loads with COPY FROM STDIN (binary), batch_size rows per
// COPY and transaction (0: one COPY for everything).
func (n *node) copyPostgres(ctx context.Context, db *sql.DB, names []string, idx []int) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		pc := dc.(*stdlib.Conn).Conn()
		src := &copySource{n: n, ctx: ctx, cols: n.c.In[0].Columns, idx: idx, vals: make([]any, len(idx)), limit: n.c.SQL.BatchSize, i: -1}
		ident := pgx.Identifier(strings.Split(n.c.SQL.Table, "."))
		for !src.done {
			tx, err := pc.Begin(ctx)
			if err != nil {
				return err
			}
			if n.c.SQL.TableLock {
				if _, err := tx.Exec(ctx, "LOCK TABLE "+ident.Sanitize()+" IN SHARE ROW EXCLUSIVE MODE"); err != nil {
					_ = tx.Rollback(ctx)
					return err
				}
			}
			src.sent = 0
			if _, err := tx.CopyFrom(ctx, ident, names, src); err != nil {
				_ = tx.Rollback(ctx)
				if src.err != nil {
					return src.err
				}
				return fmt.Errorf("COPY into %s: %w", n.c.SQL.Table, err)
			}
			if err := tx.Commit(ctx); err != nil {
				return err
			}
			if src.err != nil {
				return src.err
			}
		}
		return nil
	})
}

// bulkSQLServer loads with go-mssqldb's bulk copy (mssql.CopyIn). Not
// tested against a server here: no SQL Server runs on this machine.
func (n *node) bulkSQLServer(ctx context.Context, db *sql.DB, names []string, idx []int) error {
	cols := n.c.In[0].Columns
	opts := mssql.BulkOptions{Tablock: n.c.SQL.TableLock, RowsPerBatch: n.c.SQL.BatchSize}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	stmt, err := tx.PrepareContext(ctx, mssql.CopyIn(n.c.SQL.Table, opts, names...))
	if err != nil {
		return err
	}
	args := make([]any, len(idx))
	err = n.each(ctx, func(row []Value) error {
		for i, k := range idx {
			args[i] = goValue(row[k], cols[k].Type)
		}
		_, err := stmt.ExecContext(ctx, args...)
		return err
	})
	if err != nil {
		return err
	}
	if _, err := stmt.ExecContext(ctx); err != nil {
		return fmt.Errorf("bulk copy into %s: %w", n.c.SQL.Table, err)
	}
	if err := stmt.Close(); err != nil {
		return err
	}
	return tx.Commit()
}
