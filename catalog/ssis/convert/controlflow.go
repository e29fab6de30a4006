package convert

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/scaleout/scaleout/catalog/ssis"
)

// list converts the executables of container e and the precedence
// constraints between them.
func (pc *pkgConv) list(e *ssis.Executable) []any {
	names := map[string]string{}
	for _, ch := range e.Children {
		names[ch.Path] = pc.tasks.take(taskName(ch.Name))
	}
	// Constraints by target, in file order.
	type after struct {
		entries []any
		or      bool
		bad     string // why the constraints cannot be expressed
	}
	afters := map[string]*after{}
	for _, c := range e.Constraints {
		a := afters[c.To]
		if a == nil {
			a = &after{}
			afters[c.To] = a
		}
		if !c.LogicalAnd {
			a.or = true
		}
		on := map[int]string{0: "success", 1: "failure", 2: "completion"}[c.Value]
		if on == "" {
			a.bad = fmt.Sprintf("precedence constraint %q has value %d (want 0 success, 1 failure, 2 completion)", c.Name, c.Value)
			continue
		}
		entry := omap{{"task", names[c.From]}}
		switch c.EvalOp {
		case 1:
			if on == "success" {
				a.entries = append(a.entries, names[c.From])
				continue
			}
			entry.set("on", on)
		case 2, 3:
			if !pc.ssisMode {
				a.bad = fmt.Sprintf("precedence constraint %q from %s has the expression %q: %s", c.Name, c.From, c.Expression, needExpr)
				continue
			}
			if c.EvalOp == 2 {
				on = "completion"
			}
			if on != "success" {
				entry.set("on", on)
			}
			entry.set("when", c.Expression)
		default:
			a.bad = fmt.Sprintf("precedence constraint %q from %s is 'expression or constraint' (EvalOp %d), which scaleout's constraints cannot express", c.Name, c.From, c.EvalOp)
			continue
		}
		a.entries = append(a.entries, entry)
	}
	var out []any
	for _, ch := range e.Children {
		head := omap{{"name", names[ch.Path]}, {"description", "SSIS " + ch.Path + " (" + ch.CreationName + ")"}}
		if a := afters[ch.Path]; a != nil {
			if len(a.entries) > 0 {
				head.set("after", a.entries)
			}
			if a.or && len(a.entries) > 1 {
				head.set("join", "or")
			}
			if a.bad != "" {
				out = append(out, pc.unsupportedTask(ch.Path, ch.CreationName, a.bad, head))
				continue
			}
		}
		t := pc.task(ch, head)
		if hs := pc.handlers(ch); len(hs) > 0 {
			t = append(t, kv{"handlers", hs})
		}
		out = append(out, t)
	}
	if e.MaximumErrorCount == 0 {
		pc.warn("%s has MaximumErrorCount 0: scaleout fails a container at its first unhandled task failure", e.Path)
	}
	failParent := map[string]bool{}
	for _, ch := range e.Children {
		failParent[ch.Path] = ch.FailParentOnFailure || ch.FailPackageOnFailure
	}
	for _, c := range e.Constraints {
		// A failure of a task with fail_parent or fail_package fails the
		// container (or the package) in scaleout too.
		if c.Value == 1 && e.MaximumErrorCount <= 1 && !failParent[c.From] {
			pc.warn("%s: a failure constraint from %s handles the failure in scaleout (the container succeeds if the handler does); SSIS still counts the error against MaximumErrorCount %d and fails %s", e.Path, c.From, e.MaximumErrorCount, e.Path)
			break
		}
	}
	return out
}

// task converts one executable; head holds its name, description and
// constraints.
func (pc *pkgConv) task(e *ssis.Executable, head omap) omap {
	if body, ok, err := pc.substitute(e.Path); ok {
		if err != nil {
			return pc.unsupportedTask(e.Path, e.CreationName, err.Error(), head)
		}
		pc.converted(e.Path, e.CreationName, "substituted with the native task given by --substitute")
		// The body's own fields (a description, say) win over the head's.
		var kept omap
		for _, f := range head {
			if !hasKey(body, f.k) {
				kept = append(kept, f)
			}
		}
		return append(kept, body...)
	}
	if e.Disabled {
		pc.noop = true
		val := "true"
		if pc.ssisMode {
			val = "TRUE"
		}
		pc.converted(e.Path, e.CreationName, "disabled: a no-op that succeeds, as SSIS treats a disabled task")
		return append(head, kv{"set", omap{{noopVar, val}}})
	}
	switch e.ForceExecutionResult {
	case -1:
	case 0:
		head = append(head, kv{"force_result", "success"})
	case 1:
		head = append(head, kv{"force_result", "failure"})
	default: // 2, Completion: neither outcome of a native task
		return pc.unsupportedTask(e.Path, e.CreationName, fmt.Sprintf("ForceExecutionResult %d (Completion) cannot be expressed: force_result is success or failure", e.ForceExecutionResult), head)
	}
	if e.FailParentOnFailure {
		head = append(head, kv{"fail_parent", true})
	}
	if e.FailPackageOnFailure {
		head = append(head, kv{"fail_package", true})
	}
	if err := pc.checkPropertyExpressions(e); err != nil {
		return pc.unsupportedTask(e.Path, e.CreationName, err.Error(), head)
	}
	var body omap
	var err error
	note := ""
	switch e.CreationName {
	case "Microsoft.ExecuteSQLTask":
		body, note, err = pc.executeSQL(e)
	case "Microsoft.ExecuteProcess":
		body, note, err = pc.executeProcess(e, &head)
	case "Microsoft.FileSystemTask":
		body, note, err = pc.fileSystem(e)
	case "Microsoft.ExpressionTask":
		body, note, err = pc.expressionTask(e)
	case "Microsoft.SendMailTask":
		body, note, err = pc.sendMail(e)
	case "Microsoft.BulkInsertTask":
		body, note, err = pc.bulkInsert(e)
	case "Microsoft.ExecutePackageTask":
		body, note, err = pc.executePackage(e)
	case "STOCK:SEQUENCE", "STOCK:FORLOOP", "STOCK:FOREACHLOOP":
		return pc.container(e, head)
	case "Microsoft.Pipeline":
		body, note, err = pc.dataFlow(e)
	case "Microsoft.FtpTask":
		err = pc.ftpReport(e)
	case "Microsoft.ScriptTask":
		err = fmt.Errorf("a Script Task needs .NET; rewrite it as a native task and give it with --substitute '%s=FILE.yaml' (docs/import.md has recipes)", e.Path)
	default:
		err = fmt.Errorf("%s is not converted", e.CreationName)
	}
	if err != nil {
		return pc.unsupportedTask(e.Path, e.CreationName, err.Error(), head)
	}
	pc.converted(e.Path, e.CreationName, note)
	return append(head, body...)
}

// container converts a Sequence, For Loop or Foreach Loop.
func (pc *pkgConv) container(e *ssis.Executable, head omap) omap {
	vars := pc.variables(e)
	if len(e.Children) == 0 {
		pc.converted(e.Path, e.CreationName, "empty container: a no-op")
		pc.noop = true
		val := "true"
		if pc.ssisMode {
			val = "TRUE"
		}
		return append(head, kv{"set", omap{{noopVar, val}}})
	}
	switch e.CreationName {
	case "STOCK:SEQUENCE":
		body := omap{}
		if len(vars) > 0 {
			body.set("variables", vars)
		}
		body.set("tasks", pc.list(e))
		setMaxErrors(&body, e)
		pc.converted(e.Path, e.CreationName, "sequence")
		return append(head, kv{"sequence", body})
	case "STOCK:FORLOOP":
		if !pc.ssisMode {
			return pc.unsupportedTask(e.Path, e.CreationName, "a For Loop's init, eval and assign are SSIS expressions: "+needExpr, head)
		}
		body := omap{}
		init, err := assignments(e.Attr["InitExpression"])
		if err == nil {
			var step omap
			step, err = assignments(e.Attr["AssignExpression"])
			if err == nil {
				if len(init) > 0 {
					body.set("init", init)
				}
				body.set("condition", e.Attr["EvalExpression"])
				if len(step) > 0 {
					body.set("step", step)
				}
			}
		}
		if err != nil {
			return pc.unsupportedTask(e.Path, e.CreationName, err.Error(), head)
		}
		if strings.TrimSpace(e.Attr["EvalExpression"]) == "" {
			return pc.unsupportedTask(e.Path, e.CreationName, "the For Loop has no EvalExpression (it would never end)", head)
		}
		if len(vars) > 0 {
			body.set("variables", vars)
		}
		body.set("tasks", pc.list(e))
		setMaxErrors(&body, e)
		pc.converted(e.Path, e.CreationName, "for")
		return append(head, kv{"for", body})
	}
	body, err := pc.foreach(e)
	if err != nil {
		return pc.unsupportedTask(e.Path, e.CreationName, err.Error(), head)
	}
	if len(vars) > 0 {
		// Container variables go first.
		body = append(omap{{"variables", vars}}, body...)
	}
	pc.converted(e.Path, e.CreationName+" with "+e.Enumerator.CreationName, "foreach")
	return append(head, kv{"foreach", body})
}

// assignments splits "@[User::a] = 0, @[User::b] = 1" (SSIS allows one
// assignment per expression in the designer; several separated by
// commas are not valid SSIS) into the native map of variable to
// expression, the variable named by its native name.
func assignments(s string) (omap, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	lhs, rhs, ok := splitAssignment(s)
	if !ok {
		return nil, fmt.Errorf("%q is not an assignment @[User::X] = expression", s)
	}
	m := varRefRE.FindStringSubmatch(lhs)
	if m == nil || !strings.EqualFold(m[1], "User") {
		return nil, fmt.Errorf("%q does not assign a User variable", s)
	}
	return omap{{identifier(m[2]), rhs}}, nil
}

// splitAssignment splits at the first "=" outside quotes and brackets that
// is not part of ==, !=, <=, >=.
func splitAssignment(s string) (string, string, bool) {
	inStr, depth := false, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' && (i == 0 || s[i-1] != '\\'):
			inStr = !inStr
		case inStr:
		case c == '[':
			depth++
		case c == ']':
			depth--
		case c == '=' && depth == 0:
			if i+1 < len(s) && s[i+1] == '=' {
				i++
				continue
			}
			if i > 0 && strings.ContainsRune("!<>=", rune(s[i-1])) {
				continue
			}
			return strings.TrimSpace(s[:i]), strings.TrimSpace(s[i+1:]), true
		}
	}
	return "", "", false
}

// foreach converts a Foreach Loop's enumerator and variable mappings.
func (pc *pkgConv) foreach(e *ssis.Executable) (omap, error) {
	en := e.Enumerator
	if en == nil {
		return nil, fmt.Errorf("the Foreach Loop has no enumerator")
	}
	if len(en.Expressions) > 0 {
		return nil, fmt.Errorf("property expressions on the enumerator are not converted")
	}
	itemVar := pc.varNames.take(identifier(e.Name + "_item"))
	body := omap{{"var", itemVar}}
	// extract builds the value the mapping of index i assigns from the item.
	var extract func(i int) (string, error)
	switch en.CreationName {
	case "Microsoft.ForEachFileEnumerator":
		props := map[string]string{}
		if en.Data != nil {
			for _, p := range en.Data.All("FEFEProperty") {
				for _, a := range p.Attr {
					props[a.Name.Local] = a.Value
				}
			}
		}
		folder, spec := props["Folder"], props["FileSpec"]
		if folder == "" {
			return nil, fmt.Errorf("the file enumerator has no Folder")
		}
		if spec == "" {
			spec = "*.*"
		}
		if props["Recurse"] == "1" || strings.EqualFold(props["Recurse"], "true") {
			return nil, fmt.Errorf("the file enumerator traverses subfolders, which a scaleout foreach does not")
		}
		if spec == "*.*" {
			spec = "*"
		}
		body.set("files", strings.TrimRight(pc.filePathOf(folder, true), "/")+"/"+spec)
		retrieval := props["FileNameRetrievalType"]
		extract = func(int) (string, error) {
			item := "vars." + itemVar
			if pc.ssisMode {
				item = "@[User::" + itemVar + "]"
			}
			switch retrieval {
			case "", "0":
				return item, nil
			case "1":
				if pc.ssisMode {
					return fmt.Sprintf(`TOKEN(%s, "/\\", TOKENCOUNT(%s, "/\\"))`, item, item), nil
				}
				return "basename(" + item + ")", nil
			case "2":
				if pc.ssisMode {
					return ssisStem(item), nil
				}
				return "stem(" + item + ")", nil
			}
			return "", fmt.Errorf("file name retrieval type %q is unknown", retrieval)
		}
	case "Microsoft.ForEachItemEnumerator":
		var items []any
		cols := 0
		if en.Data != nil {
			for _, it := range en.Data.All("FEIEItem") {
				vals := it.All("FEIEItemValue")
				if len(vals) != 1 {
					cols = max(cols, len(vals))
				}
				if len(vals) > 0 {
					v := vals[0].Text
					if a, ok := vals[0].Attr1("Value"); ok {
						v = a
					}
					items = append(items, v)
				}
			}
		}
		if cols > 1 {
			return nil, fmt.Errorf("the item enumerator has %d columns; scaleout items have one", cols)
		}
		body.set("items", items)
		extract = func(i int) (string, error) {
			if i != 0 {
				return "", fmt.Errorf("value index %d: the items have one column", i)
			}
			if pc.ssisMode {
				return "@[User::" + itemVar + "]", nil
			}
			return "vars." + itemVar, nil
		}
	case "Microsoft.ForEachFromVariableEnumerator", "Microsoft.ForEachADOEnumerator":
		attr := "VariableName"
		el := "FEFVE"
		if en.CreationName == "Microsoft.ForEachADOEnumerator" {
			attr, el = "VarName", "FEEADO"
		}
		var src string
		if en.Data != nil {
			if d := en.Data; strings.EqualFold(d.Local(), el) {
				src, _ = d.Attr1(attr)
			} else if c := d.Child(el); c != nil {
				src, _ = c.Attr1(attr)
			}
		}
		if src == "" {
			return nil, fmt.Errorf("the enumerator names no variable")
		}
		if pc.ssisMode {
			return nil, fmt.Errorf("enumerating a variable's rows needs native expressions (the package uses SSIS expressions)")
		}
		r, err := pc.ref(src)
		if err != nil {
			return nil, err
		}
		body.set("in", r)
		extract = func(i int) (string, error) {
			if en.CreationName == "Microsoft.ForEachFromVariableEnumerator" {
				if i != 0 {
					return "", fmt.Errorf("value index %d of a variable enumerator", i)
				}
				return "vars." + itemVar, nil
			}
			col, err := pc.rowsetColumn(src, i)
			if err != nil {
				return "", err
			}
			return "vars." + itemVar + "[" + strconv.Quote(col) + "]", nil
		}
	default:
		return nil, fmt.Errorf("enumerator %s is not converted", en.CreationName)
	}
	var sets omap
	for _, m := range e.VarMappings {
		target, err := pc.assignTarget(m.Variable)
		if err != nil {
			return nil, err
		}
		x, err := extract(m.Index)
		if err != nil {
			return nil, err
		}
		sets.set(target, x)
	}
	tasks := pc.list(e)
	if len(sets) > 0 {
		setName := pc.tasks.take(taskName(e.Name + " variable mappings"))
		for i, t := range tasks {
			t := t.(omap)
			if !hasKey(t, "after") {
				t2 := append(omap{}, t[:2]...) // name and description
				t2 = append(t2, kv{"after", []any{setName}})
				tasks[i] = append(t2, t[2:]...)
			}
		}
		tasks = append([]any{omap{{"name", setName}, {"description", "the Foreach Loop's variable mappings"}, {"set", sets}}}, tasks...)
	}
	body.set("tasks", tasks)
	setMaxErrors(&body, e)
	return body, nil
}

// ssisStem is the SSIS expression of the file name of path without its
// last extension (a Foreach File enumerator's "name only"): the last
// token after / or \, then, if it has a dot, what comes before the last
// one. (TOKEN skips repeated delimiters, so "a..csv" gives "a." as .NET's
// GetFileNameWithoutExtension does.)
func ssisStem(path string) string {
	base := fmt.Sprintf(`TOKEN(%s, "/\\", TOKENCOUNT(%s, "/\\"))`, path, path)
	return fmt.Sprintf(`TOKENCOUNT(%[1]s, ".") < 2 ? %[1]s : LEFT(%[1]s, LEN(%[1]s) - LEN(TOKEN(%[1]s, ".", TOKENCOUNT(%[1]s, "."))) - 1)`, base)
}

// setMaxErrors carries a MaximumErrorCount over 1 into a container body
// or the package (max_errors).
func setMaxErrors(body *omap, e *ssis.Executable) {
	if e.MaximumErrorCount > 1 {
		body.set("max_errors", e.MaximumErrorCount)
	}
}

func hasKey(m omap, k string) bool {
	for _, e := range m {
		if e.k == k {
			return true
		}
	}
	return false
}
