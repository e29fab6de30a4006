package pkgspec

import (
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// KindBulkInsert is the key of the bulk_insert task type.
const KindBulkInsert = "bulk_insert"

// Bulk insert defaults: BULK INSERT's (tab, new line, 10 errors).
const (
	DefaultFieldTerminator = "\t"
	DefaultRowTerminator   = "\n"
	DefaultBulkMaxErrors   = 10
)

// maxTerminator bounds a field or row terminator.
const maxTerminator = 16

// BulkInsertTask loads a delimited text file into a table: SSIS's Bulk
// Insert task (T-SQL's BULK INSERT). The task names no columns: the
// table's are read from the database when it runs, and the fields of each
// row map onto them by position.
type BulkInsertTask struct {
	// Connection names a database connection (sqlite, postgres, sqlserver).
	Connection string
	// Table is the destination table, optionally schema-qualified
	// (schema.table; [x] and "x" quoting is removed).
	Table string
	// Path is the file (a template), read by the worker.
	Path string
	// FieldTerminator and RowTerminator split the file. A row terminator
	// "\n" also ends a row at "\r\n" (BULK INSERT reads \n as CR LF).
	FieldTerminator, RowTerminator string
	// FirstRow is the first row loaded (1-based; a header is row 1);
	// LastRow the last, 0 for the end of the file.
	FirstRow, LastRow int
	// Encoding of the file: one of Encodings.
	Encoding string
	// KeepNulls makes an empty field NULL; without it an empty field takes
	// the column's default (NULL when it has none).
	KeepNulls bool
	// KeepIdentity loads the file's values into identity columns; without
	// it their fields are skipped and the database numbers the rows.
	KeepIdentity bool
	// TableLock locks the table for each batch.
	TableLock bool
	// BatchSize is the number of rows per transaction; 0 loads the whole
	// file in one.
	BatchSize int
	// MaxErrors is the number of rows with the wrong number of fields that
	// are skipped (with a warning) before the task fails.
	MaxErrors int
	// Line is the line of the connection field.
	Line int
}

func (p *parser) decodeBulkInsert(t *Task, _, n *yaml.Node) {
	what := kindWhat(t, KindBulkInsert)
	b := &BulkInsertTask{FieldTerminator: DefaultFieldTerminator, RowTerminator: DefaultRowTerminator, FirstRow: 1, Encoding: "utf-8", MaxErrors: DefaultBulkMaxErrors}
	t.BulkInsert = b
	terminator := func(dst *string) func(*yaml.Node, string) {
		return func(v *yaml.Node, w string) {
			s := unescapeTerminator(p.str(v, w))
			if s == "" || len(s) > maxTerminator {
				p.addf(v.Line, "%s must be 1 to %d bytes", w, maxTerminator)
			}
			*dst = s
		}
	}
	var connNode *yaml.Node
	if p.decodeBody(n, what, "a connection, a table and a path", []field{
		{"connection", func(v *yaml.Node, w string) { connNode, b.Connection = v, p.str(v, w) }},
		{"table", set(&b.Table, p.str)},
		{"path", set(&b.Path, p.tplStr)},
		{"field_terminator", terminator(&b.FieldTerminator)},
		{"row_terminator", terminator(&b.RowTerminator)},
		{"first_row", func(v *yaml.Node, w string) { b.FirstRow = p.integer(v, w, 1) }},
		{"last_row", func(v *yaml.Node, w string) { b.LastRow = p.integer(v, w, 0) }},
		{"encoding", func(v *yaml.Node, w string) {
			b.Encoding = strings.ToLower(p.str(v, w))
			if !slices.Contains(Encodings, b.Encoding) {
				p.addf(v.Line, "%s %q is not one of %s", w, b.Encoding, strings.Join(Encodings, ", "))
			}
		}},
		{"keep_nulls", set(&b.KeepNulls, p.boolean)},
		{"keep_identity", set(&b.KeepIdentity, p.boolean)},
		{"table_lock", set(&b.TableLock, p.boolean)},
		{"batch_size", func(v *yaml.Node, w string) { b.BatchSize = p.integer(v, w, 0) }},
		{"max_errors", func(v *yaml.Node, w string) { b.MaxErrors = p.integer(v, w, 0) }},
	}) {
		if connNode == nil {
			p.addf(n.Line, "%s has no connection", what)
		} else {
			b.Line = connNode.Line
		}
		p.need(n, what, "table", b.Table)
		p.need(n, what, "path", b.Path)
		if b.LastRow > 0 && b.LastRow < b.FirstRow {
			p.addf(n.Line, "%s last_row %d is before first_row %d", what, b.LastRow, b.FirstRow)
		}
		if b.FieldTerminator == b.RowTerminator {
			p.addf(n.Line, "%s field_terminator and row_terminator are the same", what)
		}
	}
}

// unescapeTerminator reads \t, \n, \r, \0 and \\ in a terminator, as
// BULK INSERT does.
func unescapeTerminator(s string) string {
	r := strings.NewReplacer(`\t`, "\t", `\n`, "\n", `\r`, "\r", `\0`, "\x00", `\\`, `\`)
	return r.Replace(s)
}
