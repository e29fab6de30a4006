package convert

import (
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/scaleout/scaleout/catalog/pkgspec"
	"github.com/scaleout/scaleout/catalog/project"
	"github.com/scaleout/scaleout/catalog/ssis"
)

// Options change a conversion.
type Options struct {
	// Name replaces the project's name.
	Name string
	// Connections replace connection managers, by SSIS name or by the
	// native name: sqlite:PATH, postgres://..., sqlserver://...
	Connections map[string]string
	// Params set defaults of project or package parameters, by name.
	Params map[string]string
	// Substitutes replace elements, by SSIS path, with a native task body
	// (a YAML mapping holding one task type, e.g. exec: {...}) or, for a
	// data flow component, a component body.
	Substitutes map[string][]byte
	// Strict makes any element that is not converted an error.
	Strict bool
}

// Item is one element of a package in the report.
type Item struct {
	Path string // SSIS path
	Type string // creation name or component class
	Note string // what it became, or why it was not converted
}

// PackageReport is what happened to one package.
type PackageReport struct {
	Name      string
	File      string // the native file, packages/NAME.yaml
	Source    string // the .dtsx
	Format    int
	Converted []Item
	// NotConverted are elements that became unsupported tasks (the package
	// refuses to start) or that were left out (event handlers,
	// configurations, ...); each Note says which.
	NotConverted []Item
	// Warnings are differences between the package and its conversion.
	Warnings []string
	// Secrets are sensitive values the import could not carry over and
	// that must be supplied (as parameter values).
	Secrets []string
	// Refuses is true when the package holds an unsupported task.
	Refuses bool
	// SSISExpressions is true when the package is written with
	// expressions: ssis.
	SSISExpressions bool
}

// Report is the conversion's report.
type Report struct {
	Project string
	Source  string
	Notes   []string
	// Secrets are project-level sensitive values to supply.
	Secrets  []string
	Packages []*PackageReport
}

// Result is a converted project.
type Result struct {
	// Files are the project's files: project.yaml and packages/*.yaml.
	Files  map[string][]byte
	Report *Report
	// Manifest is the validated project (project.Load of Files).
	Manifest *project.Manifest
	// Values are the sensitive values decrypted with the package password
	// (ssis.Project.Decrypt), which the files never hold: the import sets
	// them in the catalog, which encrypts them.
	Values []Value
}

// Value is a sensitive parameter value to set after deploying.
type Value struct {
	Package string // the native package name; empty for a project parameter
	Name    string // the native parameter name
	Value   string
}

// ErrStrict is returned (wrapped) by a strict conversion that met an
// element it could not convert.
var ErrStrict = errors.New("elements were not converted (--strict)")

// SSISExpressionsSupported reports whether this build's package format
// has the SSIS expression switch (expressions: ssis). Without it, elements
// whose behaviour is an SSIS expression become unsupported tasks.
var SSISExpressionsSupported = func() bool {
	_, err := pkgspec.Parse("probe.yaml", []byte("name: p\nexpressions: ssis\ntasks:\n  - {name: t, set: {}}\n"))
	var ve *pkgspec.ValidationError
	if errors.As(err, &ve) {
		for _, p := range ve.Problems {
			if strings.Contains(p.Msg, "expressions") {
				return false
			}
		}
	}
	return true
}()

// converter holds the project-wide state.
type converter struct {
	p         *ssis.Project
	opts      Options
	rep       *Report
	params    omap // project.yaml parameters
	paramSeen *unique
	conns     omap // project.yaml connections
	connNames *unique
	// connByKey maps a connection manager (project: DTSID, name, refId;
	// package: package name + the same) to its native connection name,
	// or "" with connErr set when it could not be converted.
	connByKey       map[string]*connInfo
	usedOverrides   map[string]bool
	usedSubstitutes map[string]bool
	// cfgParams are the names (SSIS and converted) of the package
	// parameters made from old-style configurations, for --param.
	cfgParams map[string]bool
	// pkgByFile maps a package's .dtsx base name (lower case) to its
	// native name, for Execute Package tasks.
	pkgByFile map[string]string
	// curSecrets collects the secrets of the package being converted.
	curSecrets *[]string
	// curPkg is the native name of the package being converted.
	curPkg string
	// values are the decrypted sensitive values (Result.Values).
	values []Value
}

type connInfo struct {
	native string // connection name in project.yaml, "" if none
	cm     *ssis.ConnectionManager
	err    string // why it is not a database connection
}

// Convert converts the project.
func Convert(p *ssis.Project, opts Options) (*Result, error) {
	c := &converter{p: p, opts: opts, rep: &Report{Project: p.Name, Source: p.Source, Notes: p.Notes},
		paramSeen: newUnique(true), connNames: newUnique(true), connByKey: map[string]*connInfo{}, usedOverrides: map[string]bool{}, usedSubstitutes: map[string]bool{}, cfgParams: map[string]bool{}}
	if opts.Name != "" {
		c.rep.Project = opts.Name
	}
	if err := pkgspec.ValidateName(c.rep.Project); err != nil {
		return nil, fmt.Errorf("project name %q: %v (give another with --project)", c.rep.Project, err)
	}
	for _, pp := range p.Params {
		c.param(&c.params, pp, "project parameter", c.paramSeen)
	}
	for _, cm := range p.Connections {
		c.connection(cm, "")
	}
	files := map[string][]byte{}
	pkgNames := newUnique(false)
	c.pkgByFile = map[string]string{}
	native := make([]string, len(p.Packages))
	for i, pkg := range p.Packages {
		native[i] = pkgNames.take(fileName(strings.TrimSuffix(path.Base(pkg.File), path.Ext(pkg.File))))
		c.pkgByFile[strings.ToLower(path.Base(pkg.File))] = native[i]
	}
	for i, pkg := range p.Packages {
		pc := newPkgConv(c, pkg, native[i])
		src, err := pc.convert()
		if err != nil {
			return nil, err
		}
		files[pc.rep.File] = src
		c.rep.Packages = append(c.rep.Packages, pc.rep)
	}
	for name := range opts.Connections {
		if !c.usedOverrides[name] {
			return nil, fmt.Errorf("--connection %s: the project has no connection manager of that name", name)
		}
	}
	for p := range opts.Substitutes {
		if !c.usedSubstitutes[p] {
			return nil, fmt.Errorf("--substitute %s: no element of the project has that SSIS path", p)
		}
	}
	for name := range opts.Params {
		if !c.paramKnown(name) {
			return nil, fmt.Errorf("--param %s: the project and its packages have no parameter of that name", name)
		}
	}
	man := omap{{"name", c.rep.Project}}
	if len(c.params) > 0 {
		man.set("parameters", c.params)
	}
	if len(c.conns) > 0 {
		man.set("connections", c.conns)
	}
	src, err := marshal(man)
	if err != nil {
		return nil, err
	}
	files[project.ManifestFile] = append([]byte("# converted from "+path.Base(p.Source)+" by scaleout convert; see docs/import.md\n"), src...)
	m, err := project.Load(files)
	if err != nil {
		return nil, fmt.Errorf("the converted project does not validate (a bug of the converter; please report it with the package):\n%w", err)
	}
	res := &Result{Files: files, Report: c.rep, Manifest: m, Values: c.values}
	if opts.Strict {
		var bad []string
		for _, pr := range c.rep.Packages {
			for _, it := range pr.NotConverted {
				bad = append(bad, fmt.Sprintf("%s: %s (%s): %s", pr.Source, it.Path, it.Type, it.Note))
			}
		}
		if len(bad) > 0 {
			return res, fmt.Errorf("%w:\n  %s", ErrStrict, strings.Join(bad, "\n  "))
		}
	}
	return res, nil
}

func (c *converter) paramKnown(name string) bool {
	if c.cfgParams[name] {
		return true
	}
	for _, pp := range c.p.Params {
		if pp.Name == name || identifier(pp.Name) == name {
			return true
		}
	}
	for _, pkg := range c.p.Packages {
		for _, pp := range pkg.Params {
			if pp.Name == name || identifier(pp.Name) == name {
				return true
			}
		}
	}
	return false
}

// fileName is a package's native name and file stem.
func fileName(s string) string {
	s = taskName(s)
	s = strings.NewReplacer("/", "_", `\`, "_").Replace(s)
	if strings.HasPrefix(s, ".") {
		s = "_" + s
	}
	return s
}

// typeOfTypeCode maps a parameter's System.TypeCode onto a native type.
func typeOfTypeCode(tc int) (string, bool) {
	switch tc {
	case 3:
		return pkgspec.TypeBool, true
	case 5, 6, 7, 8, 9, 10, 11, 12:
		return pkgspec.TypeInt, true
	case 13, 14, 15:
		return pkgspec.TypeFloat, true
	case 16:
		return pkgspec.TypeDateTime, true
	case 4, 18:
		return pkgspec.TypeString, true
	}
	return pkgspec.TypeString, false
}

// typeOfVarType maps a variable's VARTYPE onto a native type.
func typeOfVarType(vt int) string {
	switch vt {
	case 11:
		return pkgspec.TypeBool
	case 2, 3, 16, 17, 18, 19, 20, 21, 22, 23:
		return pkgspec.TypeInt
	case 4, 5, 6, 14:
		return pkgspec.TypeFloat
	case 7:
		return pkgspec.TypeDateTime
	case 13:
		return "object"
	}
	return pkgspec.TypeString
}

// nativeValue turns an SSIS literal into the native canonical form of
// typ; ok is false when it does not fit.
func nativeValue(typ, v string) (string, bool) {
	v = strings.TrimSpace(v)
	switch typ {
	case pkgspec.TypeBool:
		switch strings.ToLower(v) {
		case "true", "1", "-1":
			return "true", true
		case "false", "0", "":
			return "false", true
		}
		return "", false
	case pkgspec.TypeDateTime:
		for _, layout := range []string{time.RFC3339, "1/2/2006 3:04:05 PM", "1/2/2006 15:04:05", "1/2/2006", "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02"} {
			if t, err := time.Parse(layout, v); err == nil {
				return t.UTC().Format(time.RFC3339), true
			}
		}
		return "", false
	case "object":
		return "", true
	}
	if c, err := pkgspec.Canonical(typ, v); err == nil {
		return c, true
	}
	return "", false
}

// param declares an SSIS parameter in decls; returns its native name.
func (c *converter) param(decls *omap, pp *ssis.Parameter, what string, names *unique) string {
	name := names.take(identifier(pp.Name))
	typ, ok := typeOfTypeCode(pp.DataType)
	d := omap{{"type", typ}}
	if !ok {
		c.rep.Notes = append(c.rep.Notes, fmt.Sprintf("%s %s: data type %d has no native equivalent; declared as string", what, pp.Name, pp.DataType))
	}
	val, has := pp.Value, pp.HasValue
	if o, ok := c.opts.Params[pp.Name]; ok {
		val, has = o, true
	} else if o, ok := c.opts.Params[name]; ok {
		val, has = o, true
	}
	switch {
	case pp.Sensitive && (!has || val == ""):
		d.set("sensitive", true)
		d.set("required", true)
		reason := "not saved in the file (DontSaveSensitive)"
		if pp.Encrypted {
			reason = "encrypted with the author's key or a password"
		}
		c.secret(fmt.Sprintf("%s %s (sensitive, %s): give it a value (scaleout projects set-value, or --param on run)", what, name, reason))
	case pp.Sensitive && pp.Decrypted && val == pp.Value:
		d.set("sensitive", true)
		d.set("required", true)
		c.values = append(c.values, Value{Package: c.curPkg, Name: name, Value: val})
		c.secret(fmt.Sprintf("%s %s (sensitive): decrypted with the package password; scaleout import sets it in the catalog (encrypted), scaleout convert does not write it: give it with scaleout projects set-value", what, name))
	case pp.Sensitive:
		// A sensitive default would be stored unencrypted in the archive.
		d.set("sensitive", true)
		d.set("required", true)
		c.secret(fmt.Sprintf("%s %s (sensitive): its value was not copied into the project (archives are not encrypted); give it with scaleout projects set-value", what, name))
	case pp.Required || !has:
		d.set("required", true)
	default:
		if v, ok := nativeValue(typ, val); ok {
			d.set("default", v)
		} else {
			d.set("required", true)
			c.rep.Notes = append(c.rep.Notes, fmt.Sprintf("%s %s: value %q is not a %s; the parameter is required instead", what, pp.Name, val, typ))
		}
	}
	if pp.Description != "" {
		d.set("description", pp.Description)
	}
	decls.set(name, d)
	return name
}

// secret records a value to be supplied; the current package report takes
// it when there is one (curSecrets).
func (c *converter) secret(s string) {
	if c.curSecrets != nil {
		*c.curSecrets = append(*c.curSecrets, s)
		return
	}
	c.rep.Secrets = append(c.rep.Secrets, s)
}

// connection converts a connection manager; pkg is "" for project ones.
func (c *converter) connection(cm *ssis.ConnectionManager, pkg string) *connInfo {
	ci := &connInfo{cm: cm}
	keys := []string{cm.Name, strings.ToUpper(cm.DTSID), cm.RefID, "Project.ConnectionManagers[" + cm.Name + "]", "Package.ConnectionManagers[" + cm.Name + "]"}
	for _, k := range keys {
		if k != "" {
			c.connByKey[pkg+"\x00"+k] = ci
		}
	}
	kind := strings.ToUpper(cm.CreationName)
	override, hasOverride := c.opts.Connections[cm.Name]
	if hasOverride {
		c.usedOverrides[cm.Name] = true
	}
	switch {
	case kind == "FLATFILE" || kind == "FILE" || kind == "MULTIFILE" || kind == "MULTIFLATFILE":
		return ci // used by path
	case kind == "OLEDB" || strings.HasPrefix(kind, "ADO.NET") || kind == "ODBC" || kind == "SMTP" || hasOverride:
	default:
		ci.err = fmt.Sprintf("connection manager type %s is not converted", cm.CreationName)
		return ci
	}
	base := identifier(cm.Name)
	if pkg != "" {
		base = identifier(pkg + "_" + cm.Name)
	}
	name := c.connNames.take(base)
	if hasOverride {
		driver, props, err := parseOverride(override)
		if err != nil {
			ci.err = "--connection " + cm.Name + ": " + err.Error()
			return ci
		}
		c.conns.set(name, omap{{"type", driver}, {"description", "from --connection (was " + cm.CreationName + ")"}, {"properties", props}})
		ci.native = name
		return ci
	}
	if len(cm.Expressions) > 0 {
		ci.err = "its connection string is set by a property expression; give it with --connection " + cm.Name + "=DSN"
		return ci
	}
	if kind == "SMTP" {
		dsn, windows, err := smtpDSN(cm.ConnectionString)
		if err != nil {
			ci.err = err.Error() + "; give a DSN with --connection " + cm.Name + "=smtp://HOST:PORT"
			return ci
		}
		if windows {
			c.rep.Notes = append(c.rep.Notes, fmt.Sprintf("connection manager %s uses Windows authentication, which has no counterpart: the converted connection sends without authentication; give --connection %s=smtp://USER:PASSWORD@HOST:PORT if the server needs a login", cm.Name, cm.Name))
		}
		c.conns.set(name, omap{{"type", "smtp"}, {"description", "from SMTP connection manager " + cm.Name}, {"properties", omap{{"dsn", dsn}}}})
		ci.native = name
		return ci
	}
	sc, err := parseSQLServer(cm)
	if err != nil {
		ci.err = err.Error() + "; give a DSN with --connection " + cm.Name + "=DSN"
		return ci
	}
	pw := sc.password
	if sc.user != "" && pw == "" && cm.Password != "" {
		pname := c.paramSeen.take(identifier(name + "_password"))
		c.params.set(pname, omap{{"type", "string"}, {"sensitive", true}, {"required", true}, {"description", "password of connection " + cm.Name}})
		pw = "${project." + pname + "}"
		c.values = append(c.values, Value{Name: pname, Value: cm.Password})
		c.secret(fmt.Sprintf("project parameter %s: the password of connection manager %s, decrypted with the package password; scaleout import sets it in the catalog (encrypted), scaleout convert does not write it", pname, cm.Name))
	} else if sc.user != "" && pw == "" {
		pname := c.paramSeen.take(identifier(name + "_password"))
		c.params.set(pname, omap{{"type", "string"}, {"sensitive", true}, {"required", true}, {"description", "password of connection " + cm.Name}})
		pw = "${project." + pname + "}"
		c.secret(fmt.Sprintf("project parameter %s: the password of connection manager %s (not saved or encrypted in the file)", pname, cm.Name))
	} else if pw != "" {
		pname := c.paramSeen.take(identifier(name + "_password"))
		c.params.set(pname, omap{{"type", "string"}, {"sensitive", true}, {"required", true}, {"description", "password of connection " + cm.Name + " (it was in clear in the connection string; not copied)"}})
		pw = "${project." + pname + "}"
		c.secret(fmt.Sprintf("project parameter %s: the password of connection manager %s (it was in the connection string in clear; not copied into the project)", pname, cm.Name))
	}
	if sc.integrated {
		c.rep.Notes = append(c.rep.Notes, fmt.Sprintf("connection manager %s uses Windows integrated security; the DSN has no user: give --connection %s=DSN with a SQL login, or run the agent where Kerberos works", cm.Name, cm.Name))
	}
	props := omap{{"dsn", sc.dsn("")}}
	if pw != "" {
		// A ${project.X} password must not be URL-escaped: the fields form
		// lets the worker build the DSN once the value is known.
		props = sc.fields(pw)
		if sc.instance != "" {
			c.rep.Notes = append(c.rep.Notes, fmt.Sprintf("connection manager %s names instance %s: give its port in --connection (the converted DSN has host %s only)", cm.Name, sc.instance, sc.host))
		}
	}
	kind0 := cm.CreationName
	if i := strings.IndexByte(kind0, ','); i >= 0 {
		kind0 = kind0[:i]
	}
	c.conns.set(name, omap{{"type", "sqlserver"}, {"description", "from " + kind0 + " connection manager " + cm.Name}, {"properties", props}})
	ci.native = name
	return ci
}

// sortedItems orders report items by path.
func sortedItems(items []Item) {
	sort.SliceStable(items, func(i, j int) bool { return items[i].Path < items[j].Path })
}
