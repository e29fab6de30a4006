package pkgspec

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"slices"
	"strings"
	"time"

	"github.com/scaleout/scaleout/catalog/ssisexpr"
)

// Expression languages of a package (the package field expressions:).
const (
	// ExprNative is expr (github.com/expr-lang/expr) with the roots param,
	// vars, tasks and sys: the default.
	ExprNative = "native"
	// ExprSSIS is the SSIS expression language (catalog/ssisexpr):
	// @[User::X] for variables, @[$Package::P] and @[$Project::P] for
	// parameters, @[System::X] for system variables.
	ExprSSIS = "ssis"
)

// ExprLanguages lists the values of the expressions: field.
var ExprLanguages = []string{ExprNative, ExprSSIS}

// sysVar is an SSIS system variable the runtime supplies: the sys field
// it reads (empty: computed here) and its type.
type sysVar struct {
	field string
	t     ssisexpr.Type
}

// SSISSystemVariables are the System:: variables an SSIS expression may
// read, with the sys field each comes from (MachineName is the host
// name).
var ssisSystem = map[string]sysVar{
	"PackageName": {"package", ssisexpr.WStr},
	"TaskName":    {"task", ssisexpr.WStr},
	"StartTime":   {"start_time", ssisexpr.DBTimestamp},
	"MachineName": {"", ssisexpr.WStr},
	"UserName":    {"", ssisexpr.WStr},
	// when the task (or container) started
	"ContainerStartTime":    {"container_start_time", ssisexpr.DBTimestamp},
	"ExecutionInstanceGUID": {"execution_guid", ssisexpr.WStr},
	// the execution's id in the catalog, as in SSISDB
	"ServerExecutionID": {"execution_id", ssisexpr.I8},
	// In event handlers (zero values elsewhere):
	"ErrorCode":        {"error_code", ssisexpr.I8},
	"ErrorDescription": {"error_description", ssisexpr.WStr},
	"SourceName":       {"source_name", ssisexpr.WStr},
	"VariableName":     {"variable_name", ssisexpr.WStr},
	"Propagate":        {"", ssisexpr.Bool}, // the handler scope's variable Propagate
}

// SSISSystemVariables lists the names of the supported System::
// variables, sorted.
func SSISSystemVariables() []string {
	names := make([]string, 0, len(ssisSystem))
	for n := range ssisSystem {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// ssisType maps a parameter or variable type onto the SSIS type
// expressions see it as.
func ssisType(typ string) (ssisexpr.Type, error) {
	switch typ {
	case TypeString, "":
		return ssisexpr.WStr, nil
	case TypeInt:
		return ssisexpr.I8, nil
	case TypeFloat:
		return ssisexpr.R8, nil
	case TypeBool:
		return ssisexpr.Bool, nil
	case TypeDateTime:
		return ssisexpr.DBTimestamp, nil
	}
	return ssisexpr.Type{}, fmt.Errorf("a variable of type %s cannot be used in an SSIS expression (declare it with a type: %s)", typ, strings.Join(Types, ", "))
}

// compileSSIS parses an SSIS expression; names and types are checked
// later, against a scope (checkRefs) or against the values of a run.
func compileSSIS(src string, offset int) (*Expr, error) {
	e, err := ssisexpr.Parse(src)
	if err != nil {
		return nil, ssisError(src, offset, err)
	}
	return &Expr{Src: src, ssis: e}, nil
}

func ssisError(src string, offset int, err error) *ExprError {
	var se *ssisexpr.Error
	if errors.As(err, &se) {
		return &ExprError{Src: src, Offset: offset, Column: se.Pos, Msg: se.Msg}
	}
	return &ExprError{Src: src, Offset: offset, Msg: err.Error()}
}

// SSIS reports whether the expression is in the SSIS language.
func (e *Expr) SSIS() bool { return e.ssis != nil }

// CheckSSIS type-checks an SSIS expression against types and returns its
// result type.
func (e *Expr) checkSSIS(types ssisexpr.Types) (*ssisexpr.Program, error) {
	p, err := e.ssis.Check(types)
	if err != nil {
		return nil, ssisError(e.Src, e.offset, err)
	}
	return p, nil
}

// evalSSIS checks the expression against the types of the values in env
// (the executor's values have exactly their declared types) and runs it.
// The result is a Go value of the native runtime; NULL is nil.
func (e *Expr) evalSSIS(env map[string]any) (any, error) {
	rt := runtimeNames{env: env}
	p, err := e.checkSSIS(rt)
	if err != nil {
		return nil, err
	}
	v, err := p.Eval(rt)
	if err != nil {
		return nil, ssisError(e.Src, 0, err)
	}
	return v.Go(), nil
}

// declaredNames resolves SSIS names against the package's parameters and
// the variables declared in a scope: validation at parse time.
type declaredNames struct {
	pkg *Package
	sc  *scope
}

func (d declaredNames) TypeOf(r ssisexpr.Ref) (ssisexpr.Type, error) {
	switch {
	case r.Column:
		return ssisexpr.Type{}, fmt.Errorf("unknown name %s: outside a data flow, variables need an @ (@[User::%s])", r.Name, r.Name)
	case r.Namespace == "User" || r.Namespace == "":
		if typ := d.sc.lookup(r.Name); typ != "" {
			return ssisType(typ)
		}
		if sv, ok := ssisSystem[r.Name]; ok && r.Namespace == "" {
			return sv.t, nil
		}
		return ssisexpr.Type{}, fmt.Errorf("variable %s is not declared in this scope (declare it under variables:)", r)
	case r.Namespace == "$Package" || r.Namespace == "$Project":
		if prm := d.pkg.Param(r.Name); prm != nil {
			return ssisType(prm.Type)
		}
		return ssisexpr.Type{}, fmt.Errorf("%s names undeclared parameter %q", r, r.Name)
	case r.Namespace == "System" && r.Name == "Propagate":
		if !d.sc.inHandler() {
			return ssisexpr.Type{}, fmt.Errorf("%s exists only in event handlers", r)
		}
		return ssisexpr.Bool, nil
	case r.Namespace == "System":
		if sv, ok := ssisSystem[r.Name]; ok {
			return sv.t, nil
		}
		return ssisexpr.Type{}, fmt.Errorf("unknown system variable %s (supported: %s)", r, strings.Join(SSISSystemVariables(), ", "))
	}
	return ssisexpr.Type{}, fmt.Errorf("unknown namespace %q in %s (want User, $Package, $Project or System)", r.Namespace, r)
}

// runtimeNames resolves SSIS names against the executor's expression
// environment (the roots param, vars and sys).
type runtimeNames struct{ env map[string]any }

func (rn runtimeNames) lookup(r ssisexpr.Ref) (any, error) {
	root := func(name string) map[string]any { m, _ := rn.env[name].(map[string]any); return m }
	switch {
	case r.Column:
		return nil, fmt.Errorf("unknown name %s", r)
	case r.Namespace == "User" || r.Namespace == "":
		if v, ok := root(RootVars)[r.Name]; ok {
			return v, nil
		}
		if _, ok := ssisSystem[r.Name]; ok && r.Namespace == "" {
			return rn.system(r.Name)
		}
		return nil, fmt.Errorf("variable %s is not declared in this scope", r)
	case r.Namespace == "$Package" || r.Namespace == "$Project":
		if v, ok := root(RootParam)[r.Name]; ok {
			return v, nil
		}
		return nil, fmt.Errorf("unknown parameter %s", r)
	case r.Namespace == "System":
		return rn.system(r.Name)
	}
	return nil, fmt.Errorf("unknown namespace %q in %s", r.Namespace, r)
}

func (rn runtimeNames) system(name string) (any, error) {
	sv, ok := ssisSystem[name]
	if !ok {
		return nil, fmt.Errorf("unknown system variable @[System::%s]", name)
	}
	switch name {
	case "MachineName":
		return os.Hostname()
	case "UserName":
		u, err := user.Current()
		if err != nil {
			return nil, fmt.Errorf("@[System::UserName]: %w", err)
		}
		return u.Username, nil
	case "Propagate":
		if v, ok := rn.env[RootVars].(map[string]any)[PropagateVar]; ok {
			return v, nil
		}
		return nil, fmt.Errorf("@[System::Propagate] exists only in event handlers")
	}
	sys, _ := rn.env[RootSys].(map[string]any)
	return sys[sv.field], nil
}

func (rn runtimeNames) Lookup(r ssisexpr.Ref) (ssisexpr.Value, error) {
	v, err := rn.lookup(r)
	if err != nil {
		return ssisexpr.Value{}, err
	}
	if v == nil {
		return ssisexpr.Value{}, fmt.Errorf("%s holds no value an SSIS expression can use", r)
	}
	if n, ok := v.(int); ok { // the runtime's int is 64 bits: DT_I8
		v = int64(n)
	}
	return ssisexpr.FromGo(v, ssisexpr.Type{})
}

func (rn runtimeNames) TypeOf(r ssisexpr.Ref) (ssisexpr.Type, error) {
	v, err := rn.Lookup(r)
	if err != nil {
		return ssisexpr.Type{}, err
	}
	return v.T, nil
}

func (rn runtimeNames) Now() time.Time { return time.Now() }
