package convert

import (
	"errors"
	"fmt"
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/scaleout/scaleout/catalog/pkgspec"
	"github.com/scaleout/scaleout/catalog/ssis"
	"go.yaml.in/yaml/v3"
)

// pkgConv converts one package.
type pkgConv struct {
	c     *converter
	p     *ssis.Package
	rep   *PackageReport
	tasks *unique
	// vars maps "user::x" (lower case) to the native variable name.
	vars     map[string]string
	varNames *unique
	// params maps a package parameter's SSIS name to its native name.
	params   map[string]string
	ssisMode bool // the package is written with expressions: ssis
	noop     bool // the package needs the ssis_noop variable
	// pkgUnsupported are package-level elements that keep it from
	// starting (variables evaluated as expressions without SSIS
	// expressions, ...): each becomes an unsupported task.
	pkgUnsupported []omap
	// paths are the absolute directories the package's file operations
	// name (for allow_paths).
	paths []string
	// handlerDepth is above 0 while an event handler's tasks convert.
	handlerDepth int
}

// noopVar is the variable the no-op tasks (disabled tasks, empty
// containers) assign.
const noopVar = "ssis_noop"

func newPkgConv(c *converter, p *ssis.Package, name string) *pkgConv {
	return &pkgConv{c: c, p: p, tasks: newUnique(false), vars: map[string]string{}, varNames: newUnique(true), params: map[string]string{},
		rep: &PackageReport{Name: name, File: "packages/" + name + ".yaml", Source: p.File, Format: p.FormatVersion}}
}

func (pc *pkgConv) converted(path, typ, note string) {
	pc.rep.Converted = append(pc.rep.Converted, Item{path, typ, note})
}

func (pc *pkgConv) notConverted(path, typ, note string) {
	pc.rep.NotConverted = append(pc.rep.NotConverted, Item{path, typ, note})
}

func (pc *pkgConv) warn(format string, args ...any) {
	pc.rep.Warnings = append(pc.rep.Warnings, fmt.Sprintf(format, args...))
}

// convert returns the native package file.
func (pc *pkgConv) convert() ([]byte, error) {
	pc.c.curSecrets, pc.c.curPkg = &pc.rep.Secrets, pc.rep.Name
	defer func() { pc.c.curSecrets, pc.c.curPkg = nil, "" }()
	pc.ssisMode = SSISExpressionsSupported && usesExpressions(pc.p.Root)
	pc.rep.SSISExpressions = pc.ssisMode
	out := omap{{"name", pc.rep.Name}}
	out.set("description", fmt.Sprintf("converted from %s (SSIS package %q, format %d)", pc.p.File, pc.p.Name, pc.p.FormatVersion))
	if pc.ssisMode {
		out.set("expressions", "ssis")
	}
	if !pc.p.EntryPoint {
		out.set("entry_point", false)
	}
	var params omap
	names := newUnique(true)
	for _, pp := range pc.p.Params {
		pc.params[strings.ToLower(pp.Name)] = pc.c.param(&params, pp, "package "+pc.p.Name+" parameter", names)
	}
	for _, cm := range pc.p.Connections {
		ci := pc.c.connection(cm, pc.p.Name)
		switch {
		case ci.native != "":
			pc.converted(`\Package.ConnectionManagers[`+cm.Name+`]`, cm.CreationName, "connection "+ci.native+" in project.yaml")
		case ci.err != "":
			pc.notConverted(`\Package.ConnectionManagers[`+cm.Name+`]`, cm.CreationName, ci.err+" (tasks that use it are unsupported)")
		default:
			pc.converted(`\Package.ConnectionManagers[`+cm.Name+`]`, cm.CreationName, "used by path: "+cm.ConnectionString)
		}
	}
	vars := pc.variables(pc.p.Root)
	tasks := pc.list(pc.p.Root)
	for _, cfg := range pc.p.Configurations {
		if pc.configParam(cfg, vars, &params, names) {
			continue
		}
		kind := configKinds[cfg.Type]
		if kind == "" {
			kind = "type " + cfg.Type
		}
		what := kind + " " + cfg.String
		if cfg.Target != "" {
			what += " into " + cfg.Target
		}
		if cfg.FileErr != "" {
			what += ": " + cfg.FileErr
		}
		pc.notConverted(`\Package.Configurations[`+cfg.Name+`]`, "Configuration ("+kind+")", "old-style package configuration not applied ("+what+"); give the values as parameters (--param) or edit the package")
	}
	if len(params) > 0 {
		out.set("parameters", params)
	}
	handlers := pc.handlers(pc.p.Root)
	if pc.noop {
		vars = append(omap{{noopVar, omap{{"type", "bool"}, {"description", "assigned by the no-op tasks that stand for disabled tasks and empty containers"}}}}, vars...)
	}
	if len(pc.paths) > 0 {
		roots := allowRoots(pc.paths)
		out.set("allow_paths", roots)
		pc.warn("allow_paths %s added: the package's file operations use absolute paths there", strings.Join(roots, ", "))
	}
	if len(vars) > 0 {
		out.set("variables", vars)
	}
	if len(handlers) > 0 {
		out.set("handlers", handlers)
	}
	for _, u := range pc.pkgUnsupported {
		tasks = append(tasks, u)
	}
	if len(tasks) == 0 {
		pc.noop = true
		tasks = append(tasks, pc.noopTask("empty package", `\Package`))
		if len(vars) == 0 || vars[0].k != noopVar {
			out.set("variables", omap{{noopVar, omap{{"type", "bool"}}}})
		}
	}
	setMaxErrors(&out, pc.p.Root)
	out.set("tasks", tasks)
	src, err := marshal(out)
	if err != nil {
		return nil, err
	}
	parsed, err := pkgspec.Parse(pc.rep.File, src)
	if err != nil {
		var ve *pkgspec.ValidationError
		if errors.As(err, &ve) && len(pc.c.opts.Substitutes) > 0 {
			return nil, fmt.Errorf("package %s does not validate after --substitute:\n%w", pc.p.File, err)
		}
		return nil, fmt.Errorf("package %s: the conversion does not validate (a bug of the converter; please report it with the package):\n%w\n--- converted file:\n%s", pc.p.File, err, src)
	}
	pc.rep.Refuses = len(parsed.Unsupported()) > 0
	sortedItems(pc.rep.Converted)
	sortedItems(pc.rep.NotConverted)
	return src, nil
}

// usesExpressions reports whether the package's behaviour depends on SSIS
// expressions anywhere.
func usesExpressions(e *ssis.Executable) bool {
	// Property expressions call for it when they are converted (a task
	// with one on a property of no native counterpart is unsupported).
	if e.Attr["InitExpression"] != "" || e.Attr["EvalExpression"] != "" || e.Attr["AssignExpression"] != "" {
		return true
	}
	if e.CreationName == "Microsoft.ExpressionTask" || convertibleExpressions(e) {
		return true
	}
	for _, v := range e.Variables {
		if v.Expression != "" {
			return true
		}
	}
	for _, c := range e.Constraints {
		if c.EvalOp == 2 || c.EvalOp == 3 { // 4 (expression or constraint) is not converted
			return true
		}
	}
	if e.Enumerator != nil && len(e.Enumerator.Expressions) > 0 {
		return true
	}
	if e.Pipeline != nil {
		for _, comp := range e.Pipeline.Components {
			switch comp.ClassID {
			case "Microsoft.DerivedColumn", "Microsoft.ConditionalSplit":
				return true
			}
		}
	}
	for _, ch := range e.Children {
		if usesExpressions(ch) {
			return true
		}
	}
	return false
}

// variables declares the User variables of e's scope.
func (pc *pkgConv) variables(e *ssis.Executable) omap {
	var out omap
	for _, v := range e.Variables {
		if !strings.EqualFold(v.Namespace, "User") {
			pc.notConverted(e.Path+`.Variables[`+v.QualifiedName()+`]`, "Variable", "only User variables are converted (namespace "+v.Namespace+")")
			continue
		}
		key := strings.ToLower(v.QualifiedName())
		name, ok := pc.vars[key]
		if !ok {
			name = pc.varNames.take(identifier(v.Name))
			pc.vars[key] = name
		}
		typ := typeOfVarType(v.DataType)
		d := omap{{"type", typ}}
		where := e.Path + `.Variables[` + v.QualifiedName() + `]`
		switch {
		case v.Expression != "" && pc.ssisMode && expressionVarsSupported:
			d.set("expression", v.Expression)
			pc.converted(where, "Variable", "variable "+name+" (evaluated as an expression)")
		case v.Expression != "" && pc.ssisMode:
			d.set("value", "${"+v.Expression+"}")
			pc.warn("variable %s is evaluated from its expression once, when its scope starts; SSIS evaluates it at every read", v.QualifiedName())
			pc.converted(where, "Variable", "variable "+name+" (expression)")
		case v.Expression != "":
			head := omap{{"name", pc.tasks.take(taskName("variable " + v.Name))}}
			pc.pkgUnsupported = append(pc.pkgUnsupported, pc.unsupportedTask(where, "Variable (EvaluateAsExpression)", needExpr, head))
			if val, ok := nativeValue(typ, v.Value); ok && val != "" {
				d.set("value", val)
			}
		default:
			if val, ok := nativeValue(typ, v.Value); ok && val != "" {
				d.set("value", val)
			} else if !ok {
				pc.warn("variable %s: value %q is not a %s; it starts at the zero value", v.QualifiedName(), v.Value, typ)
			}
			pc.converted(where, "Variable", "variable "+name)
		}
		if v.RaiseChangedEvent {
			d.set("raise_changed_event", true)
		}
		out.set(name, d)
	}
	return out
}

// expressionVarsSupported reports whether this build's variables may be
// evaluated as expressions (expression:).
var expressionVarsSupported = func() bool {
	_, err := pkgspec.Parse("probe.yaml", []byte("name: p\nexpressions: ssis\nvariables: {a: {type: int, value: '1'}, b: {type: int, expression: '@[User::a] + 1'}}\ntasks:\n  - {name: t, exec: {command: [x]}}\n"))
	return err == nil
}()

const needExpr = "its behaviour is an SSIS expression, and this build has no SSIS expression language (expressions: ssis)"

var varRefRE = regexp.MustCompile(`^\s*(?:@\[)?\s*(\$?[A-Za-z_][A-Za-z0-9_ ]*)::([^\]]+?)\s*\]?\s*$`)

// ref turns a variable or parameter name (User::X, $Package::P,
// System::PackageName) into an expression of the package's dialect.
func (pc *pkgConv) ref(qualified string) (string, error) {
	m := varRefRE.FindStringSubmatch(qualified)
	if m == nil {
		return "", fmt.Errorf("%q is not a variable or parameter name", qualified)
	}
	ns, name := m[1], m[2]
	if pc.ssisMode {
		return "@[" + ns + "::" + name + "]", nil
	}
	switch strings.ToLower(ns) {
	case "user":
		if n, ok := pc.vars[strings.ToLower(ns+"::"+name)]; ok {
			return "vars." + n, nil
		}
		return "", fmt.Errorf("variable %s::%s is not declared", ns, name)
	case "$package":
		if n, ok := pc.params[strings.ToLower(name)]; ok {
			return "param." + n, nil
		}
		return "", fmt.Errorf("parameter $Package::%s is not declared", name)
	case "system":
		switch strings.ToLower(name) {
		case "packagename":
			return "sys.package", nil
		case "taskname":
			return "sys.task", nil
		case "starttime", "containerstarttime":
			return "sys.start_time", nil
		case "sourcename":
			return "sys.source_name", nil
		case "errorcode":
			return "sys.error_code", nil
		case "errordescription":
			return "sys.error_description", nil
		case "variablename":
			return "sys.variable_name", nil
		}
		return "", fmt.Errorf("system variable System::%s has no native equivalent", name)
	}
	return "", fmt.Errorf("%s::%s cannot be read by a package without SSIS expressions (project parameters reach packages only through connections)", ns, name)
}

// tpl is ref as a ${...} template.
func (pc *pkgConv) tpl(qualified string) (string, error) {
	r, err := pc.ref(qualified)
	if err != nil {
		return "", err
	}
	return "${" + r + "}", nil
}

// assignTarget returns the native variable an SSIS variable name assigns.
func (pc *pkgConv) assignTarget(qualified string) (string, error) {
	m := varRefRE.FindStringSubmatch(qualified)
	if m != nil && strings.EqualFold(m[1], "System") && strings.EqualFold(m[2], "Propagate") && pc.handlerDepth > 0 {
		return pkgspec.PropagateVar, nil
	}
	if m == nil || !strings.EqualFold(m[1], "User") {
		return "", fmt.Errorf("%q is not a User variable", qualified)
	}
	if n, ok := pc.vars[strings.ToLower("User::"+m[2])]; ok {
		return n, nil
	}
	return "", fmt.Errorf("variable User::%s is not declared", m[2])
}

// unsupportedTask is the native placeholder for an element.
func (pc *pkgConv) unsupportedTask(path, typ, reason string, head omap) omap {
	pc.notConverted(path, typ, "unsupported task: "+reason)
	t := head
	if t == nil {
		name := pc.tasks.take(taskName(lastElem(path)))
		t = omap{{"name", name}}
	}
	t.set("unsupported", omap{{"element", path}, {"type", typ}, {"reason", reason}})
	return t
}

func lastElem(path string) string {
	if i := strings.LastIndexAny(path, `\`); i >= 0 {
		return path[i+1:]
	}
	return path
}

// noopTask is a task that succeeds doing nothing.
func (pc *pkgConv) noopTask(name, path string) omap {
	pc.noop = true
	val := "true"
	if pc.ssisMode {
		val = "TRUE"
	}
	return omap{{"name", pc.tasks.take(taskName(name))}, {"description", "no-op for " + path}, {"set", omap{{noopVar, val}}}}
}

// handlerEvents maps SSIS event names onto the native format's.
var handlerEvents = map[string]string{"OnError": "on_error", "OnWarning": "on_warning", "OnPreExecute": "on_pre_execute",
	"OnPostExecute": "on_post_execute", "OnTaskFailed": "on_task_failed", "OnVariableValueChanged": "on_variable_value_changed"}

// handlers converts the event handlers of e into a handlers: mapping, or
// nil when it has none (or the native format has no handlers).
func (pc *pkgConv) handlers(e *ssis.Executable) omap {
	var out omap
	for _, h := range e.EventHandlers {
		ev := handlerEvents[h.Name]
		switch {
		case ev == "":
			pc.notConverted(h.Path, "EventHandler", fmt.Sprintf("event %s has no native handler: its %d executables do not run", h.Name, len(h.Children)))
			continue
		case !handlersSupported:
			pc.notConverted(h.Path, "EventHandler", fmt.Sprintf("this build has no event handlers: its %d executables do not run", len(h.Children)))
			continue
		case len(h.Children) == 0:
			continue
		}
		for _, v := range h.Variables {
			if strings.EqualFold(v.Namespace, "User") {
				pc.notConverted(h.Path+`.Variables[`+v.QualifiedName()+`]`, "Variable", "variables of an event handler's own scope are not converted")
			}
		}
		pc.handlerDepth++
		tasks := pc.list(h)
		pc.handlerDepth--
		out.set(ev, tasks)
		pc.converted(h.Path, "EventHandler", ev+" handler")
	}
	return out
}

// handlersSupported reports whether this build's package format has
// event handlers (handlers:).
var handlersSupported = func() bool {
	_, err := pkgspec.Parse("probe.yaml", []byte("name: p\nhandlers: {on_error: [{name: h, set: {Propagate: 'false'}}]}\ntasks:\n  - {name: t, exec: {command: [x]}}\n"))
	return err == nil
}()

// substitute reads a --substitute body for path, if any.
func (pc *pkgConv) substitute(path string) (omap, bool, error) {
	src, ok := pc.c.opts.Substitutes[path]
	if !ok {
		return nil, false, nil
	}
	pc.c.usedSubstitutes[path] = true
	var n yaml.Node
	if err := yaml.Unmarshal(src, &n); err != nil {
		return nil, true, fmt.Errorf("--substitute %s: %v", path, err)
	}
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = *n.Content[0]
	}
	if n.Kind != yaml.MappingNode {
		return nil, true, fmt.Errorf("--substitute %s: the file must hold a mapping with one task type (for example exec: {command: [...]})", path)
	}
	var out omap
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i].Value
		if k == "name" || k == "after" || k == "join" {
			return nil, true, fmt.Errorf("--substitute %s: the file gives %q, which the conversion sets itself", path, k)
		}
		out.set(k, n.Content[i+1])
	}
	return out, true, nil
}

// filePathOf turns a path of the package (a connection manager's, an
// enumerator's folder) into the native form: backslashes become slashes,
// ${ is escaped, and an absolute directory is remembered for allow_paths.
func (pc *pkgConv) filePathOf(p string, isDir bool) string {
	p = strings.ReplaceAll(p, `\`, "/")
	if strings.HasPrefix(p, "/") {
		dir := p
		if !isDir {
			dir = path.Dir(p)
		}
		pc.paths = append(pc.paths, path.Clean(dir))
	}
	return strings.ReplaceAll(p, "${", "$${")
}

// allowRoots keeps the directories that are not inside another one, as
// parents of the paths (a directory that is itself created or deleted
// must lie inside an allowed one).
func allowRoots(paths []string) []string {
	var dirs []string
	for _, p := range paths {
		if d := path.Dir(p); d != "/" {
			p = d
		}
		dirs = append(dirs, p)
	}
	sort.Strings(dirs)
	var out []string
	var last string
	for _, d := range dirs {
		if last != "" && (d == last || strings.HasPrefix(d, last+"/")) {
			continue
		}
		out = append(out, d)
		last = d
	}
	return out
}

// configKinds names the DTSConfigurationType values (Microsoft's
// DTSConfigurationType enumeration; "indirect": an environment variable
// holds where the configuration is).
var configKinds = map[string]string{"0": "parent package variable", "1": "XML file", "2": "environment variable", "3": "registry entry",
	"4": "indirect parent package variable", "5": "indirect XML file", "6": "indirect registry entry", "7": "SQL Server table", "9": "indirect SQL Server table"}

// configVarValue matches the target of a configuration that sets a
// package variable's value.
var configVarValue = regexp.MustCompile(`^\\Package\.Variables\[(?:User::)?([^\]]+)\]\.Properties\[Value\]$`)

// configParam converts an environment variable configuration that sets
// a package variable's value, as the SSIS project conversion wizard
// does: the variable's value comes from a new package parameter (named
// after the environment variable, its default the variable's value or
// --param's), which the user gives the environment's value. XML file
// configurations go to xmlConfigParams. Other configurations (their
// values are in tables, the registry or the parent package) stay
// reported.
func (pc *pkgConv) configParam(cfg *ssis.Configuration, vars omap, params *omap, names *unique) bool {
	if cfg.Type == "1" {
		return pc.xmlConfigParams(cfg, vars, params, names)
	}
	m := configVarValue.FindStringSubmatch(cfg.Target)
	if cfg.Type != "2" || m == nil || strings.TrimSpace(cfg.String) == "" {
		return false
	}
	vname, ok := pc.vars[strings.ToLower("User::"+m[1])]
	if !ok {
		return false
	}
	name, ok := pc.bindVarParam(vname, identifier(cfg.String), []string{cfg.String}, "", false, vars, params, names,
		fmt.Sprintf("old-style package configuration %q: environment variable %s into %s", cfg.Name, cfg.String, cfg.Target))
	if !ok {
		return false
	}
	pc.c.cfgParams[cfg.String] = true
	pc.converted(`\Package.Configurations[`+cfg.Name+`]`, "Configuration (environment variable)",
		fmt.Sprintf("package parameter %s sets variable %s: give it the environment variable's value (--param %s=... on import, or at run time); scaleout does not read %s from the worker's environment", name, vname, name, cfg.String))
	return true
}

// xmlConfigParams converts an XML file configuration whose .dtsConfig
// file was found beside the package: each entry that sets a package
// variable's Value becomes a package parameter named after the variable,
// its default the file's value (or --param's), bound to the variable as
// for environment variables. The configuration is converted when every
// entry is; otherwise it is reported with the entries that were not.
func (pc *pkgConv) xmlConfigParams(cfg *ssis.Configuration, vars omap, params *omap, names *unique) bool {
	if cfg.FileErr != "" || len(cfg.Entries) == 0 {
		return false
	}
	var done, bad []string
	for _, e := range cfg.Entries {
		m := configVarValue.FindStringSubmatch(e.Path)
		vname, ok := "", m != nil
		if ok {
			vname, ok = pc.vars[strings.ToLower("User::"+m[1])]
		}
		if !ok {
			bad = append(bad, e.Path)
			continue
		}
		name, ok := pc.bindVarParam(vname, identifier(vname), nil, e.Value, true, vars, params, names,
			fmt.Sprintf("old-style package configuration %q: XML file %s into %s", cfg.Name, cfg.String, e.Path))
		if !ok {
			bad = append(bad, e.Path)
			continue
		}
		done = append(done, fmt.Sprintf("package parameter %s sets variable %s", name, vname))
	}
	what := `\Package.Configurations[` + cfg.Name + `]`
	if len(bad) > 0 {
		msg := "old-style package configuration (XML file " + cfg.String + ") not applied to " + strings.Join(bad, ", ") + " (only a package variable's Value maps onto a parameter); give the values as parameters (--param) or edit the package"
		if len(done) > 0 {
			msg += "; converted: " + strings.Join(done, ", ")
		}
		pc.notConverted(what, "Configuration (XML file)", msg)
		return true
	}
	pc.converted(what, "Configuration (XML file)", strings.Join(done, ", ")+" (defaults read from "+cfg.String+")")
	return true
}

// bindVarParam makes the package variable vname take its value from a new
// package parameter (named base, made unique), with the type of the
// variable. Its default is def (the variable's own value when !hasDef),
// or --param's by the parameter's name or one of aliases. It fails for
// object variables and variables evaluated as expressions.
func (pc *pkgConv) bindVarParam(vname, base string, aliases []string, def string, hasDef bool, vars omap, params *omap, names *unique, desc string) (string, bool) {
	i := slices.IndexFunc(vars, func(e kv) bool { return e.k == vname })
	if i < 0 {
		return "", false
	}
	d, _ := vars[i].v.(omap)
	typ, _ := lookup(d, "type").(string)
	if typ == pkgspec.TypeObject || hasKey(d, "expression") {
		return "", false
	}
	name := names.take(base)
	p := omap{{"type", typ}}
	has := hasDef
	if !hasDef {
		def, has = lookup(d, "value").(string)
	}
	for _, k := range append(aliases, name) {
		if o, ok := pc.c.opts.Params[k]; ok {
			def, has = o, true
		}
	}
	if v, ok := nativeValue(typ, def); has && ok {
		p.set("default", v)
	} else {
		p.set("required", true)
	}
	p.set("description", desc)
	params.set(name, p)
	pc.c.cfgParams[name] = true
	ref := "${param." + name + "}"
	if pc.ssisMode {
		ref = "${@[$Package::" + name + "]}"
	}
	nd := omap{}
	for _, e := range d {
		if e.k != "value" {
			nd = append(nd, e)
		}
	}
	nd = append(nd[:1], append(omap{{"value", ref}}, nd[1:]...)...)
	vars[i].v = nd
	return name, true
}

// lookup returns the value of key k of m, or nil.
func lookup(m omap, k string) any {
	for _, e := range m {
		if e.k == k {
			return e.v
		}
	}
	return nil
}
