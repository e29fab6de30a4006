package executor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/scaleout/scaleout/catalog/pkgspec"
)

// pkgRun is one package being run: the top package or the child of a
// package task.
type pkgRun struct {
	r      *runner
	pkg    *pkgspec.Package
	prefix string // prepended to task names in events ("parent/")
	depth  int
	start  time.Time
	params map[string]any // typed parameter values
	roots  []string       // directories file operations may touch

	mu sync.Mutex // guards results and every scope's variables
	// results holds tasks.NAME: the result of each task that has ended.
	results map[string]map[string]any

	cache sync.Map // template or expression source -> compiled

	// handlers is true when the package declares event handlers;
	// handlerMu runs one handler at a time; ctx is the run's context, for
	// handlers raised where no other is at hand (variable changes).
	handlers  bool
	handlerMu sync.Mutex
	ctx       context.Context
	// guid identifies this run of the package (SSIS's
	// System::ExecutionInstanceGUID).
	guid string
	// up links a package run by a package task to that task (nil for
	// the execution's package): events its handlers let propagate go on
	// to the parent package's handlers.
	up *pkgLink
	// failPackage lists the failures of tasks with fail_package: they
	// fail the package whatever the containers made of them (guarded by
	// mu).
	failPackage []string
}

// pkgLink is the package task that runs a child package.
type pkgLink struct {
	tc *taskCtx // the package task, in the parent package's run
	// errors counts the on_error events the child raised (read after the
	// child has ended): a package task failing because of them raises no
	// on_error of its own, as a container does not.
	errors int
}

// scope holds the variables of the package or of one container run.
type scope struct {
	parent *scope
	vars   map[string]*variable
	// exprVars are the variables evaluated as expressions, in declaration
	// order.
	exprVars []*variable
	// owner is the container whose tasks run in the scope (nil for the
	// package's and a handler's scope); event is set on the scope of an
	// event handler's tasks.
	owner *pkgspec.Task
	event *eventInfo
}

// variable is a typed value.
type variable struct {
	typ string
	val any
	// name and expr are set for a variable evaluated as an expression.
	name, expr string
	// raise: assignments that change the value raise
	// on_variable_value_changed.
	raise bool
}

// taskCtx is what a task (or container) evaluates expressions in.
type taskCtx struct {
	pr   *pkgRun
	sc   *scope
	task *pkgspec.Task // nil at package level
	// slot is true while the task holds a max_parallel slot: variable
	// change events wait in changed until runTask has released it.
	slot    bool
	changed []string
	// start is when the task started (zero before it runs).
	start time.Time
}

func (tc *taskCtx) name() string {
	if tc.task == nil {
		return strings.TrimSuffix(tc.pr.prefix, "/")
	}
	return tc.pr.prefix + tc.task.Name
}

// env builds the expression environment. Variables evaluated as
// expressions are evaluated now, outer scopes first and each scope in
// declaration order (an expression variable reads only variables declared
// before it, which Parse checks).
func (tc *taskCtx) env() (map[string]any, error) {
	pr := tc.pr
	pr.mu.Lock()
	vars := map[string]any{}
	var chain []*scope
	for s := tc.sc; s != nil; s = s.parent {
		chain = append(chain, s)
	}
	var exprVars []*variable
	var ev *eventInfo
	for _, s := range chain {
		if s.event != nil {
			ev = s.event
			break
		}
	}
	if ev == nil {
		ev = &eventInfo{}
	}
	visible := map[string]*variable{}
	for i := len(chain) - 1; i >= 0; i-- { // inner scopes shadow outer ones
		for name, v := range chain[i].vars {
			vars[name] = v.val
			visible[name] = v
		}
		exprVars = append(exprVars, chain[i].exprVars...)
	}
	exprVars = slices.DeleteFunc(exprVars, func(v *variable) bool { return visible[v.name] != v })
	tasks := make(map[string]any, len(pr.results))
	for name, res := range pr.results {
		tasks[name] = maps.Clone(res)
	}
	pr.mu.Unlock()
	task := ""
	if tc.task != nil {
		task = tc.task.Name
	}
	containerStart := tc.start
	if containerStart.IsZero() {
		containerStart = pr.start
	}
	env := map[string]any{
		pkgspec.RootParam: pr.params,
		pkgspec.RootVars:  vars,
		pkgspec.RootTasks: tasks,
		pkgspec.RootSys: map[string]any{
			"work_dir":    pr.r.opts.WorkDir,
			"project_dir": pr.r.opts.ProjectDir,
			"package":     pr.pkg.Name,
			"task":        task,
			"start_time":  pr.start.UTC(),
			// when the task (or container) started; the package's start at
			// package level
			"container_start_time": containerStart.UTC(),
			"execution_guid":       pr.guid,
			"execution_id":         int64(pr.r.opts.ExecutionID),
			"attempt":              pr.r.opts.Attempt,
			// the event a handler runs for
			"error_code":        ev.code,
			"error_description": ev.description,
			"source_name":       ev.source,
			"variable_name":     ev.variable,
		},
	}
	for _, v := range exprVars {
		e, err := tc.compile(fmt.Sprintf("variable %q expression", v.name), v.expr)
		if err != nil {
			return nil, err
		}
		x, err := tc.run(e, env)
		if err == nil {
			x, err = convert(v.typ, x)
		}
		if err != nil {
			return nil, &fieldError{fmt.Sprintf("variable %q expression", v.name), err}
		}
		vars[v.name] = x
	}
	return env, nil
}

// fieldError is an expression error in a field of a task.
type fieldError struct {
	field string
	err   error
}

func (e *fieldError) Error() string { return e.field + ": " + e.err.Error() }
func (e *fieldError) Unwrap() error { return e.err }

// compile compiles (once) the expression src of field.
func (tc *taskCtx) compile(field, src string) (*pkgspec.Expr, error) {
	return cached(tc, field, "e:", src, pkgspec.CompileExprIn)
}

// cached returns what the run's cache holds for src under the prefix kind
// (one per thing built), or builds it with the package's expression
// language and keeps it; a build error is an error of field.
func cached[T any](tc *taskCtx, field, kind, src string, build func(lang, src string) (T, error)) (T, error) {
	if c, ok := tc.pr.cache.Load(kind + src); ok {
		return c.(T), nil
	}
	v, err := build(tc.pr.pkg.ExprLang(), src)
	if err != nil {
		var zero T
		return zero, &fieldError{field, err}
	}
	tc.pr.cache.Store(kind+src, v)
	return v, nil
}

// eval evaluates the expression src of field.
func (tc *taskCtx) eval(field, src string) (any, error) {
	e, err := tc.compile(field, src)
	if err != nil {
		return nil, err
	}
	env, err := tc.env()
	if err != nil {
		return nil, err
	}
	return tc.runField(field, e, env)
}

// runField evaluates e, an expression of field, in env.
func (tc *taskCtx) runField(field string, e *pkgspec.Expr, env map[string]any) (any, error) {
	v, err := tc.run(e, env)
	if err != nil {
		return nil, &fieldError{field, err}
	}
	return v, nil
}

// run evaluates e, first checking that the parameters and variables it
// names exist (a map lookup of a missing key would quietly give nil).
func (tc *taskCtx) run(e *pkgspec.Expr, env map[string]any) (any, error) {
	for _, ref := range e.Refs {
		root, name, _ := strings.Cut(ref, ".")
		switch root {
		case pkgspec.RootParam:
			if _, ok := tc.pr.params[name]; !ok {
				return nil, fmt.Errorf("expression %q: unknown parameter %q", e.Src, name)
			}
		case pkgspec.RootVars:
			if _, ok := env[pkgspec.RootVars].(map[string]any)[name]; !ok {
				return nil, fmt.Errorf("expression %q: variable %q is not declared in this scope", e.Src, name)
			}
		}
	}
	v, err := e.Eval(env)
	if err == nil {
		tc.pr.r.taint(v, e.Inputs(env))
	}
	return v, err
}

// template compiles (once) the template s of field.
func (tc *taskCtx) template(field, s string) (*pkgspec.Template, error) {
	return cached(tc, field, "t:", s, pkgspec.ParseTemplateIn)
}

// expand evaluates the ${...} parts of the string field s.
func (tc *taskCtx) expand(field, s string) (string, error) {
	v, err := tc.evalField(field, s, false)
	if err != nil {
		return "", err
	}
	out, _ := v.(string) // a string whenever keepType is false
	return out, nil
}

// value evaluates the string field s keeping the type of a lone ${EXPR}.
func (tc *taskCtx) value(field, s string) (any, error) { return tc.evalField(field, s, true) }

// evalField evaluates the ${...} parts of the string field s into a
// string; with keepType, a lone ${EXPR} keeps the type of its value.
func (tc *taskCtx) evalField(field, s string, keepType bool) (any, error) {
	if !strings.Contains(s, "${") {
		return s, nil
	}
	t, err := tc.template(field, s)
	if err != nil {
		return nil, err
	}
	env, err := tc.env()
	if err != nil {
		return nil, err
	}
	if e := t.Single(); keepType && e != nil {
		return tc.runField(field, e, env)
	}
	out, err := t.Expand(func(e *pkgspec.Expr) (any, error) { return tc.run(e, env) }, format)
	if err != nil {
		return nil, &fieldError{field, err}
	}
	return out, nil
}

// declare creates the variables of the current scope with their initial
// values.
func (tc *taskCtx) declare(vs []*pkgspec.Variable) error {
	for _, v := range vs {
		if v.Expression != "" {
			ev := &variable{typ: v.Type, val: zero(v.Type), name: v.Name, expr: v.Expression}
			tc.pr.mu.Lock()
			tc.sc.vars[v.Name] = ev
			tc.sc.exprVars = append(tc.sc.exprVars, ev)
			tc.pr.mu.Unlock()
			continue
		}
		var val any
		if v.Value != "" {
			raw, err := tc.value(fmt.Sprintf("variable %q value", v.Name), v.Value)
			if err != nil {
				return err
			}
			if val, err = convert(v.Type, raw); err != nil {
				return fmt.Errorf("variable %q: %w", v.Name, err)
			}
		} else {
			val = zero(v.Type)
		}
		tc.pr.mu.Lock()
		tc.sc.vars[v.Name] = &variable{typ: v.Type, val: val, raise: v.RaiseChangedEvent}
		tc.pr.mu.Unlock()
	}
	return nil
}

// set assigns val to the variable name visible from the current scope,
// converting it to the variable's type.
func (tc *taskCtx) set(name string, val any) error {
	changed, err := tc.setVar(name, val)
	if err != nil || !changed {
		return err
	}
	// A variable with raise_changed_event raises on_variable_value_changed.
	if tc.slot {
		tc.changed = append(tc.changed, name)
	} else {
		tc.pr.fire(tc.pr.ctx, tc, pkgspec.OnVariableValueChanged, eventInfo{source: tc.name(), at: tc.name(), variable: name})
	}
	return nil
}

// setVar sets the variable and reports whether it raises change events
// and its value changed.
func (tc *taskCtx) setVar(name string, val any) (bool, error) {
	tc.pr.mu.Lock()
	defer tc.pr.mu.Unlock()
	for s := tc.sc; s != nil; s = s.parent {
		if v, ok := s.vars[name]; ok {
			c, err := convert(v.typ, val)
			if err != nil {
				return false, fmt.Errorf("variable %q (%s): %w", name, v.typ, err)
			}
			changed := v.raise && !reflect.DeepEqual(v.val, c)
			v.val = c
			return changed, nil
		}
	}
	return false, fmt.Errorf("variable %q is not declared in this scope", name)
}

// setResult records tasks.NAME for the task.
func (pr *pkgRun) setResult(name string, res map[string]any) {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	pr.results[name] = res
}

// typedParam turns a canonical parameter value into its typed form.
func typedParam(typ, v string) any {
	switch typ {
	case pkgspec.TypeInt:
		n, _ := strconv.Atoi(v)
		return n
	case pkgspec.TypeFloat:
		f, _ := strconv.ParseFloat(v, 64)
		return f
	case pkgspec.TypeBool:
		b, _ := strconv.ParseBool(v)
		return b
	case pkgspec.TypeDateTime:
		t, _ := time.Parse(time.RFC3339Nano, v)
		return t
	}
	return v
}

func zero(typ string) any {
	switch typ {
	case pkgspec.TypeInt:
		return 0
	case pkgspec.TypeFloat:
		return 0.0
	case pkgspec.TypeBool:
		return false
	case pkgspec.TypeDateTime:
		return time.Time{}
	case pkgspec.TypeObject:
		return nil
	}
	return ""
}

// convert converts v to the variable type typ.
func convert(typ string, v any) (any, error) {
	switch typ {
	case pkgspec.TypeObject:
		return v, nil
	case pkgspec.TypeString, "":
		return format(v), nil
	case pkgspec.TypeInt:
		switch n := v.(type) {
		case int:
			return n, nil
		case int64:
			return int(n), nil
		case int32:
			return int(n), nil
		case float64:
			if n == math.Trunc(n) && math.Abs(n) < 1<<62 {
				return int(n), nil
			}
		case string:
			if i, err := strconv.Atoi(strings.TrimSpace(n)); err == nil {
				return i, nil
			}
		case bool:
			if n {
				return 1, nil
			}
			return 0, nil
		}
	case pkgspec.TypeFloat:
		switch n := v.(type) {
		case float64:
			return n, nil
		case float32:
			return float64(n), nil
		case int:
			return float64(n), nil
		case int64:
			return float64(n), nil
		case string:
			if f, err := strconv.ParseFloat(strings.TrimSpace(n), 64); err == nil {
				return f, nil
			}
		}
	case pkgspec.TypeBool:
		switch b := v.(type) {
		case bool:
			return b, nil
		case string:
			if x, err := strconv.ParseBool(strings.TrimSpace(b)); err == nil {
				return x, nil
			}
		case int:
			return b != 0, nil
		case int64:
			return b != 0, nil
		}
	case pkgspec.TypeDateTime:
		switch t := v.(type) {
		case time.Time:
			return t, nil
		case string:
			if x, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(t)); err == nil {
				return x, nil
			}
		}
	default:
		return nil, fmt.Errorf("unknown type %q", typ)
	}
	return nil, fmt.Errorf("cannot convert %s to %s", describe(v), typ)
}

// describe shows a value in an error message: its type and a short form.
func describe(v any) string {
	s := format(v)
	if len(s) > 40 {
		s = s[:40] + "..."
	}
	return fmt.Sprintf("%T %q", v, s)
}

// format turns a value into the text ${...} writes: strings as they are,
// times in RFC 3339, lists and maps as JSON, nil as "".
func format(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case []byte:
		return string(v)
	case time.Time:
		return v.Format(time.RFC3339Nano)
	case time.Duration:
		return v.String()
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case int, int64, int32, bool, uint, uint64:
		return fmt.Sprint(v)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// allowedRoots returns the directories file operations may touch: the
// project and work directories, and the package's allow_paths, each of
// which must lie within one of Options.PermittedPaths (symbolic links
// resolved on both sides).
func (pr *pkgRun) allowedRoots() ([]string, error) {
	var roots []string
	work := pr.r.opts.WorkDir
	if work == "" {
		work = "."
	}
	for _, d := range []string{pr.r.opts.ProjectDir, work} {
		if d != "" {
			if abs, err := realAbs(d); err == nil {
				roots = append(roots, abs)
			}
		}
	}
	var permitted []string
	for _, d := range pr.r.opts.PermittedPaths {
		if abs, err := realAbs(d); err == nil {
			permitted = append(permitted, abs)
		}
	}
	for _, d := range pr.pkg.AllowPaths {
		abs, err := realAbs(d)
		if err != nil {
			continue
		}
		if !slices.ContainsFunc(permitted, func(root string) bool { return within(root, abs) }) {
			return nil, fmt.Errorf("%w: allow_paths entry %s is not permitted on this worker: add it, or a directory above it, to the agent setting task_allow_paths (--task-allow-paths; permitted now: %s)",
				errNotPermitted, d, describeRoots(permitted))
		}
		roots = append(roots, abs)
	}
	return roots, nil
}

// errNotPermitted is the error of an allow_paths entry the worker does not
// permit.
var errNotPermitted = errors.New("path not permitted")

func describeRoots(roots []string) string {
	if len(roots) == 0 {
		return "none"
	}
	return strings.Join(roots, ", ")
}

// realAbs returns d made absolute, with its symbolic links resolved as far
// as it exists.
func realAbs(d string) (string, error) {
	abs, err := filepath.Abs(d)
	if err != nil {
		return "", err
	}
	return resolveExisting(abs), nil
}
