package executor

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/scaleout/scaleout/catalog/pkgspec"
	"github.com/scaleout/scaleout/executor/dataflow"
)

// maxBulkRow bounds one row of a bulk insert file.
const maxBulkRow = 16 << 20

// bulkColumn is a column of a bulk insert's table.
type bulkColumn struct {
	name     string
	def      bool // has a default
	identity bool
}

// bulkInsertTask loads a delimited file into a table as BULK INSERT does:
// the table's columns come from the database (information_schema, or
// pragma_table_info for SQLite) in their order, and the fields of each
// row map onto them by position.
func (tc *taskCtx) bulkInsertTask(ctx context.Context) taskOut {
	b := tc.task.BulkInsert
	name := tc.name()
	path, err := tc.path("path", b.Path)
	if err != nil {
		return failed("%v", err)
	}
	c, err := tc.connection(b.Connection)
	if err != nil {
		return failed("%v", err)
	}
	db, err := tc.pr.r.db(c)
	if err != nil {
		return failed("connection %q: %v", b.Connection, err)
	}
	schema, table, err := splitTable(b.Table)
	if err != nil {
		return failed("table %q: %v", b.Table, err)
	}
	cols, err := bulkColumns(ctx, db, c.Driver, schema, table)
	if err != nil {
		return failed("table %s: reading its columns: %v", b.Table, err)
	}
	if len(cols) == 0 {
		return failed("table %s: no such table (it has no columns in the connection's database)", b.Table)
	}
	f, err := os.Open(path)
	if err != nil {
		return failed("%v", err)
	}
	defer f.Close()
	var r io.Reader = f
	if e := dataflow.TextEncoding(b.Encoding); e != nil {
		r = e.NewDecoder().Reader(f)
	}
	l := &bulkLoader{tc: tc, b: b, db: db, driver: c.Driver, cols: cols, table: quoteTable(c.Driver, schema, table), stmts: map[string]*sql.Stmt{}}
	n, skipped, err := l.load(ctx, r)
	out := taskOut{info: map[string]any{"rows": n, "skipped": skipped}, result: n, summary: fmt.Sprintf("%s loaded into %s", plural(n, "row"), b.Table)}
	if err != nil {
		out.state, out.msg = stateFailed, err.Error()
		return out
	}
	if skipped > 0 {
		tc.pr.r.emit(EventWarning, name, fmt.Sprintf("%s skipped (wrong number of fields; max_errors %d)", plural(skipped, "row"), b.MaxErrors))
	}
	out.state = stateSucceeded
	return out
}

// splitTable splits schema.table, removing [ ] and " " quoting.
func splitTable(s string) (schema, table string, err error) {
	var parts []string
	var cur strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '[', '"':
			end := byte(']')
			if c == '"' {
				end = '"'
			}
			j := strings.IndexByte(s[i+1:], end)
			if j < 0 {
				return "", "", fmt.Errorf("unbalanced %c", c)
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 1
		case '.':
			parts = append(parts, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	parts = append(parts, cur.String())
	switch {
	case len(parts) == 1 && parts[0] != "":
		return "", parts[0], nil
	case len(parts) == 2 && parts[0] != "" && parts[1] != "":
		return parts[0], parts[1], nil
	case len(parts) == 3 && parts[1] != "" && parts[2] != "":
		return parts[1], parts[2], nil // database.schema.table: the connection names the database
	}
	return "", "", errors.New("want table, schema.table or database.schema.table")
}

func quoteTable(driver, schema, table string) string {
	q := func(s string) string {
		if driver == pkgspec.DriverSQLServer {
			return "[" + strings.ReplaceAll(s, "]", "]]") + "]"
		}
		return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
	}
	if schema == "" {
		return q(table)
	}
	return q(schema) + "." + q(table)
}

// bulkColumns reads the table's columns in order.
func bulkColumns(ctx context.Context, db *sql.DB, driver, schema, table string) ([]bulkColumn, error) {
	var q string
	args := []any{table}
	switch driver {
	case pkgspec.DriverPostgres:
		q = `SELECT column_name, column_default IS NOT NULL, is_identity = 'YES' FROM information_schema.columns
WHERE table_name = $1 AND table_schema = COALESCE(NULLIF($2, ''), current_schema()) ORDER BY ordinal_position`
		args = append(args, schema)
	case pkgspec.DriverSQLServer:
		q = `SELECT c.COLUMN_NAME, CASE WHEN c.COLUMN_DEFAULT IS NULL THEN 0 ELSE 1 END,
COALESCE(COLUMNPROPERTY(OBJECT_ID(QUOTENAME(c.TABLE_SCHEMA) + '.' + QUOTENAME(c.TABLE_NAME)), c.COLUMN_NAME, 'IsIdentity'), 0)
FROM INFORMATION_SCHEMA.COLUMNS c WHERE c.TABLE_NAME = @p1 AND c.TABLE_SCHEMA = COALESCE(NULLIF(@p2, ''), SCHEMA_NAME()) ORDER BY c.ORDINAL_POSITION`
		args = append(args, schema)
	default:
		if schema != "" && schema != "main" {
			return nil, fmt.Errorf("SQLite has no schema %q", schema)
		}
		q = `SELECT name, dflt_value IS NOT NULL, 0 FROM pragma_table_info(?) ORDER BY cid`
	}
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []bulkColumn
	for rows.Next() {
		var c bulkColumn
		var def, ident any
		if err := rows.Scan(&c.name, &def, &ident); err != nil {
			return nil, err
		}
		c.def, c.identity = truthy(def), truthy(ident)
		out = append(out, c)
	}
	return out, rows.Err()
}

func truthy(v any) bool {
	switch v := v.(type) {
	case bool:
		return v
	case int64:
		return v != 0
	case []byte:
		return string(v) == "1" || strings.EqualFold(string(v), "true")
	case string:
		return v == "1" || strings.EqualFold(v, "true")
	}
	return false
}

// bulkLoader inserts the rows of one bulk insert.
type bulkLoader struct {
	tc     *taskCtx
	b      *pkgspec.BulkInsertTask
	db     *sql.DB
	driver string
	cols   []bulkColumn
	table  string
	tx     *sql.Tx
	// stmts caches the INSERT of each set of columns (rows whose empty
	// fields take their columns' defaults name fewer columns).
	stmts map[string]*sql.Stmt
}

// load reads the rows and inserts them, batch_size per transaction. It
// returns the rows inserted and skipped.
func (l *bulkLoader) load(ctx context.Context, r io.Reader) (n, skipped int, err error) {
	b := l.b
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxBulkRow)
	term := []byte(b.RowTerminator)
	sc.Split(func(data []byte, atEOF bool) (int, []byte, error) {
		if i := bytes.Index(data, term); i >= 0 {
			tok := data[:i]
			if b.RowTerminator == "\n" {
				tok = bytes.TrimSuffix(tok, []byte("\r"))
			}
			return i + len(term), tok, nil
		}
		if atEOF && len(data) > 0 {
			return len(data), data, nil
		}
		return 0, nil, nil
	})
	defer func() {
		if l.tx != nil {
			l.tx.Rollback()
		}
	}()
	inBatch := 0
	row := 0
	for sc.Scan() {
		row++
		if row < b.FirstRow {
			continue
		}
		if b.LastRow > 0 && row > b.LastRow {
			break
		}
		fields := strings.Split(sc.Text(), b.FieldTerminator)
		if len(fields) != len(l.cols) {
			skipped++
			if skipped > b.MaxErrors {
				return n, skipped, fmt.Errorf("row %d: %d fields, the table has %d columns; %d rows had the wrong number of fields, more than max_errors %d", row, len(fields), len(l.cols), skipped, b.MaxErrors)
			}
			l.tc.pr.r.emit(EventWarning, l.tc.name(), fmt.Sprintf("row %d skipped: %d fields, the table has %d columns", row, len(fields), len(l.cols)))
			continue
		}
		if l.tx == nil {
			if err := l.begin(ctx); err != nil {
				return n, skipped, err
			}
		}
		if err := l.insert(ctx, fields); err != nil {
			return n, skipped, fmt.Errorf("row %d: %w", row, err)
		}
		n++
		inBatch++
		if b.BatchSize > 0 && inBatch == b.BatchSize {
			if err := l.commit(); err != nil {
				return n - inBatch, skipped, err
			}
			inBatch = 0
		}
	}
	if err := sc.Err(); err != nil {
		return n - inBatch, skipped, fmt.Errorf("row %d: %w", row+1, err)
	}
	if l.tx != nil {
		if err := l.commit(); err != nil {
			return n - inBatch, skipped, err
		}
	}
	return n, skipped, nil
}

func (l *bulkLoader) begin(ctx context.Context) error {
	tx, err := l.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	l.tx = tx
	if l.b.TableLock && l.driver == pkgspec.DriverPostgres {
		if _, err := tx.ExecContext(ctx, "LOCK TABLE "+l.table+" IN SHARE ROW EXCLUSIVE MODE"); err != nil {
			return fmt.Errorf("table_lock: %w", err)
		}
	}
	if l.b.KeepIdentity && l.driver == pkgspec.DriverSQLServer && l.hasIdentity() {
		if _, err := tx.ExecContext(ctx, "SET IDENTITY_INSERT "+l.table+" ON"); err != nil {
			return fmt.Errorf("keep_identity: %w", err)
		}
	}
	return nil
}

func (l *bulkLoader) hasIdentity() bool {
	for _, c := range l.cols {
		if c.identity {
			return true
		}
	}
	return false
}

func (l *bulkLoader) commit() error {
	if l.b.KeepIdentity && l.driver == pkgspec.DriverSQLServer && l.hasIdentity() {
		if _, err := l.tx.Exec("SET IDENTITY_INSERT " + l.table + " OFF"); err != nil {
			return fmt.Errorf("keep_identity: %w", err)
		}
	}
	err := l.tx.Commit()
	l.tx = nil
	for k, s := range l.stmts {
		s.Close()
		delete(l.stmts, k)
	}
	return err
}

// insert inserts one row: an identity column's field is skipped unless
// keep_identity; an empty field is NULL with keep_nulls, else the column's
// default (the column is left out of the INSERT) or NULL.
func (l *bulkLoader) insert(ctx context.Context, fields []string) error {
	var key []byte
	var names []string
	var args []any
	for i, c := range l.cols {
		f := fields[i]
		switch {
		case c.identity && !l.b.KeepIdentity:
			continue
		case f == "" && !l.b.KeepNulls && c.def:
			continue
		}
		key = append(key, byte(i), byte(i>>8))
		names = append(names, c.name)
		if f == "" {
			args = append(args, nil)
		} else {
			args = append(args, f)
		}
	}
	st := l.stmts[string(key)]
	if st == nil {
		q := l.insertSQL(names)
		var err error
		if st, err = l.tx.PrepareContext(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
		l.stmts[string(key)] = st
	}
	_, err := st.ExecContext(ctx, args...)
	return err
}

func (l *bulkLoader) insertSQL(names []string) string {
	var b strings.Builder
	b.WriteString("INSERT INTO " + l.table)
	if l.b.TableLock && l.driver == pkgspec.DriverSQLServer {
		b.WriteString(" WITH (TABLOCK)")
	}
	if len(names) == 0 {
		return b.String() + " DEFAULT VALUES"
	}
	b.WriteString(" (")
	for i, n := range names {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(quoteTable(l.driver, "", n))
	}
	b.WriteString(")")
	if l.b.KeepIdentity && l.driver == pkgspec.DriverPostgres && l.hasIdentity() {
		b.WriteString(" OVERRIDING SYSTEM VALUE")
	}
	b.WriteString(" VALUES (")
	for i := range names {
		if i > 0 {
			b.WriteString(", ")
		}
		switch l.driver {
		case pkgspec.DriverPostgres:
			fmt.Fprintf(&b, "$%d", i+1)
		case pkgspec.DriverSQLServer:
			fmt.Fprintf(&b, "@p%d", i+1)
		default:
			b.WriteByte('?')
		}
	}
	b.WriteString(")")
	return b.String()
}
