package convert

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/scaleout/scaleout/catalog/ssis"
)

// data returns the task's ObjectData element, checking its name.
func data(e *ssis.Executable, local string) (*ssis.Node, error) {
	d := e.Data
	if d == nil {
		return nil, fmt.Errorf("the task has no ObjectData")
	}
	if !strings.EqualFold(d.Local(), local) {
		if c := d.Child(local); c != nil {
			return c, nil
		}
		return nil, fmt.Errorf("ObjectData holds <%s>, not <%s>", d.Local(), local)
	}
	return d, nil
}

func attr(n *ssis.Node, name string) string {
	v, _ := n.Attr1(name)
	return v
}

// conn resolves a connection manager reference (DTSID, name or refId) of
// the package or the project.
func (pc *pkgConv) conn(ref string) (*connInfo, error) {
	for _, k := range []string{ref, strings.ToUpper(ref)} {
		if ci := pc.c.connByKey[pc.p.Name+"\x00"+k]; ci != nil {
			return ci, nil
		}
		if ci := pc.c.connByKey["\x00"+k]; ci != nil {
			return ci, nil
		}
	}
	return nil, fmt.Errorf("connection manager %q is not defined in the package or the project", ref)
}

func (pc *pkgConv) dbConn(ref string) (string, error) {
	ci, err := pc.conn(ref)
	if err != nil {
		return "", err
	}
	if ci.native == "" {
		if ci.err != "" {
			return "", fmt.Errorf("connection manager %s: %s", ci.cm.Name, ci.err)
		}
		return "", fmt.Errorf("connection manager %s (%s) is not a database connection", ci.cm.Name, ci.cm.CreationName)
	}
	return ci.native, nil
}

var namedParamRE = regexp.MustCompile(`@[A-Za-z_][A-Za-z0-9_]*`)

func (pc *pkgConv) executeSQL(e *ssis.Executable) (omap, string, error) {
	d, err := data(e, "SqlTaskData")
	if err != nil {
		return nil, "", err
	}
	cn, err := pc.dbConn(attr(d, "Connection"))
	if err != nil {
		return nil, "", err
	}
	switch st := attr(d, "SqlStmtSourceType"); st {
	case "", "DirectInput":
	default:
		return nil, "", fmt.Errorf("the statement comes from a %s, not direct input", st)
	}
	if isTrueS(attr(d, "IsStoredProcedure")) {
		return nil, "", fmt.Errorf("IsStoredProcedure (ADO.NET) is not converted; write EXEC ... as the statement")
	}
	stmt := attr(d, "SqlStatementSource")
	stmtX, fromExpr := e.Expressions["SqlStatementSource"]
	fromExpr = fromExpr && pc.ssisMode
	if !fromExpr && strings.TrimSpace(stmt) == "" {
		return nil, "", fmt.Errorf("the statement is empty")
	}
	body := omap{{"connection", cn}}
	type binding struct{ name, variable, dir string }
	var binds []binding
	for _, b := range d.All("ParameterBinding") {
		binds = append(binds, binding{attr(b, "ParameterName"), attr(b, "DtsVariableName"), attr(b, "ParameterDirection")})
	}
	var params []any
	if len(binds) > 0 {
		for _, b := range binds {
			if b.dir != "" && !strings.EqualFold(b.dir, "Input") {
				return nil, "", fmt.Errorf("parameter %s has direction %s; only input parameters are converted", b.name, b.dir)
			}
		}
		if _, err := strconv.Atoi(binds[0].name); err == nil || binds[0].name == "?" {
			// Ordinal parameters (OLE DB, ODBC): ? markers in order.
			sort.SliceStable(binds, func(i, j int) bool {
				a, _ := strconv.Atoi(binds[i].name)
				b, _ := strconv.Atoi(binds[j].name)
				return a < b
			})
			for i, b := range binds {
				if n, err := strconv.Atoi(b.name); err == nil && n != i {
					return nil, "", fmt.Errorf("parameter ordinals are not 0..%d", len(binds)-1)
				}
				t, err := pc.tpl(b.variable)
				if err != nil {
					return nil, "", err
				}
				params = append(params, t)
			}
		} else if fromExpr {
			return nil, "", fmt.Errorf("the statement comes from a property expression and has named parameters (%s), which are rewritten to ? only in a static statement; use ? markers", binds[0].name)
		} else {
			// Named parameters (ADO.NET @name): each use becomes a ?.
			byName := map[string]string{}
			for _, b := range binds {
				byName[strings.ToLower(strings.TrimPrefix(b.name, "@"))] = b.variable
			}
			var err error
			stmt = replaceOutsideQuotes(stmt, namedParamRE, func(m string) string {
				v, ok := byName[strings.ToLower(m[1:])]
				if !ok {
					if err == nil && !strings.HasPrefix(m, "@@") {
						err = fmt.Errorf("the statement uses %s, which no parameter mapping binds", m)
					}
					return m
				}
				t, e2 := pc.tpl(v)
				if e2 != nil && err == nil {
					err = e2
				}
				params = append(params, t)
				return "?"
			})
			if err != nil {
				return nil, "", err
			}
		}
	}
	if fromExpr {
		body.set("statement_expression", strings.TrimSpace(stmtX))
	} else {
		body.set("statement", stmt)
	}
	if len(params) > 0 {
		body.set("params", params)
	}
	note := "sql"
	if fromExpr {
		note = "sql, statement from a property expression"
	}
	var result string
	rt := attr(d, "ResultType")
	results := d.All("ResultBinding")
	switch rt {
	case "", "ResultSetType_None":
		if len(results) > 0 {
			return nil, "", fmt.Errorf("result bindings without a result set type")
		}
	case "ResultSetType_SingleRow":
		var into []any
		for i, r := range results {
			if n, err := strconv.Atoi(attr(r, "ResultName")); err != nil || n != i {
				return nil, "", fmt.Errorf("single-row result bindings must be by ordinal 0..%d in order (result %q); name the columns by position", len(results)-1, attr(r, "ResultName"))
			}
			v, err := pc.assignTarget(attr(r, "DtsVariableName"))
			if err != nil {
				return nil, "", err
			}
			into = append(into, v)
		}
		body.set("mode", "single_row")
		if len(into) > 0 {
			body.set("into", into)
		}
		note = "sql, single row into variables"
	case "ResultSetType_Rowset":
		body.set("mode", "rowset")
		if len(results) > 1 {
			return nil, "", fmt.Errorf("a full result set binds one variable, not %d", len(results))
		}
		if len(results) == 1 {
			v, err := pc.assignTarget(attr(results[0], "DtsVariableName"))
			if err != nil {
				return nil, "", err
			}
			result = v
		}
		note = "sql, full result set into an object variable"
	default:
		return nil, "", fmt.Errorf("result set type %s is not converted", rt)
	}
	out := omap{}
	if t := atoi(attr(d, "TimeOut")); t > 0 {
		out.set("timeout", fmt.Sprintf("%ds", t))
	}
	if result != "" {
		out.set("result", result)
	}
	out.set("sql", body)
	return out, note, nil
}

func isTrueS(s string) bool {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "1", "-1":
		return true
	}
	return false
}

func atoi(s string) int {
	n, _ := strconv.Atoi(strings.TrimSpace(s))
	return n
}

// replaceOutsideQuotes replaces the matches of re that lie outside '...'
// literals and -- comments.
func replaceOutsideQuotes(s string, re *regexp.Regexp, fn func(string) string) string {
	var b strings.Builder
	seg := 0
	flush := func(end int) {
		b.WriteString(re.ReplaceAllStringFunc(s[seg:end], fn))
	}
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\'':
			flush(i)
			j := i + 1
			for j < len(s) && !(s[j] == '\'' && (j+1 >= len(s) || s[j+1] != '\'')) {
				if s[j] == '\'' {
					j++
				}
				j++
			}
			j = min(j+1, len(s))
			b.WriteString(s[i:j])
			seg, i = j, j-1
		case strings.HasPrefix(s[i:], "--"):
			flush(i)
			j := strings.IndexByte(s[i:], '\n')
			if j < 0 {
				j = len(s) - i
			}
			b.WriteString(s[i : i+j])
			seg, i = i+j, i+j-1
		}
	}
	flush(len(s))
	return b.String()
}

func (pc *pkgConv) executeProcess(e *ssis.Executable, head *omap) (omap, string, error) {
	d, err := data(e, "ExecuteProcessData")
	if err != nil {
		return nil, "", err
	}
	exe := attr(d, "Executable")
	x, exeFromExpr := pc.propExpr(e, "Executable", false)
	if exeFromExpr {
		exe = x
	}
	if exe == "" {
		return nil, "", fmt.Errorf("no Executable")
	}
	cmd := []any{exe}
	argsX, argsFromExpr := pc.propExpr(e, "Arguments", false)
	if !argsFromExpr {
		cmd = append(cmd, toAny(splitWindowsArgs(attr(d, "Arguments")))...)
	}
	body := omap{{"command", cmd}}
	if argsFromExpr {
		// A command line computed at run time, split there as Windows does.
		body.set("arguments", argsX)
	}
	if x, ok := pc.propExpr(e, "WorkingDirectory", true); ok {
		body.set("dir", x)
	} else if wd := attr(d, "WorkingDirectory"); wd != "" {
		body.set("dir", wd)
	}
	if v := attr(d, "StandardInputVariable"); v != "" {
		in, err := pc.tpl(v)
		if err != nil {
			return nil, "", fmt.Errorf("StandardInputVariable: %w", err)
		}
		body.set("stdin", in)
	}
	if v := attr(d, "StandardErrorVariable"); v != "" {
		pc.warn("%s: StandardErrorVariable %s is not set; standard error goes to the execution's events", e.Path, v)
	}
	if fail, ok := d.Attr1("FailTaskIfReturnCodeIsNotSuccessValue"); ok && !isTrueS(fail) {
		codes := make([]any, 256)
		for i := range codes {
			codes[i] = i
		}
		body.set("success_codes", codes)
	} else if sv := attr(d, "SuccessValue"); sv != "" && sv != "0" {
		n, err := strconv.Atoi(sv)
		if err != nil || n < 0 || n > 255 {
			return nil, "", fmt.Errorf("SuccessValue %q is not an exit code 0-255", sv)
		}
		body.set("success_codes", []any{n})
	}
	if v := attr(d, "StandardOutputVariable"); v != "" {
		t, err := pc.assignTarget(v)
		if err != nil {
			return nil, "", err
		}
		body.set("capture", t)
	}
	out := omap{}
	if t := atoi(attr(d, "TimeOut")); t > 0 {
		out.set("timeout", fmt.Sprintf("%ds", t))
	}
	if !exeFromExpr && (strings.Contains(exe, `:\`) || strings.HasSuffix(strings.ToLower(exe), ".exe")) {
		pc.warn("%s runs the Windows program %s; point it at a program of the worker's system", e.Path, exe)
	}
	out.set("exec", body)
	return out, "exec", nil
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// filePath resolves a File System task path: a variable or a FILE
// connection manager.
func (pc *pkgConv) filePath(value, isVar string) (string, error) {
	if isTrueS(isVar) {
		return pc.tpl(value)
	}
	ci, err := pc.conn(value)
	if err != nil {
		return "", err
	}
	k := strings.ToUpper(ci.cm.CreationName)
	if k != "FILE" && k != "FLATFILE" {
		return "", fmt.Errorf("connection manager %s is a %s, not a file", ci.cm.Name, ci.cm.CreationName)
	}
	if len(ci.cm.Expressions) > 0 {
		return "", fmt.Errorf("connection manager %s's path is set by a property expression", ci.cm.Name)
	}
	if ci.cm.ConnectionString == "" {
		return "", fmt.Errorf("connection manager %s has no path", ci.cm.Name)
	}
	k2 := ci.cm.FileUsage
	return pc.filePathOf(ci.cm.ConnectionString, k2 == "2" || k2 == "3"), nil
}

func (pc *pkgConv) fileSystem(e *ssis.Executable) (omap, string, error) {
	d, err := data(e, "FileSystemData")
	if err != nil {
		return nil, "", err
	}
	op := attr(d, "TaskOperationType")
	src := func() (string, error) {
		if x, ok := pc.propExpr(e, "Source", true); ok {
			return x, nil
		}
		return pc.filePath(attr(d, "TaskSourcePath"), attr(d, "TaskIsSourceVariable"))
	}
	dst := func() (string, error) {
		if x, ok := pc.propExpr(e, "Destination", true); ok {
			return x, nil
		}
		return pc.filePath(attr(d, "TaskDestinationPath"), attr(d, "TaskIsDestinationVariable"))
	}
	body := omap{}
	switch op {
	case "CopyFile", "MoveFile", "RenameFile":
		from, err := src()
		if err != nil {
			return nil, "", err
		}
		to, err := dst()
		if err != nil {
			return nil, "", err
		}
		body.set("op", map[string]string{"CopyFile": "copy", "MoveFile": "move", "RenameFile": "rename"}[op])
		body.set("from", from)
		body.set("to", to)
		if op != "RenameFile" && isTrueS(attr(d, "TaskOverwriteDestFile")) {
			body.set("overwrite", true)
		}
	case "DeleteFile", "DeleteDirectory", "CreateDirectory", "DeleteDirectoryContent":
		p, err := src()
		if err != nil {
			return nil, "", err
		}
		switch op {
		case "CreateDirectory":
			body.set("op", "mkdir")
		case "DeleteDirectoryContent":
			body.set("op", "delete")
			p = strings.TrimRight(p, `/\`) + "/*"
		default:
			body.set("op", "delete")
		}
		body.set("path", p)
	default:
		return nil, "", fmt.Errorf("file system operation %q is not converted", op)
	}
	return omap{{"file", body}}, "file " + body[0].v.(string), nil
}

func (pc *pkgConv) expressionTask(e *ssis.Executable) (omap, string, error) {
	d, err := data(e, "ExpressionTask")
	if err != nil {
		return nil, "", err
	}
	if !pc.ssisMode {
		return nil, "", fmt.Errorf("%s", needExpr)
	}
	lhs, rhs, ok := splitAssignment(attr(d, "Expression"))
	if !ok {
		return nil, "", fmt.Errorf("expression %q is not an assignment", attr(d, "Expression"))
	}
	t, err := pc.assignTarget(lhs)
	if err != nil {
		return nil, "", err
	}
	return omap{{"set", omap{{t, rhs}}}}, "set", nil
}

func (pc *pkgConv) executePackage(e *ssis.Executable) (omap, string, error) {
	d, err := data(e, "ExecutePackageTask")
	if err != nil {
		return nil, "", err
	}
	text := func(n *ssis.Node, local string) string {
		if c := n.Child(local); c != nil {
			return strings.TrimSpace(c.Text)
		}
		return ""
	}
	if !isTrueS(text(d, "UseProjectReference")) {
		return nil, "", fmt.Errorf("the child package is referenced through a connection (package deployment model); import it into the same project and reference it by name")
	}
	file := text(d, "PackageName")
	native, ok := pc.c.pkgByFile[strings.ToLower(file)]
	if !ok {
		return nil, "", fmt.Errorf("child package %q is not in the project", file)
	}
	body := omap{{"name", native}}
	params := omap{}
	for _, a := range d.All("ParameterAssignment") {
		t, err := pc.tpl(text(a, "BindedVariableOrParameterName"))
		if err != nil {
			return nil, "", err
		}
		params.set(identifier(text(a, "ParameterName")), t)
	}
	if len(params) > 0 {
		body.set("params", params)
	}
	return omap{{"package", body}}, "package " + native, nil
}

// rowsetColumn names column i of the rows put into the object variable
// src: by the SELECT list of the Execute SQL task, or the input columns of
// the Recordset Destination, that fills it (there must be one).
func (pc *pkgConv) rowsetColumn(src string, i int) (string, error) {
	var stmts []string
	var recordsets [][]string
	same := func(v string) bool {
		return strings.EqualFold(strings.TrimPrefix(v, "User::"), strings.TrimPrefix(src, "User::"))
	}
	var walk func(e *ssis.Executable)
	walk = func(e *ssis.Executable) {
		if e.CreationName == "Microsoft.ExecuteSQLTask" && e.Data != nil {
			for _, r := range e.Data.All("ResultBinding") {
				if same(attr(r, "DtsVariableName")) {
					stmts = append(stmts, attr(e.Data, "SqlStatementSource"))
				}
			}
		}
		if e.Pipeline != nil {
			for _, c := range e.Pipeline.Components {
				if c.ClassID == "Microsoft.RecordsetDestination" && same(c.Props["VariableName"]) {
					recordsets = append(recordsets, recordsetColumns(c))
				}
			}
		}
		for _, c := range e.Children {
			walk(c)
		}
	}
	walk(pc.p.Root)
	if len(stmts)+len(recordsets) != 1 {
		return "", fmt.Errorf("value index %d of %s: scaleout rows are maps by column name; the column could not be named (%d Execute SQL tasks and %d Recordset Destinations fill %s)", i, src, len(stmts), len(recordsets), src)
	}
	var cols []string
	if len(recordsets) == 1 {
		cols = recordsets[0]
	} else {
		var err error
		if cols, err = selectColumns(stmts[0]); err != nil {
			return "", fmt.Errorf("value index %d of %s: %v", i, src, err)
		}
	}
	if i < 0 || i >= len(cols) {
		return "", fmt.Errorf("value index %d of %s: the query selects %d columns", i, src, len(cols))
	}
	return cols[i], nil
}

var (
	identEnd   = regexp.MustCompile(`(?i)(?:^|\s|\.)"?([A-Za-z_][A-Za-z0-9_]*)"?\s*$`)
	bracketEnd = regexp.MustCompile(`\[([^\]]+)\]\s*$`)
)

// selectColumns names the columns of a SELECT statement's select list.
func selectColumns(sql string) ([]string, error) {
	low := strings.ToLower(sql)
	start := strings.Index(low, "select")
	if start < 0 {
		return nil, fmt.Errorf("the statement is not a SELECT")
	}
	depth, from := 0, -1
	var items []string
	last := start + len("select")
	for i := last; i < len(sql); i++ {
		switch sql[i] {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				items = append(items, sql[last:i])
				last = i + 1
			}
		}
		if depth == 0 && i+5 <= len(low) && low[i:i+4] == "from" && (i == 0 || !isWord(low[i-1])) && (i+4 == len(low) || !isWord(low[i+4])) {
			from = i
			break
		}
	}
	if from < 0 {
		from = len(sql)
	}
	items = append(items, sql[last:from])
	var out []string
	for _, it := range items {
		it = strings.TrimSpace(it)
		if it == "*" || strings.HasSuffix(it, ".*") {
			return nil, fmt.Errorf("the query selects *; name its columns")
		}
		m := bracketEnd.FindStringSubmatch(it)
		if m == nil {
			m = identEnd.FindStringSubmatch(it)
		}
		if m == nil {
			return nil, fmt.Errorf("cannot name the select item %q; give it an alias", it)
		}
		out = append(out, strings.TrimSpace(m[1]))
	}
	return out, nil
}

func isWord(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
}
