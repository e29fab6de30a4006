package pkgspec

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/scaleout/scaleout/catalog/ssisexpr"
	"go.yaml.in/yaml/v3"
)

// exprRef is a template or expression to check once every task is known.
type exprRef struct {
	line     int
	where    string
	src      string
	template bool
	boolean  bool // a condition: its value must be able to be a bool
	scope    *scope
	// refs, when set, are the references of an expression compiled
	// elsewhere (data flow row expressions); src is not compiled again.
	refs []string
}

// targetRef is a variable a task assigns.
type targetRef struct {
	line  int
	where string
	name  string
	scope *scope
}

// tpl records a string field that may hold ${...}.
func (p *parser) tpl(line int, where, s string) {
	if strings.Contains(s, "${") {
		p.exprs = append(p.exprs, exprRef{line: line, where: where, src: s, template: true, scope: p.scope})
	}
}

// expr records an expression field.
func (p *parser) expr(line int, where, s string) {
	p.exprs = append(p.exprs, exprRef{line: line, where: where, src: s, scope: p.scope})
}

// boolExpr records a condition (when:, a loop's condition).
func (p *parser) boolExpr(line int, where, s string) {
	p.exprs = append(p.exprs, exprRef{line: line, where: where, src: s, scope: p.scope, boolean: true})
}

// target records a variable a task assigns.
func (p *parser) target(line int, where, name string) {
	p.targets = append(p.targets, targetRef{line: line, where: where, name: name, scope: p.scope})
}

// checkRefs compiles every template and expression and reports syntax
// errors and references to undeclared parameters, variables and tasks.
func (p *parser) checkRefs(pkg *Package) {
	for _, r := range p.exprs {
		if pkg.ExprLang() == ExprSSIS {
			if r.refs == nil { // row expressions were checked with their columns
				p.checkSSISRef(pkg, r)
			}
			continue
		}
		var exprs []*Expr
		if r.refs != nil {
			exprs = []*Expr{{Src: r.src, Refs: r.refs}}
		} else if r.template {
			t, err := ParseTemplate(r.src)
			if err != nil {
				p.addf(r.line, "%s: %v", r.where, err)
				continue
			}
			exprs = t.Exprs()
		} else {
			e, err := CompileExpr(r.src)
			if err != nil {
				p.addf(r.line, "%s: %v", r.where, err)
				continue
			}
			if t := e.Type(); r.boolean && t != nil && t.Kind() != reflect.Bool && t.Kind() != reflect.Interface {
				p.addf(r.line, "%s: expression %q gives %s, not a boolean (true or false)", r.where, r.src, t)
			}
			exprs = []*Expr{e}
		}
		for _, e := range exprs {
			for _, ref := range e.Refs {
				root, name, _ := strings.Cut(ref, ".")
				switch root {
				case RootParam:
					if pkg.Param(name) == nil {
						p.addf(r.line, "%s references undeclared parameter %q", r.where, name)
					}
				case RootVars:
					if r.scope.lookup(name) == "" {
						p.addf(r.line, "%s references variable %q, which is not declared in this scope", r.where, name)
					}
				case RootTasks:
					if pkg.Task(name) == nil {
						p.addf(r.line, "%s references unknown task %q", r.where, name)
					}
				case RootSys:
					if !isSysField(name) {
						p.addf(r.line, "%s references unknown field sys.%s (known: %s)", r.where, name, strings.Join(SysFields, ", "))
					}
				}
			}
		}
	}
	for _, tr := range p.targets {
		switch {
		case tr.name == "":
			p.addf(tr.line, "%s names no variable", tr.where)
		case tr.scope.lookup(tr.name) == "":
			p.addf(tr.line, "%s assigns variable %q, which is not declared in this scope (declare it under variables:)", tr.where, tr.name)
		case tr.scope.isExpr(tr.name):
			p.addf(tr.line, "%s assigns variable %q, which is evaluated as an expression (read-only)", tr.where, tr.name)
		}
	}
}

// checkSSISRef parses an SSIS expression or template and type-checks it
// against the parameters and the variables of its scope.
func (p *parser) checkSSISRef(pkg *Package, r exprRef) {
	var exprs []*Expr
	if r.template {
		t, err := ParseTemplateIn(ExprSSIS, r.src)
		if err != nil {
			p.addf(r.line, "%s: %v", r.where, err)
			return
		}
		exprs = t.Exprs()
	} else {
		e, err := CompileExprIn(ExprSSIS, r.src)
		if err != nil {
			p.addf(r.line, "%s: %v", r.where, err)
			return
		}
		exprs = []*Expr{e}
	}
	for _, e := range exprs {
		prog, err := e.checkSSIS(declaredNames{pkg: pkg, sc: r.scope})
		if err != nil {
			p.addf(r.line, "%s: %v", r.where, err)
			continue
		}
		if r.boolean && prog.Type().Kind != ssisexpr.KindBool {
			p.addf(r.line, "%s: expression %q gives %s, not DT_BOOL", r.where, r.src, prog.Type())
		}
	}
}

// SysFields are the fields of the sys expression root.
// error_code, error_description, source_name and variable_name describe
// the event an event handler runs for (zero values outside handlers).
var SysFields = []string{"work_dir", "project_dir", "package", "task", "start_time", "container_start_time", "execution_guid", "execution_id", "attempt", "error_code", "error_description", "source_name", "variable_name"}

func isSysField(name string) bool {
	for _, f := range SysFields {
		if f == name {
			return true
		}
	}
	return false
}

// integer returns the YAML int n, reporting anything else or a value below
// minimum.
func (p *parser) integer(n *yaml.Node, what string, minimum int) int {
	var i int
	if n.Kind != yaml.ScalarNode || n.Tag != "!!int" || n.Decode(&i) != nil {
		p.addf(n.Line, "%s must be an integer", what)
		return 0
	}
	if i < minimum {
		p.addf(n.Line, "%s must be at least %d", what, minimum)
	}
	return i
}

// duration returns n as a positive Go duration such as "30s" or "1m30s".
func (p *parser) duration(n *yaml.Node, what string) time.Duration {
	s := p.str(n, what)
	d, err := time.ParseDuration(s)
	switch {
	case n.Kind != yaml.ScalarNode:
	case err != nil:
		p.addf(n.Line, "%s %q is not a duration such as 30s, 5m or 1h30m", what, s)
	case d <= 0:
		p.addf(n.Line, "%s must be positive", what)
	}
	return d
}

// strList returns the list of strings n (a single string counts as a list
// of one).
func (p *parser) strList(n *yaml.Node, what string) []string {
	items := []*yaml.Node{n}
	switch {
	case isNull(n):
		return nil
	case n.Kind == yaml.SequenceNode:
		items = n.Content
	case n.Kind != yaml.ScalarNode:
		p.addf(n.Line, "%s must be a list of strings", what)
		return nil
	}
	out := make([]string, 0, len(items))
	for _, it := range items {
		out = append(out, p.str(deref(it), what+" entry"))
	}
	return out
}

// intList returns the list of integers n.
func (p *parser) intList(n *yaml.Node, what string) []int {
	items := []*yaml.Node{n}
	if n.Kind == yaml.SequenceNode {
		items = n.Content
	}
	var out []int
	for _, it := range items {
		it = deref(it)
		i, err := strconv.Atoi(it.Value)
		if it.Kind != yaml.ScalarNode || err != nil {
			p.addf(it.Line, "%s must be a list of integers", what)
			return nil
		}
		if i < 0 || i > MaxExitCode {
			p.addf(it.Line, "%s entry %d is not an exit code (0-%d)", what, i, MaxExitCode)
			return nil
		}
		out = append(out, i)
	}
	return out
}

// strMap returns the mapping of strings n; with tpl every value is a
// template.
func (p *parser) strMap(n *yaml.Node, what string, tpl bool) map[string]string {
	if !p.holds(n, yaml.MappingNode, what+" must be a mapping from name to value") {
		return nil
	}
	out := make(map[string]string, len(n.Content)/2)
	for k, v := range pairs(n) {
		name := p.str(k, what+" name")
		switch {
		case k.Kind != yaml.ScalarNode:
			continue
		case name == "" || strings.ContainsAny(name, "=\x00"):
			p.addf(k.Line, "%s has invalid variable name %q", what, name)
			continue
		}
		if _, dup := out[name]; dup {
			p.addf(k.Line, "%s sets %q twice", what, name)
			continue
		}
		where := fmt.Sprintf("%s %s", what, name)
		out[name] = p.str(v, where)
		if tpl {
			p.tpl(v.Line, where, out[name])
		}
	}
	return out
}
