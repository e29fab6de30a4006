package pkgspec

import (
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/builtin"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"
	"github.com/scaleout/scaleout/catalog/ssisexpr"
)

// Roots of the expression environment: the names an expression may use
// besides functions. The executor builds the environment with exactly these
// keys.
const (
	// RootParam holds the package parameters by name, typed.
	RootParam = "param"
	// RootVars holds the variables visible in the current scope.
	RootVars = "vars"
	// RootTasks holds the results of the tasks that have ended, by name.
	RootTasks = "tasks"
	// RootSys holds run-wide values: work_dir, project_dir, package, task,
	// start_time.
	RootSys = "sys"
)

// Roots lists the expression roots in documentation order.
var Roots = []string{RootParam, RootVars, RootTasks, RootSys}

// ErrExpr reports an expression that does not compile or fails to evaluate.
var ErrExpr = errors.New("expression error")

// Expr is a compiled expression. It is safe for concurrent use.
type Expr struct {
	// Src is the source text of the expression.
	Src  string
	prog *vm.Program
	// Refs lists the names the expression reads below the roots, for
	// example "param.who", "vars.count", "tasks.load"; first use only.
	// Empty for an SSIS expression, whose names are checked by type.
	Refs []string
	// whole lists the roots the expression reads other than through a
	// constant member (param[k], keys(vars), $env): Inputs returns them
	// whole.
	whole []string
	// ssis is the parsed SSIS expression (package expressions: ssis).
	ssis   *ssisexpr.Expr
	offset int // of the expression in its field, for error messages
}

// ExprError is a compile or evaluation error of an expression, with its
// position: Offset is the byte offset of the expression in the field's
// string and Column the 1-based character of the error in the expression
// (0 if unknown).
type ExprError struct {
	Src    string
	Offset int
	Column int
	Msg    string
}

// Error formats the error as `in "SRC" at character N: MSG`, counting
// characters from the start of the field's string.
func (e *ExprError) Error() string {
	if e.Column > 0 {
		return fmt.Sprintf("expression %q at character %d: %s", e.Src, e.Offset+e.Column, e.Msg)
	}
	return fmt.Sprintf("expression %q: %s", e.Src, e.Msg)
}

// Unwrap returns ErrExpr.
func (e *ExprError) Unwrap() error { return ErrExpr }

func exprError(src string, offset int, err error) *ExprError {
	var fe *file.Error
	if errors.As(err, &fe) {
		msg := fe.Message
		if strings.Contains(msg, "exceeds maximum allowed nodes") {
			msg = fmt.Sprintf("expression has more than %d nodes (pkgspec.MaxExprNodes)", MaxExprNodes)
		}
		return &ExprError{Src: src, Offset: offset, Column: fe.Column + 1, Msg: msg}
	}
	return &ExprError{Src: src, Offset: offset, Msg: err.Error()}
}

// CompileExpr compiles an expression and checks that it names only the
// roots (param, vars, tasks, sys), functions, and its own let/predicate
// variables.
func CompileExpr(src string) (*Expr, error) { return compileExpr(ExprNative, src, 0) }

// CompileExprIn compiles an expression of the language lang (ExprNative,
// or ExprSSIS: parsed here, its names and types checked when it is
// evaluated, and against declarations by Parse).
func CompileExprIn(lang, src string) (*Expr, error) { return compileExpr(lang, src, 0) }

func compileExpr(lang, src string, offset int) (*Expr, error) {
	if strings.TrimSpace(src) == "" {
		return nil, &ExprError{Src: src, Offset: offset, Msg: "empty expression"}
	}
	if lang == ExprSSIS {
		e, err := compileSSIS(src, offset)
		if e != nil {
			e.offset = offset
		}
		return e, err
	}
	prog, err := expr.Compile(src, exprOptions...)
	if err != nil {
		return nil, exprError(src, offset, err)
	}
	node := prog.Node()
	// The walk visits a let's body before the let itself: collect the
	// names it declares first.
	locals := &nameChecker{}
	ast.Walk(&node, locals)
	c := &nameChecker{local: locals.local}
	ast.Walk(&node, c)
	if c.err != "" {
		return nil, &ExprError{Src: src, Offset: offset, Column: c.col, Msg: c.err}
	}
	var whole []string
	for _, r := range Roots {
		if c.idents[r] > c.members[r] || c.env {
			whole = append(whole, r)
		}
	}
	return &Expr{Src: src, prog: prog, Refs: c.refs, whole: whole}, nil
}

// Inputs returns the values in env that the expression can read: the
// parameters, variables, task results and system values it names, a root
// it reads as a whole (param[k], $env), and for an SSIS expression the
// values its @[...] names resolve to. The executor uses it to carry the
// sensitivity of a value over to what an expression derives from it.
func (e *Expr) Inputs(env map[string]any) []any {
	var in []any
	if e.ssis != nil {
		rt := runtimeNames{env: env}
		for _, r := range e.ssis.Refs() {
			if v, err := rt.lookup(r); err == nil {
				in = append(in, v)
			}
		}
		return in
	}
	for _, ref := range e.Refs {
		root, name, _ := strings.Cut(ref, ".")
		if m, ok := env[root].(map[string]any); ok {
			if v, ok := m[name]; ok {
				in = append(in, v)
			}
		}
	}
	for _, r := range e.whole {
		in = append(in, env[r])
	}
	return in
}

// Type returns the static type of the expression's value, as far as the
// compiler knows it (an interface type when it depends on run-time values),
// or nil.
func (e *Expr) Type() reflect.Type {
	if e.prog == nil {
		return nil
	}
	return e.prog.Node().Type()
}

// Eval runs the expression against env, a map with the keys in Roots.
// An SSIS expression reads @[User::X] from vars, @[$Package::P] and
// @[$Project::P] from param and @[System::X] from sys.
func (e *Expr) Eval(env map[string]any) (any, error) {
	if e.ssis != nil {
		return e.evalSSIS(env)
	}
	v, err := RunExpr(nil, e.prog, env)
	if err != nil {
		return nil, exprError(e.Src, 0, err)
	}
	return v, nil
}

// nameChecker collects root references and reports unknown identifiers.
type nameChecker struct {
	refs []string
	// idents and members count the uses of each root, bare and as the
	// object of a constant member (param.x); env is set when $env is used.
	idents, members map[string]int
	env             bool
	local           []string // let and predicate variable names
	err             string
	col             int
}

func (c *nameChecker) Visit(n *ast.Node) {
	switch n := (*n).(type) {
	case *ast.VariableDeclaratorNode:
		c.local = append(c.local, n.Name)
	case *ast.MemberNode:
		id, ok := n.Node.(*ast.IdentifierNode)
		if !ok || !slices.Contains(Roots, id.Value) {
			return
		}
		if s, ok := n.Property.(*ast.StringNode); ok {
			c.count(&c.members, id.Value)
			ref := id.Value + "." + s.Value
			if !slices.Contains(c.refs, ref) {
				c.refs = append(c.refs, ref)
			}
		}
	case *ast.IdentifierNode:
		name := n.Value
		if slices.Contains(Roots, name) {
			c.count(&c.idents, name)
		}
		if name == "$env" {
			c.env = true
		}
		if slices.Contains(Roots, name) || slices.Contains(c.local, name) || name == "$env" ||
			slices.Contains(builtin.Names, name) || slices.Contains(FunctionNames, name) || isCostName(name) {
			return
		}
		if c.err == "" {
			c.col = n.Location().From + 1
			c.err = fmt.Sprintf("unknown name %q (expressions read param.NAME, vars.NAME, tasks.NAME.FIELD, sys.FIELD and functions; write $${ for a literal ${)", name)
		}
	}
}

func (c *nameChecker) count(m *map[string]int, root string) {
	if *m == nil {
		*m = map[string]int{}
	}
	(*m)[root]++
}

// Template is a string field that may hold ${EXPR} parts.
type Template struct {
	// Src is the field's text.
	Src   string
	parts []tplPart
}

type tplPart struct {
	lit string
	e   *Expr // nil for literal text
}

// Single returns the expression if the template is exactly one ${EXPR} and
// nothing else, so that its value keeps its type (an int stays an int).
func (t *Template) Single() *Expr {
	if len(t.parts) == 1 {
		return t.parts[0].e
	}
	return nil
}

// Exprs returns the template's expressions in order.
func (t *Template) Exprs() []*Expr {
	var out []*Expr
	for _, p := range t.parts {
		if p.e != nil {
			out = append(out, p.e)
		}
	}
	return out
}

// Expand evaluates each ${EXPR} with eval and joins the results with the
// literal text, formatting values with format.
func (t *Template) Expand(eval func(*Expr) (any, error), format func(any) string) (string, error) {
	if len(t.parts) == 1 && t.parts[0].e == nil {
		return t.parts[0].lit, nil
	}
	var b strings.Builder
	for _, p := range t.parts {
		if p.e == nil {
			b.WriteString(p.lit)
			continue
		}
		v, err := eval(p.e)
		if err != nil {
			return "", err
		}
		b.WriteString(format(v))
	}
	return b.String(), nil
}

// ParseTemplate splits s into literal text and ${EXPR} parts and compiles
// each expression. "$${" stands for a literal "${"; any other "$" is kept.
// An expression ends at the first "}" outside brackets and string literals,
// so ${ {a: 1}.a } and ${ "}" } work. Errors are *ExprError or wrap
// ErrBadReference.
func ParseTemplate(s string) (*Template, error) { return ParseTemplateIn(ExprNative, s) }

// ParseTemplateIn is ParseTemplate for expressions of the language lang.
func ParseTemplateIn(lang, s string) (*Template, error) {
	t := &Template{Src: s}
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			t.parts = append(t.parts, tplPart{lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); {
		switch {
		case strings.HasPrefix(s[i:], "$${"):
			lit.WriteString("${")
			i += 3
		case strings.HasPrefix(s[i:], "${"):
			end, err := exprEnd(s, i+2)
			if err != nil {
				return nil, err
			}
			e, err := compileExpr(lang, s[i+2:end], i+2)
			if err != nil {
				return nil, err
			}
			flush()
			t.parts = append(t.parts, tplPart{e: e})
			i = end + 1
		default:
			lit.WriteByte(s[i])
			i++
		}
	}
	flush()
	if len(t.parts) == 0 {
		t.parts = []tplPart{{lit: ""}}
	}
	return t, nil
}

// exprEnd returns the index of the "}" that closes the expression starting
// at s[start].
func exprEnd(s string, start int) (int, error) {
	depth := 0
	for i := start; i < len(s); i++ {
		switch c := s[i]; c {
		case '"', '\'', '`':
			j := i + 1
			for ; j < len(s) && s[j] != c; j++ {
				if s[j] == '\\' && c != '`' {
					j++
				}
			}
			if j >= len(s) {
				return 0, fmt.Errorf(`%w: unterminated string in "${" at character %d`, ErrBadReference, i+1)
			}
			i = j
		case '{', '[', '(':
			depth++
		case ')', ']':
			depth--
		case '}':
			if depth == 0 {
				return i, nil
			}
			depth--
		}
	}
	return 0, fmt.Errorf(`%w: unterminated "${" at character %d (write "$${" for a literal "${")`, ErrBadReference, start-1)
}

// FunctionNames lists the functions scaleout adds to those of expr
// (https://expr-lang.org/docs/language-definition): basename, dirname, ext,
// stem, joinPath, formatDate, addDays, today, sprintf.
var FunctionNames = []string{"basename", "dirname", "ext", "stem", "joinPath", "formatDate", "addDays", "today", "sprintf"}

var exprOptions = []expr.Option{
	expr.MaxNodes(MaxExprNodes),
	costOption(),
	expr.Patch(costPatch{}),
	expr.Function("basename", func(a ...any) (any, error) { return filepath.Base(a[0].(string)), nil }, new(func(string) string)),
	expr.Function("dirname", func(a ...any) (any, error) { return filepath.Dir(a[0].(string)), nil }, new(func(string) string)),
	expr.Function("ext", func(a ...any) (any, error) { return filepath.Ext(a[0].(string)), nil }, new(func(string) string)),
	expr.Function("stem", func(a ...any) (any, error) {
		b := filepath.Base(a[0].(string))
		return strings.TrimSuffix(b, filepath.Ext(b)), nil
	}, new(func(string) string)),
	expr.Function("joinPath", func(a ...any) (any, error) {
		parts := make([]string, len(a))
		for i, p := range a {
			s, ok := p.(string)
			if !ok {
				return nil, fmt.Errorf("joinPath: argument %d is %T, not a string", i+1, p)
			}
			parts[i] = s
		}
		return filepath.Join(parts...), nil
	}),
	expr.Function("formatDate", func(a ...any) (any, error) {
		t, err := asTime(a[0])
		if err != nil {
			return nil, err
		}
		return t.Format(a[1].(string)), nil
	}, new(func(any, string) string)),
	expr.Function("addDays", func(a ...any) (any, error) {
		t, err := asTime(a[0])
		if err != nil {
			return nil, err
		}
		return t.AddDate(0, 0, a[1].(int)), nil
	}, new(func(any, int) time.Time)),
	expr.Function("today", func(...any) (any, error) {
		return time.Now().UTC().Truncate(24 * time.Hour), nil
	}, new(func() time.Time)),
	expr.Function("sprintf", func(a ...any) (any, error) {
		f, ok := a[0].(string)
		if !ok {
			return nil, fmt.Errorf("sprintf: format is %T, not a string", a[0])
		}
		return fmt.Sprintf(f, a[1:]...), nil
	}),
}

// asTime accepts a time.Time or an RFC 3339 string.
func asTime(v any) (time.Time, error) {
	switch v := v.(type) {
	case time.Time:
		return v, nil
	case string:
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return time.Time{}, fmt.Errorf("not an RFC 3339 date and time: %q", v)
		}
		return t, nil
	}
	return time.Time{}, fmt.Errorf("not a date and time: %T", v)
}
