package convert

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/scaleout/scaleout/catalog/ssis"
)

// designerTerminator is a terminator as the Bulk Insert Task Editor lists
// it: "Comma {,}", "Vertical Bar {|}".
var designerTerminator = regexp.MustCompile(`^[A-Za-z ]+\{(.)\}$`)

// bulkTerminator reads a FieldTerminator or RowTerminator of a Bulk
// Insert task: the editor's names ({CR}{LF}, Tab, Comma {,}, ...) or the
// characters themselves with BULK INSERT's escapes (\t, \n, \r).
func bulkTerminator(s, def string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		s = def
	}
	if m := designerTerminator.FindStringSubmatch(s); m != nil {
		return m[1], nil
	}
	if strings.EqualFold(s, "Tab") {
		return "\t", nil
	}
	r := strings.NewReplacer("{CR}", "\r", "{LF}", "\n", "{t}", "\t", `\t`, "\t", `\n`, "\n", `\r`, "\r", `\0`, "\x00", `\\`, `\`)
	out := r.Replace(s)
	if out == "" || len(out) > 16 {
		return "", fmt.Errorf("terminator %q is not 1 to 16 bytes", s)
	}
	return out, nil
}

// bulkInsert converts a Bulk Insert task into a bulk_insert task: the file
// of its source File (or Flat File) connection loaded into
// DestinationTableName of its OLE DB connection, with its options. What
// the native task cannot honour is an error (format files, native data
// files, code pages it cannot read) or a warning (constraints and
// triggers, which INSERT always checks and fires; SortedData).
func (pc *pkgConv) bulkInsert(e *ssis.Executable) (omap, string, error) {
	d, err := data(e, "BulkInsertTaskData")
	if err != nil {
		return nil, "", err
	}
	a := func(name string) string { return attr(d, name) }
	if isTrueS(a("UseFormatFile")) || a("FormatFile") != "" {
		return nil, "", fmt.Errorf("the task reads its columns and terminators from a format file (%s), which is not converted; give the terminators in the task", a("FormatFile"))
	}
	dst := a("DestinationConnectionName")
	if dst == "" {
		return nil, "", fmt.Errorf("the task names no destination connection (DestinationConnectionName)")
	}
	cn, err := pc.dbConn(dst)
	if err != nil {
		return nil, "", err
	}
	table := strings.TrimSpace(a("DestinationTableName"))
	if table == "" {
		return nil, "", fmt.Errorf("the task names no destination table (DestinationTableName)")
	}
	src := a("SourceConnectionName")
	if src == "" {
		return nil, "", fmt.Errorf("the task names no source file connection (SourceConnectionName)")
	}
	path, err := pc.filePath(src, "False")
	if err != nil {
		return nil, "", fmt.Errorf("source: %w", err)
	}
	body := omap{{"connection", cn}, {"table", table}, {"path", path}}
	ft, err := bulkTerminator(a("FieldTerminator"), "Tab")
	if err != nil {
		return nil, "", fmt.Errorf("FieldTerminator: %w", err)
	}
	rt, err := bulkTerminator(a("RowTerminator"), "{CR}{LF}")
	if err != nil {
		return nil, "", fmt.Errorf("RowTerminator: %w", err)
	}
	if ft != "\t" {
		body.set("field_terminator", ft)
	}
	if rt != "\n" {
		body.set("row_terminator", rt)
	}
	for _, f := range []struct{ attr, key string }{{"FirstRow", "first_row"}, {"LastRow", "last_row"}, {"BatchSize", "batch_size"}} {
		if v := a(f.attr); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return nil, "", fmt.Errorf("%s %q is not a non-negative integer", f.attr, v)
			}
			if n > 1 || n == 1 && f.key != "first_row" {
				body.set(f.key, n)
			}
		}
	}
	v := a("MaximumErrors")
	if v == "" {
		v = a("MaxErrors")
	}
	if v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return nil, "", fmt.Errorf("MaximumErrors %q is not a non-negative integer", v)
		}
		body.set("max_errors", n)
	}
	enc, err := pc.bulkEncoding(e, a("CodePage"), a("DataFileType"))
	if err != nil {
		return nil, "", err
	}
	if enc != "utf-8" {
		body.set("encoding", enc)
	}
	for _, f := range []struct{ attr, key string }{{"KeepNulls", "keep_nulls"}, {"KeepIdentity", "keep_identity"}, {"TableLock", "table_lock"}} {
		if isTrueS(a(f.attr)) {
			body.set(f.key, true)
		}
	}
	if v := a("CheckConstraints"); v != "" && !isTrueS(v) {
		pc.warn("%s: CheckConstraints is False, but scaleout inserts the rows with INSERT, which checks the table's constraints", e.Path)
	}
	if !isTrueS(a("FireTriggers")) {
		pc.warn("%s: insert triggers on %s run (scaleout inserts with INSERT); SSIS fires them only with FireTriggers", e.Path, table)
	}
	if v := a("SortedData"); v != "" {
		pc.warn("%s: SortedData (%s) is a hint to SQL Server and is ignored", e.Path, v)
	}
	return omap{{"bulk_insert", body}}, fmt.Sprintf("bulk_insert into %s on %s", table, cn), nil
}

// bulkEncoding is the encoding of a Bulk Insert task's file from its
// DataFileType and CodePage.
func (pc *pkgConv) bulkEncoding(e *ssis.Executable, cp, typ string) (string, error) {
	t := strings.ToLower(strings.TrimPrefix(typ, "DTSBulkInsert_DataFileType_"))
	switch t {
	case "", "char", "0":
	case "widechar", "2":
		return "utf-16le", nil
	default:
		return "", fmt.Errorf("DataFileType %s (SQL Server's native binary format) is not converted; only char and widechar files are", typ)
	}
	switch strings.ToUpper(strings.TrimSpace(cp)) {
	case "", "65001":
		return "utf-8", nil
	case "RAW":
		pc.warn("%s: CodePage RAW (no conversion) is read as UTF-8", e.Path)
		return "utf-8", nil
	case "ACP", "1252":
		if strings.EqualFold(cp, "ACP") {
			pc.warn("%s: CodePage ACP (the server's ANSI code page) is taken as Windows-1252", e.Path)
		}
		return "windows-1252", nil
	case "28591":
		return "latin1", nil
	case "1200":
		return "utf-16le", nil
	case "1201":
		return "utf-16be", nil
	}
	return "", fmt.Errorf("CodePage %s is not converted (UTF-8/65001, RAW, ACP/1252, 28591, 1200 and 1201 are)", cp)
}
