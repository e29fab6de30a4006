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
		if _, dup := p.scope.vars[name]; dup {
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
		p.fields(v, what, []string{"type", "value", "expression", "raise_changed_event", "description"}, func(k, v *yaml.Node) {
			switch k.Value {
			case "type":
				vr.Type = p.str(v, what+" type")
				if !slices.Contains(VariableTypes, vr.Type) {
					p.addf(v.Line, "%s has unknown type %q (want one of: %s)", what, vr.Type, strings.Join(VariableTypes, ", "))
				}
			case "value":
				valNode = v
				vr.Value = p.str(v, what+" value")
			case "expression":
				exprNode = v
				vr.Expression = p.str(v, what+" expression")
			case "raise_changed_event":
				vr.RaiseChangedEvent = p.boolean(v, what+" raise_changed_event")
			case "description":
				vr.Description = p.str(v, what+" description")
			}
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
				c.Driver = p.str(v, what+" driver")
				if !slices.Contains(Drivers, c.Driver) {
					p.addf(v.Line, "%s has unknown driver %q (want one of: %s)", what, c.Driver, strings.Join(Drivers, ", "))
				}
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

// container decodes the variables and tasks of a container body, calling
// fn for its other fields. The caller has pushed the container's scope.
func (p *parser) container(c *Container, n *yaml.Node, what string, extra []string, fn func(k, v *yaml.Node)) {
	var varsNode, tasksNode *yaml.Node
	p.fields(n, what, append([]string{"variables", "tasks"}, extra...), func(k, v *yaml.Node) {
		switch k.Value {
		case "variables":
			varsNode = v
		case "tasks":
			tasksNode = v
		default:
			fn(k, v)
		}
	})
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
	what := kindWhat(t, KindSequence)
	t.Sequence = &Container{}
	if !p.body(n, what, "tasks") {
		return
	}
	defer p.push()()
	p.container(t.Sequence, n, what, nil, nil)
}

func (p *parser) decodeForEach(t *Task, _, n *yaml.Node) {
	what := kindWhat(t, KindForEach)
	f := &ForEachTask{}
	t.ForEach = f
	if !p.body(n, what, "var, a source (items, in, files, csv or query) and tasks") {
		return
	}
	defer p.push()()
	var sources []string
	var varLine int
	p.container(&f.Container, n, what, []string{"var", "items", "in", "files", "csv", "query"}, func(k, v *yaml.Node) {
		switch k.Value {
		case "var":
			f.Var = p.str(v, what+" var")
			varLine = v.Line
			if ValidateParamName(f.Var) == nil {
				p.scope.vars[f.Var] = TypeObject
				// Files and items are text: SSIS expressions see DT_WSTR.
				p.varHooks = append(p.varHooks, func() {
					if len(sources) == 1 && (sources[0] == "files" || sources[0] == "items") {
						p.scope.vars[f.Var] = TypeString
					}
				})
			}
			return
		case "items":
			f.Items = p.tplList(v, what+" items")
		case "in":
			f.In = p.exprStr(v, what+" in")
		case "files":
			f.Files = p.tplStr(v, what+" files")
		case "csv":
			f.CSV = p.tplStr(v, what+" csv")
		case "query":
			f.Query = p.sqlFields(&SQLTask{Mode: ModeRowset}, v, what+" query", nil, nil)
		}
		sources = append(sources, k.Value)
	})
	if len(sources) != 1 {
		p.addf(n.Line, "%s needs exactly one source of items (items, in, files, csv or query), has %d", what, len(sources))
	}
	if f.Var == "" {
		p.addf(n.Line, "%s has no var (the variable each item is bound to)", what)
	} else if err := ValidateParamName(f.Var); err != nil {
		p.addf(varLine, "%s var %q: %v", what, f.Var, err)
	}
}

func (p *parser) decodeFor(t *Task, _, n *yaml.Node) {
	what := kindWhat(t, KindFor)
	f := &ForTask{}
	t.For = f
	if !p.body(n, what, "init, condition, step and tasks") {
		return
	}
	defer p.push()()
	p.container(&f.Container, n, what, []string{"init", "condition", "step"}, func(k, v *yaml.Node) {
		switch k.Value {
		case "init":
			p.varHooks = append(p.varHooks, func() { f.Init = p.assignments(v, what+" init", true) })
		case "step":
			p.varHooks = append(p.varHooks, func() { f.Step = p.assignments(v, what+" step", false) })
		case "condition":
			f.Condition = p.boolExprStr(v, what+" condition")
		}
	})
	if f.Condition == "" {
		p.addf(n.Line, "%s has no condition", what)
	}
}
