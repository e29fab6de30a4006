package pkgspec

import (
	"fmt"
	"slices"
	"strings"

	"github.com/scaleout/scaleout/catalog/ssisexpr"
	"go.yaml.in/yaml/v3"
)

// TypeObject is the variable type that holds any value: a list, a map (a
// row of a query), a string... Parameters cannot have it.
const TypeObject = "object"

// VariableTypes lists the types a variable may have.
var VariableTypes = append(slices.Clone(Types), TypeObject)

// scope is a variable scope met while parsing: the package or a container.
type scope struct {
	parent *scope
	vars   map[string]string // name -> type
	exprs  map[string]bool   // variables evaluated as expressions
	// handler marks the scope of an event handler's task list.
	handler bool
	// loopVar is a foreach loop variable the loop's variables: may still
	// declare with a type (until they are decoded).
	loopVar string
}

// isExpr reports whether the visible variable name is evaluated as an
// expression.
func (s *scope) isExpr(name string) bool {
	for ; s != nil; s = s.parent {
		if _, ok := s.vars[name]; ok {
			return s.exprs[name]
		}
	}
	return false
}

// lookup returns the type of the visible variable name, or "".
func (s *scope) lookup(name string) string {
	for ; s != nil; s = s.parent {
		if t, ok := s.vars[name]; ok {
			return t
		}
	}
	return ""
}

// push enters a new scope; the returned function leaves it.
func (p *parser) push() func() {
	outer := p.scope
	p.scope = &scope{parent: outer, vars: map[string]string{}}
	return func() { p.scope = outer }
}

// variables decodes a variables mapping into the current scope.
func (p *parser) variables(n *yaml.Node, owner string) []*Variable {
	if !p.holds(n, yaml.MappingNode, owner+" variables must be a mapping from variable name to {type, value}") {
		return nil
	}
	var out []*Variable
	for k, v := range pairs(n) {
		name := p.str(k, owner+" variable name")
		if k.Kind != yaml.ScalarNode {
			continue
		}
		if err := ValidateParamName(name); err != nil {
			p.addf(k.Line, "invalid variable name %q: %v", name, err)
			continue
		}
		if _, dup := p.scope.vars[name]; dup && name != p.scope.loopVar {
			p.addf(k.Line, "%s declares variable %q twice", owner, name)
			continue
		}
		vr := &Variable{Name: name, Type: TypeString, Line: k.Line}
		what := fmt.Sprintf("variable %q", name)
		if v.Kind != yaml.MappingNode {
			p.addf(v.Line, "%s must be a mapping such as {type: int, value: 0}", what)
			continue
		}
		var valNode, exprNode *yaml.Node
		p.decodeFields(v, what, []field{
			{"type", func(v *yaml.Node, w string) { vr.Type, _ = p.oneOf(v, w, what, "type", VariableTypes) }},
			{"value", func(v *yaml.Node, w string) { valNode, vr.Value = v, p.str(v, w) }},
			{"expression", func(v *yaml.Node, w string) { exprNode, vr.Expression = v, p.str(v, w) }},
			{"raise_changed_event", set(&vr.RaiseChangedEvent, p.boolean)},
			{"description", set(&vr.Description, p.str)},
		})
		if exprNode != nil {
			if valNode != nil {
				p.addf(exprNode.Line, "%s has both a value and an expression (an expression variable has no value of its own)", what)
			}
			p.exprVariable(exprNode.Line, what, vr)
		}
		if valNode != nil && valNode.Kind == yaml.ScalarNode {
			p.tpl(valNode.Line, what+" value", vr.Value)
			if !strings.Contains(vr.Value, "${") && vr.Type != TypeObject && slices.Contains(Types, vr.Type) {
				if _, err := Canonical(vr.Type, vr.Value); err != nil {
					p.addf(valNode.Line, "%s value %q does not match type %s", what, vr.Value, vr.Type)
				}
			}
		}
		p.scope.vars[name] = vr.Type
		if name == p.scope.loopVar {
			p.scope.loopVar = "" // declared: a second declaration is a duplicate
		}
		if vr.Expression != "" {
			if p.scope.exprs == nil {
				p.scope.exprs = map[string]bool{}
			}
			p.scope.exprs[name] = true
		}
		out = append(out, vr)
	}
	return out
}

// exprVariable records the expression of a variable evaluated as an
// expression (SSIS's EvaluateAsExpression): it is checked like any
// expression, and may read only variables declared before it (so that
// the runtime evaluates such variables in declaration order).
func (p *parser) exprVariable(line int, what string, vr *Variable) {
	where := what + " expression"
	p.expr(line, where, vr.Expression)
	var names []string
	if p.pkg.ExprLang() == ExprSSIS {
		e, err := ssisexpr.Parse(vr.Expression)
		if err != nil {
			return // reported by checkRefs
		}
		for _, r := range e.Refs() {
			if r.Column || r.Namespace != "User" && r.Namespace != "" {
				continue
			}
			if _, sys := ssisSystem[r.Name]; sys && r.Namespace == "" && p.scope.lookup(r.Name) == "" {
				continue // @PackageName: a system variable
			}
			names = append(names, r.Name)
		}
	} else {
		e, err := CompileExpr(vr.Expression)
		if err != nil {
			return
		}
		for _, ref := range e.Refs {
			if root, name, _ := strings.Cut(ref, "."); root == RootVars {
				names = append(names, name)
			}
		}
	}
	for _, n := range names {
		if n == vr.Name || p.scope.lookup(n) == "" {
			p.addf(line, "%s reads variable %q, which is not declared before it (an expression variable reads only variables declared earlier)", where, n)
		}
	}
}

// connections decodes the package's connections mapping.
func (p *parser) connections(n *yaml.Node) []*Connection {
	if !p.holds(n, yaml.MappingNode, "connections must be a mapping from connection name to {driver, dsn}") {
		return nil
	}
	if c := len(n.Content) / 2; c > MaxConnections {
		p.addf(n.Line, "%d connections, over the limit of %d (pkgspec.MaxConnections)", c, MaxConnections)
		return nil
	}
	var out []*Connection
	for k, v := range pairs(n) {
		name := p.str(k, "connection name")
		if err := ValidateParamName(name); err != nil {
			p.addf(k.Line, "invalid connection name %q: %v", name, err)
			continue
		}
		c := &Connection{Name: name, Line: k.Line}
		what := fmt.Sprintf("connection %q", name)
		if !p.body(v, what, "a driver and a dsn") {
			continue
		}
		fields := map[string]*string{"dsn": &c.DSN, "host": &c.Host, "port": &c.Port, "database": &c.Database, "user": &c.User, "password": &c.Password}
		p.fields(v, what, []string{"driver", "dsn", "host", "port", "database", "user", "password", "options"}, func(k, v *yaml.Node) {
			switch k.Value {
			case "driver":
				c.Driver, _ = p.oneOf(v, what+" driver", what, "driver", Drivers)
			case "options":
				c.Options = p.strMap(v, what+" options", true)
			default:
				*fields[k.Value] = p.tplStr(v, what+" "+k.Value)
			}
		})
		switch {
		case c.Driver == "":
			p.addf(v.Line, "%s has no driver", what)
		case c.DSN != "" && (c.Host != "" || c.Database != "" || c.User != "" || c.Password != "" || c.Port != "" || c.Options != nil):
			p.addf(v.Line, "%s has a dsn and DSN fields; give one or the other", what)
		case c.DSN == "" && c.Driver == DriverSQLite && c.Database == "":
			p.addf(v.Line, "%s needs a dsn or a database (the file)", what)
		case c.DSN == "" && c.Driver != DriverSQLite && c.Host == "":
			p.addf(v.Line, "%s needs a dsn or a host", what)
		}
		out = append(out, c)
	}
	return out
}

// containerBody decodes the body n of a container task into c. n must be
// a mapping (see body; it reports whether it was); the container's
// variables and tasks get a scope of their own, and its other keys are
// decoded by extra.
func (p *parser) containerBody(c *Container, n *yaml.Node, what, holds string, extra ...field) bool {
	if !p.body(n, what, holds) {
		return false
	}
	defer p.push()()
	p.container(c, n, what, extra)
	return true
}

// container decodes the variables and tasks of a container body, and its
// other keys by extra. The caller has pushed the container's scope.
func (p *parser) container(c *Container, n *yaml.Node, what string, extra []field) {
	var varsNode, tasksNode *yaml.Node
	p.decodeFields(n, what, append([]field{
		{"variables", func(v *yaml.Node, _ string) { varsNode = v }},
		{"tasks", func(v *yaml.Node, _ string) { tasksNode = v }},
		{"max_errors", func(v *yaml.Node, w string) { c.MaxErrors = p.integer(v, w, 1) }},
	}, extra...))
	if varsNode != nil {
		c.Variables = p.variables(varsNode, what)
	}
	p.afterVars()
	if tasksNode == nil || isNull(tasksNode) || tasksNode.Kind == yaml.SequenceNode && len(tasksNode.Content) == 0 {
		p.addf(n.Line, "%s has no tasks", what)
		return
	}
	c.Tasks = p.tasks(tasksNode)
}

// afterVars runs the work deferred until a container's variables are
// declared (a foreach or for declaring its loop variables).
func (p *parser) afterVars() {
	hooks := p.varHooks
	p.varHooks = nil
	for _, h := range hooks {
		h()
	}
}

func (p *parser) decodeSequence(t *Task, _, n *yaml.Node) {
	t.Sequence = &Container{}
	p.containerBody(t.Sequence, n, kindWhat(t, KindSequence), "tasks")
}

func (p *parser) decodeForEach(t *Task, _, n *yaml.Node) {
	what := kindWhat(t, KindForEach)
	f := &ForEachTask{}
	t.ForEach = f
	var sources []string
	var varLine int
	source := func(key string, dec func(v *yaml.Node, w string)) field {
		return field{key, func(v *yaml.Node, w string) { dec(v, w); sources = append(sources, key) }}
	}
	if p.containerBody(&f.Container, n, what, "var, a source (items, in, files, csv or query) and tasks",
		field{"var", func(v *yaml.Node, w string) {
			f.Var = p.str(v, w)
			varLine = v.Line
			if ValidateParamName(f.Var) == nil {
				// Once the loop's variables are declared: a loop variable
				// declared there keeps its type (the items are converted to
				// it); otherwise files and items are text (SSIS expressions
				// see DT_WSTR) and other sources give objects.
				sc := p.scope
				sc.vars[f.Var], sc.loopVar = TypeObject, f.Var
				p.varHooks = append(p.varHooks, func() {
					sc.loopVar = ""
					for _, d := range f.Variables {
						if d.Name == f.Var {
							if d.Expression != "" {
								p.addf(d.Line, "%s var %q is declared as an expression variable; a loop variable takes the items (declare it with a type and no expression)", what, f.Var)
							}
							return
						}
					}
					if len(sources) == 1 && (sources[0] == "files" || sources[0] == "items") {
						sc.vars[f.Var] = TypeString
					}
				})
			}
		}},
		source("items", set(&f.Items, p.tplList)),
		source("in", set(&f.In, p.exprStr)),
		source("files", set(&f.Files, p.tplStr)),
		source("csv", set(&f.CSV, p.tplStr)),
		source("query", func(v *yaml.Node, w string) { f.Query = p.sqlFields(&SQLTask{Mode: ModeRowset}, v, w) }),
	) {
		if len(sources) != 1 {
			p.addf(n.Line, "%s needs exactly one source of items (items, in, files, csv or query), has %d", what, len(sources))
		}
		if f.Var == "" {
			p.addf(n.Line, "%s has no var (the variable each item is bound to)", what)
		} else if err := ValidateParamName(f.Var); err != nil {
			p.addf(varLine, "%s var %q: %v", what, f.Var, err)
		}
	}
}

func (p *parser) decodeFor(t *Task, _, n *yaml.Node) {
	what := kindWhat(t, KindFor)
	f := &ForTask{}
	t.For = f
	if p.containerBody(&f.Container, n, what, "init, condition, step and tasks",
		field{"init", func(v *yaml.Node, w string) {
			p.varHooks = append(p.varHooks, func() { f.Init = p.assignments(v, w, true) })
		}},
		field{"condition", set(&f.Condition, p.boolExprStr)},
		field{"step", func(v *yaml.Node, w string) {
			p.varHooks = append(p.varHooks, func() { f.Step = p.assignments(v, w, false) })
		}},
	) {
		p.need(n, what, "condition", f.Condition)
	}
}
