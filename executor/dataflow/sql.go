package dataflow

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	mssql "github.com/microsoft/go-mssqldb"
	"github.com/scaleout/scaleout/catalog/pkgspec"
)

// sqlSource runs a query and maps its result columns by name (ignoring
// case) onto the declared columns.
func (n *node) sqlSource(ctx context.Context) error {
	if n.env.Query == nil {
		return fmt.Errorf("no SQL connections in this run")
	}
	cols := n.c.SourceCols
	rows, err := n.query(ctx, n.c.SQL, cols)
	if err != nil {
		return err
	}
	defer rows.Close()
	raw := make([]Value, len(cols))
	out := n.out(pkgspec.OutputDefault)
	line := 0
	for rows.Next() {
		line++
		if err := rows.scan(); err != nil {
			return err
		}
		if err := n.sourceRow(ctx, out, raw, "row", line, rows.value, rows.raw); err != nil {
			return err
		}
	}
	return rows.Err()
}

// queryRows is the result of a query whose columns were matched to
// declared columns: scan reads a row into vals, and pos[i] is the result
// column of the declared column i.
type queryRows struct {
	*sql.Rows
	vals, ptrs []any
	pos        []int
}

// query runs the query q and matches the result columns to cols by name,
// ignoring case (the first that matches).
func (n *node) query(ctx context.Context, q *pkgspec.SQLConfig, cols []*pkgspec.SourceColumn) (*queryRows, error) {
	rows, err := n.env.Query(ctx, q.Connection, q.Query, q.Params)
	if err != nil {
		return nil, err
	}
	names, err := rows.Columns()
	if err != nil {
		rows.Close()
		return nil, err
	}
	r := &queryRows{Rows: rows, vals: make([]any, len(names)), ptrs: make([]any, len(names)), pos: make([]int, len(cols))}
	for i, c := range cols {
		r.pos[i] = slices.IndexFunc(names, func(s string) bool { return strings.EqualFold(s, c.Field) })
		if r.pos[i] < 0 {
			rows.Close()
			return nil, fmt.Errorf("the query returns no column %q (it returns %s)", c.Field, strings.Join(names, ", "))
		}
	}
	for i := range r.vals {
		r.ptrs[i] = &r.vals[i]
	}
	return r, nil
}

// scan reads the current row.
func (r *queryRows) scan() error { return r.Scan(r.ptrs...) }

// raw returns the declared column i of the current row as the driver gave it.
func (r *queryRows) raw(i int) any { return r.vals[r.pos[i]] }

// value returns the declared column i of the current row, bytes as a string.
func (r *queryRows) value(i int) any {
	x := r.vals[r.pos[i]]
	if b, ok := x.([]byte); ok {
		return string(b)
	}
	return x
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

// appendCopyText appends v in PostgreSQL's COPY text format: \N for
// NULL, backslash escapes in text, bytea as hex, times in UTC.
func appendCopyText(b []byte, v Value, t pkgspec.DataType) []byte {
	if v.Null {
		return append(b, '\\', 'N')
	}
	switch t.Store() {
	case pkgspec.StoreString:
		for i := 0; i < len(v.S); i++ {
			switch c := v.S[i]; c {
			case '\\':
				b = append(b, '\\', '\\')
			case '\t':
				b = append(b, '\\', 't')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			default:
				b = append(b, c)
			}
		}
		return b
	case pkgspec.StoreBytes:
		b = append(b, '\\', '\\', 'x')
		return hex.AppendEncode(b, []byte(v.S))
	case pkgspec.StoreFloat:
		switch {
		case math.IsNaN(v.F):
			return append(b, "NaN"...)
		case math.IsInf(v.F, 1):
			return append(b, "Infinity"...)
		case math.IsInf(v.F, -1):
			return append(b, "-Infinity"...)
		}
	case pkgspec.StoreTime:
		b = appendText(b, v, t)
		if t.Name != "DT_DBDATE" && !(t.Name == "DT_DATE" && v.I%(24*int64(time.Hour)) == 0) {
			b = append(b, "+00"...)
		}
		return b
	}
	return appendText(b, v, t)
}

// copyPostgres loads with COPY ... FROM STDIN in PostgreSQL's text format
// through pgx's connection (pgconn.CopyFrom): the server parses the rows as
// it does for a COPY from a file, and the engine formats them without
// boxing a value per cell (pgx's binary CopyFrom spends a third of its time
// encoding numeric through math/big). batch_size rows per COPY and
// transaction; 0: one for everything.
func (n *node) copyPostgres(ctx context.Context, db *sql.DB, names []string, idx []int) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	cols := n.c.In[0].Columns
	ident := pgx.Identifier(strings.Split(n.c.SQL.Table, "."))
	quoted := make([]string, len(names))
	for i, c := range names {
		quoted[i] = pgx.Identifier{c}.Sanitize()
	}
	stmt := fmt.Sprintf("COPY %s (%s) FROM STDIN", ident.Sanitize(), strings.Join(quoted, ", "))
	limit := n.c.SQL.BatchSize
	return conn.Raw(func(dc any) error {
		pc := dc.(*stdlib.Conn).Conn()
		var b *Batch
		r := 0
		done := false
		for !done {
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
			pr, pw := io.Pipe()
			copied := make(chan error, 1)
			go func() {
				_, err := pc.PgConn().CopyFrom(ctx, pr, stmt)
				pr.CloseWithError(err) // unblocks the writer if COPY failed
				copied <- err
			}()
			// Feed this batch's rows into the pipe.
			werr := func() error {
				buf := make([]byte, 0, 1<<16)
				sent := 0
				for limit <= 0 || sent < limit {
					if b == nil || r >= b.N {
						if b != nil {
							n.pools.put(b)
						}
						var err error
						if b, err = n.recv(ctx, 0); err != nil {
							return err
						}
						r = 0
						if b == nil {
							done = true
							break
						}
						continue
					}
					row := b.Row(r)
					r++
					sent++
					for i, k := range idx {
						if i > 0 {
							buf = append(buf, '\t')
						}
						buf = appendCopyText(buf, row[k], cols[k].Type)
					}
					buf = append(buf, '\n')
					if len(buf) >= 1<<16-512 {
						if _, err := pw.Write(buf); err != nil {
							return err
						}
						buf = buf[:0]
					}
				}
				_, err := pw.Write(buf)
				return err
			}()
			pw.CloseWithError(werr)
			cerr := <-copied
			if werr != nil || cerr != nil {
				_ = tx.Rollback(ctx)
				if werr != nil && !errors.Is(werr, io.ErrClosedPipe) && (cerr == nil || ctx.Err() != nil) {
					return werr
				}
				return fmt.Errorf("COPY into %s: %w", n.c.SQL.Table, cerr)
			}
			if err := tx.Commit(ctx); err != nil {
				return err
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
