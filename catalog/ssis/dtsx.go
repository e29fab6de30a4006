package ssis

import (
	"fmt"
	"strconv"
	"strings"
)

// Protection levels of a package or project.
var protectionLevels = map[string]string{
	"0": "DontSaveSensitive", "1": "EncryptSensitiveWithUserKey", "2": "EncryptSensitiveWithPassword",
	"3": "EncryptAllWithPassword", "4": "EncryptAllWithUserKey", "5": "ServerStorage",
}

// ParsePackage reads one .dtsx file; file names it in messages.
func ParsePackage(file string, data []byte) (*Package, error) {
	root, err := parseXML(file, decodeText(data))
	if err != nil {
		return nil, err
	}
	if root.Name.Local != "Executable" || root.Name.Space != DTS {
		return nil, fmt.Errorf("%s:%d: root element is <%s>, not <DTS:Executable> (not an SSIS package)", file, root.Line, root.qname())
	}
	p := &Package{File: file, Name: root.get("ObjectName"), EntryPoint: true}
	if v := root.get("PackageFormatVersion"); v != "" {
		p.FormatVersion, _ = strconv.Atoi(strings.TrimSpace(v))
	}
	switch p.FormatVersion {
	case 3, 6, 8:
	case 0:
		return nil, fmt.Errorf("%s:%d: package has no PackageFormatVersion property", file, root.Line)
	default:
		return nil, fmt.Errorf("%s:%d: PackageFormatVersion %d is not supported (want 8, 6 or 3)", file, root.Line, p.FormatVersion)
	}
	pl, ok := root.attr("ProtectionLevel")
	if !ok {
		pl = "1" // the default, not written by the designer
	}
	p.ProtectionLevel = protectionLevels[pl]
	if p.ProtectionLevel == "" {
		p.ProtectionLevel = pl
	}
	if enc := root.child("EncryptedData"); enc != nil || pl == "3" || pl == "4" {
		return nil, fmt.Errorf("%s:%d: package %q is encrypted as a whole (%s): it cannot be read without the key; save it with DontSaveSensitive or EncryptSensitiveWith... and supply the secrets with --param/--connection", file, root.Line, p.Name, p.ProtectionLevel)
	}
	if p.Name == "" {
		return nil, fmt.Errorf("%s:%d: package has no ObjectName", file, root.Line)
	}
	r := &dtsxReader{file: file, pkg: p, byRef: map[string]string{}, byID: map[string]string{}}
	for _, cm := range items(root, "ConnectionManagers", "ConnectionManager") {
		c, err := parseConnectionManager(file, cm)
		if err != nil {
			return nil, err
		}
		p.Connections = append(p.Connections, c)
	}
	for _, pp := range root.path("PackageParameters", "PackageParameter") {
		prm := parsePackageParam(pp)
		if prm.enc != nil {
			prm.where = fmt.Sprintf("%s:%d", file, prm.enc.Line)
		}
		p.Params = append(p.Params, prm)
	}
	for _, c := range root.path("Configurations", "Configuration") {
		p.Configurations = append(p.Configurations, &Configuration{
			Name: c.get("ObjectName"), Type: c.get("ConfigurationType"),
			String: c.get("ConfigurationString"), Target: c.get("ConfigurationVariable"),
		})
	}
	p.Root, err = r.executable(root, "", true)
	if err != nil {
		return nil, err
	}
	return p, nil
}

type dtsxReader struct {
	file  string
	pkg   *Package
	byRef map[string]string // refId -> SSIS path
	byID  map[string]string // DTSID -> SSIS path
	count int
}

// normaliseCreation maps the creation names of formats 3 and 6 (ProgIDs
// and assembly-qualified names) onto those of format 8.
func normaliseCreation(raw string) string {
	s := strings.TrimSpace(raw)
	u := strings.ToUpper(s)
	if strings.HasPrefix(u, "STOCK:") {
		return u
	}
	switch {
	case u == "MICROSOFT.PACKAGE" || strings.HasPrefix(u, "SSIS.PACKAGE.") || strings.HasPrefix(u, "MSDTS.PACKAGE."):
		return "Microsoft.Package"
	}
	for _, m := range []struct{ sub, name string }{
		{"EXECUTESQLTASK", "Microsoft.ExecuteSQLTask"},
		{"EXECUTEPROCESS", "Microsoft.ExecuteProcess"},
		{"FILESYSTEMTASK", "Microsoft.FileSystemTask"},
		{"EXPRESSIONTASK", "Microsoft.ExpressionTask"},
		{"SCRIPTTASK", "Microsoft.ScriptTask"},
		{"EXECUTEPACKAGETASK", "Microsoft.ExecutePackageTask"},
		{"SENDMAILTASK", "Microsoft.SendMailTask"},
		{"BULKINSERTTASK", "Microsoft.BulkInsertTask"},
		{"FTPTASK", "Microsoft.FtpTask"},
		{"PIPELINE", "Microsoft.Pipeline"},
		{"FOREACHFILEENUMERATOR", "Microsoft.ForEachFileEnumerator"},
		{"FOREACHITEMENUMERATOR", "Microsoft.ForEachItemEnumerator"},
		{"FOREACHADOENUMERATOR", "Microsoft.ForEachADOEnumerator"},
		{"FOREACHFROMVARIABLEENUMERATOR", "Microsoft.ForEachFromVariableEnumerator"},
	} {
		if strings.Contains(strings.ReplaceAll(u, ".", ""), m.sub) {
			return m.name
		}
	}
	return s
}

func atoiDefault(s string, def int) int {
	if n, err := strconv.Atoi(strings.TrimSpace(s)); err == nil {
		return n
	}
	return def
}

func isTrue(s string) bool {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "1", "-1":
		return true
	}
	return false
}

// executable reads a DTS:Executable element (or the package root).
func (r *dtsxReader) executable(n *Node, parent string, isRoot bool) (*Executable, error) {
	r.count++
	e := &Executable{Name: n.get("ObjectName"), DTSID: n.get("DTSID"), Line: n.Line, Attr: map[string]string{}}
	e.RawCreation = n.get("CreationName")
	if e.RawCreation == "" {
		e.RawCreation = n.get("ExecutableType")
	}
	e.CreationName = normaliseCreation(e.RawCreation)
	if e.Name == "" {
		return nil, fmt.Errorf("%s:%d: executable under %s has no ObjectName", r.file, n.Line, parentOr(parent))
	}
	e.Path = parent + `\` + e.Name
	if isRoot {
		e.Path = `\Package`
	}
	for _, a := range n.Attr {
		e.Attr[a.Name.Local] = a.Value
	}
	for _, c := range n.all("Property") {
		if name, _ := c.attrOnly("Name"); name != "" {
			e.Attr[name] = c.Text
		}
	}
	e.Description = e.Attr["Description"]
	e.Disabled = isTrue(e.Attr["Disabled"])
	e.MaximumErrorCount = atoiDefault(e.Attr["MaxErrorCount"], 1)
	e.FailPackageOnFailure = isTrue(e.Attr["FailPackageOnFailure"])
	e.FailParentOnFailure = isTrue(e.Attr["FailParentOnFailure"])
	e.ForceExecutionResult = atoiDefault(e.Attr["ForceExecutionResult"], -1)
	if ref := n.get("refId"); ref != "" {
		r.byRef[ref] = e.Path
	}
	if e.DTSID != "" {
		r.byID[strings.ToUpper(e.DTSID)] = e.Path
	}
	e.Expressions = map[string]string{}
	for _, pe := range n.all("PropertyExpression") {
		e.Expressions[pe.get("Name")] = strings.TrimSpace(pe.Text)
	}
	for _, v := range items(n, "Variables", "Variable") {
		e.Variables = append(e.Variables, parseVariable(v))
	}
	if od := n.child("ObjectData"); od != nil && len(od.Children) > 0 {
		e.Data = od.Children[0]
	}
	if e.CreationName == "STOCK:FOREACHLOOP" {
		if en := n.child("ForEachEnumerator"); en != nil {
			e.Enumerator = &Enumerator{CreationName: normaliseCreation(en.get("CreationName")), Expressions: map[string]string{}}
			if od := en.child("ObjectData"); od != nil && len(od.Children) > 0 {
				e.Enumerator.Data = od.Children[0]
			}
			for _, pe := range en.all("PropertyExpression") {
				e.Enumerator.Expressions[pe.get("Name")] = strings.TrimSpace(pe.Text)
			}
		}
		for _, m := range n.path("ForEachVariableMappings", "ForEachVariableMapping") {
			e.VarMappings = append(e.VarMappings, VarMapping{Index: atoiDefault(m.get("ValueIndex"), 0), Variable: m.get("VariableName")})
		}
	}
	if e.CreationName == "Microsoft.Pipeline" && e.Data != nil {
		pl, err := r.pipeline(e, e.Data)
		if err != nil {
			return nil, err
		}
		e.Pipeline = pl
	}
	seen := map[string]int{}
	for _, c := range items(n, "Executables", "Executable") {
		child, err := r.executable(c, e.Path, false)
		if err != nil {
			return nil, err
		}
		if l, dup := seen[child.Name]; dup {
			return nil, fmt.Errorf("%s:%d: %s holds two executables named %q (lines %d and %d)", r.file, c.Line, e.Path, child.Name, l, c.Line)
		}
		seen[child.Name] = c.Line
		e.Children = append(e.Children, child)
	}
	for _, h := range n.path("EventHandlers", "EventHandler") {
		name := h.get("EventName")
		if name == "" {
			name = h.get("ObjectName")
		}
		he := &Executable{Name: name, Path: e.Path + `.EventHandlers[` + name + `]`, CreationName: "EventHandler", Line: h.Line, Attr: map[string]string{}, MaximumErrorCount: 1, ForceExecutionResult: -1}
		if ref := h.get("refId"); ref != "" {
			r.byRef[ref] = he.Path
		}
		for _, v := range items(h, "Variables", "Variable") {
			he.Variables = append(he.Variables, parseVariable(v))
		}
		for _, c := range items(h, "Executables", "Executable") {
			child, err := r.executable(c, he.Path, false)
			if err != nil {
				return nil, err
			}
			he.Children = append(he.Children, child)
		}
		for _, pc := range items(h, "PrecedenceConstraints", "PrecedenceConstraint") {
			c, err := r.constraint(pc, he)
			if err != nil {
				return nil, err
			}
			he.Constraints = append(he.Constraints, c)
		}
		e.EventHandlers = append(e.EventHandlers, he)
	}
	for _, pc := range items(n, "PrecedenceConstraints", "PrecedenceConstraint") {
		c, err := r.constraint(pc, e)
		if err != nil {
			return nil, err
		}
		e.Constraints = append(e.Constraints, c)
	}
	return e, nil
}

func parentOr(p string) string {
	if p == "" {
		return "the package"
	}
	return p
}

// constraint reads a precedence constraint of container e. Formats 6 and 8
// name the ends by refId (From, To); format 3 by DTSID in child
// <DTS:Executable IDREF=... DTS:IsFrom=...> elements.
func (r *dtsxReader) constraint(n *Node, e *Executable) (*Constraint, error) {
	c := &Constraint{Name: n.get("ObjectName"), Line: n.Line}
	c.Value = atoiDefault(n.get("Value"), 0)
	c.EvalOp = atoiDefault(n.get("EvalOp"), 1)
	c.Expression = n.get("Expression")
	la, ok := n.attr("LogicalAnd")
	c.LogicalAnd = !ok || isTrue(la)
	resolve := func(ref string) string {
		if p, ok := r.byRef[ref]; ok {
			return p
		}
		if p, ok := r.byID[strings.ToUpper(ref)]; ok {
			return p
		}
		return ""
	}
	if from, ok := n.attrOnly("From"); ok {
		c.From = resolve(from)
		to, _ := n.attrOnly("To")
		c.To = resolve(to)
		if c.From == "" || c.To == "" {
			return nil, fmt.Errorf("%s:%d: precedence constraint %q in %s joins %s and %s, which are not executables of that container", r.file, n.Line, c.Name, e.Path, from, to)
		}
	} else {
		for _, x := range n.all("Executable") {
			id, _ := x.attrOnly("IDREF")
			if isTrue(x.get("IsFrom")) {
				c.From = resolve(id)
			} else {
				c.To = resolve(id)
			}
		}
		if c.From == "" || c.To == "" {
			return nil, fmt.Errorf("%s:%d: precedence constraint %q in %s: cannot find the executables it joins", r.file, n.Line, c.Name, e.Path)
		}
	}
	if !strings.HasPrefix(c.From, e.Path+`\`) || !strings.HasPrefix(c.To, e.Path+`\`) {
		return nil, fmt.Errorf("%s:%d: precedence constraint %q in %s joins %s and %s, which are not both in that container", r.file, n.Line, c.Name, e.Path, c.From, c.To)
	}
	return c, nil
}

func parseVariable(n *Node) *Variable {
	v := &Variable{Namespace: n.get("Namespace"), Name: n.get("ObjectName"), ReadOnly: isTrue(n.get("ReadOnly")), RaiseChangedEvent: isTrue(n.get("RaiseChangedEvent"))}
	if v.Namespace == "" {
		v.Namespace = "User"
	}
	if isTrue(n.get("EvaluateAsExpression")) {
		v.Expression = n.get("Expression")
	}
	if vv := n.child("VariableValue"); vv != nil {
		v.DataType = atoiDefault(vv.get("DataType"), 8)
		v.Value = vv.Text
	}
	return v
}

func parsePackageParam(n *Node) *Parameter {
	p := &Parameter{Name: n.get("ObjectName"), DataType: atoiDefault(n.get("DataType"), 18),
		Sensitive: isTrue(n.get("Sensitive")), Required: isTrue(n.get("Required")), Description: n.get("Description")}
	for _, c := range n.all("Property") {
		if name, _ := c.attrOnly("Name"); name == "ParameterValue" {
			p.Value, p.HasValue = c.Text, true
			if isTrue(c.get("Encrypted")) {
				p.Encrypted, p.HasValue, p.Value = true, false, ""
				p.enc = c
			}
		}
	}
	return p
}

// parseConnectionManager reads a package's DTS:ConnectionManager or the
// root of a .conmgr file.
func parseConnectionManager(file string, n *Node) (*ConnectionManager, error) {
	c := &ConnectionManager{Name: n.get("ObjectName"), CreationName: n.get("CreationName"), DTSID: n.get("DTSID"), RefID: n.get("refId"), Line: n.Line, Expressions: map[string]string{}}
	if c.Name == "" {
		return nil, fmt.Errorf("%s:%d: connection manager has no ObjectName", file, n.Line)
	}
	for _, pe := range n.all("PropertyExpression") {
		c.Expressions[pe.get("Name")] = strings.TrimSpace(pe.Text)
	}
	inner := n.child("ObjectData")
	if inner != nil {
		inner = inner.child("ConnectionManager")
	}
	if inner == nil {
		// The SMTP connection manager keeps its connection string in
		// <SmtpConnectionManager ConnectionString="SmtpServer=...;...">.
		if od := n.child("ObjectData"); od != nil {
			if smtp := od.child("SmtpConnectionManager"); smtp != nil {
				c.ConnectionString = smtp.get("ConnectionString")
			}
		}
		return c, nil // others keep their data elsewhere; the converter reports them
	}
	c.ConnectionString = inner.get("ConnectionString")
	c.FileUsage = inner.get("FileUsageType")
	c.file = file
	for _, pw := range inner.all("Password") {
		if isTrue(pw.get("Sensitive")) || isTrue(pw.get("Encrypted")) {
			c.Sensitive = true
		}
		if isTrue(pw.get("Encrypted")) {
			c.encPW = append(c.encPW, pw)
		}
	}
	// EncryptSensitiveWithPassword may put the encrypted password element
	// in place of DTS:Password.
	for _, ed := range inner.all("EncryptedData") {
		c.Sensitive = true
		c.encPW = append(c.encPW, ed)
	}
	if strings.EqualFold(c.CreationName, "FLATFILE") {
		f := &FlatFile{Format: inner.get("Format"), HeaderRowsToSkip: atoiDefault(inner.get("HeaderRowsToSkip"), 0),
			ColumnNamesInFirstDataRow: isTrue(inner.get("ColumnNamesInFirstDataRow")),
			TextQualifier:             unescapeSSIS(inner.get("TextQualifier")), CodePage: atoiDefault(inner.get("CodePage"), 1252),
			Unicode: isTrue(inner.get("Unicode")), HeaderRowDelimiter: unescapeSSIS(inner.get("HeaderRowDelimiter"))}
		if f.Format == "" {
			f.Format = "Delimited"
		}
		if strings.EqualFold(f.TextQualifier, "<none>") {
			f.TextQualifier = ""
		}
		// Format 3 has no FlatFileColumns wrapper.
		for _, col := range items(inner, "FlatFileColumns", "FlatFileColumn") {
			f.Columns = append(f.Columns, &FlatFileColumn{
				Name: col.get("ObjectName"), DataType: atoiDefault(col.get("DataType"), 129),
				Delimiter: unescapeSSIS(col.get("ColumnDelimiter")), Width: atoiDefault(col.get("ColumnWidth"), 0),
				MaxWidth: atoiDefault(col.get("MaximumWidth"), 0), Precision: atoiDefault(col.get("DataPrecision"), 0),
				Scale: atoiDefault(col.get("DataScale"), 0), TextQualified: isTrue(col.get("TextQualified")),
			})
		}
		c.FlatFile = f
	}
	return c, nil
}

// ParseConnectionManager reads a project connection manager (.conmgr).
func ParseConnectionManager(file string, data []byte) (*ConnectionManager, error) {
	root, err := parseXML(file, decodeText(data))
	if err != nil {
		return nil, err
	}
	if root.Name.Local != "ConnectionManager" {
		return nil, fmt.Errorf("%s:%d: root element is <%s>, not <DTS:ConnectionManager>", file, root.Line, root.qname())
	}
	c, err := parseConnectionManager(file, root)
	if err != nil {
		return nil, err
	}
	c.Project = true
	return c, nil
}

// items returns the <item> elements of n: inside their <wrapper> element
// (formats 6 and 8) or, in format 3, directly under n.
func items(n *Node, wrapper, item string) []*Node {
	return append(n.path(wrapper, item), n.all(item)...)
}
