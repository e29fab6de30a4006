package pkgspec

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/builtin"
	"github.com/expr-lang/expr/conf"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"
)

// Limits of a native expression (`expressions: native`, the default). A
// package is at most MaxPackageBytes, but a short expression can still loop
// over loops (all(a, all(a, all(a, true))) is a billion steps for an array
// of a thousand) or double a string in a reduce until the process runs out
// of memory. expr-lang bounds only the arrays and maps it builds itself, so
// every evaluation here carries a meter as well.
const (
	// MaxExprNodes is the most syntax nodes an expression may have (checked
	// when the package is parsed).
	MaxExprNodes = 10_000
	// MaxExprCost bounds the work and allocation of one evaluation. Each
	// iteration of a loop (the predicate of all, map, filter, reduce, ...)
	// costs the number of nodes of its body; each string, array or map an
	// operator or function builds costs its length (a string one per 8
	// bytes), and so does each range, array and map literal. An evaluation
	// over the limit fails with an error naming it. The worst case measured
	// (a loop nested three deep over 999 items) is refused after 0.2 s of
	// CPU; strings built add up to 8 MiB at most.
	MaxExprCost = 1_000_000
)

// ErrExprCost is wrapped by the error of an evaluation over MaxExprCost.
var ErrExprCost = errors.New("expression evaluation over its cost limit")

// Names the cost patch puts into a program: a function and the environment
// key of the meter it charges. A NUL byte cannot be typed in an expression,
// so no package can call or read them.
const (
	costFunc  = "\x00cost"
	costMeter = "\x00meter"
)

// exprMeter is what is left of one evaluation's MaxExprCost.
type exprMeter struct{ left int }

// costOption declares the cost function. Its type is the type of its last
// argument, so the patch changes no static type (a when: stays a boolean).
func costOption() expr.Option {
	return func(c *conf.Config) {
		c.Functions[costFunc] = &builtin.Function{
			Name: costFunc,
			Func: chargeCost,
			Validate: func(args []reflect.Type) (reflect.Type, error) {
				if len(args) != 4 {
					return nil, fmt.Errorf("cost: %d arguments", len(args))
				}
				return args[3], nil
			},
		}
	}
}

// chargeCost(meter, weight, sized, value) charges weight, plus the size of
// value when sized (a value built, not a loop's body), and returns value.
func chargeCost(args ...any) (any, error) {
	m, _ := args[0].(*exprMeter)
	if m == nil { // an environment without a meter: only run by tests of the patch itself
		return args[3], nil
	}
	w, _ := args[1].(int)
	if sized, _ := args[2].(bool); sized {
		w += costOf(args[3])
	}
	m.left -= w
	if m.left < 0 {
		return nil, ErrExprCost
	}
	return args[3], nil
}

// costOf is the size of a value an operation built.
func costOf(v any) int {
	switch v := v.(type) {
	case string:
		return len(v) / 8
	case []any:
		return len(v)
	case map[string]any:
		return len(v)
	case nil, bool, int, float64:
		return 0
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.String:
		return rv.Len() / 8
	case reflect.Slice, reflect.Array, reflect.Map:
		return rv.Len()
	}
	return 0
}

// costPatch wraps in a charge: the body of every closure (once per
// iteration, weighed by its size), every call of a function or builtin, and
// every + that may join strings. It runs once, after a first type check,
// and visits children before their parent, so a node it adds is never
// visited again.
type costPatch struct{}

func (costPatch) Visit(n *ast.Node) {
	switch x := (*n).(type) {
	case *ast.PredicateNode:
		x.Node = costCall(x.Node, nodeCount(x.Node), false)
	case *ast.BuiltinNode:
		*n = costCall(x, 1, true)
	case *ast.CallNode:
		*n = costCall(x, 1, true)
	case *ast.BinaryNode:
		if x.Operator != "+" {
			return
		}
		if t := x.Type(); t == nil || t.Kind() == reflect.String || t.Kind() == reflect.Interface {
			*n = costCall(x, 1, true)
		}
	}
}

func costCall(n ast.Node, weight int, sized bool) ast.Node {
	c := &ast.CallNode{Callee: &ast.IdentifierNode{Value: costFunc},
		Arguments: []ast.Node{&ast.IdentifierNode{Value: costMeter}, &ast.IntegerNode{Value: weight}, &ast.BoolNode{Value: sized}, n}}
	c.SetLocation(n.Location())
	return c
}

// nodeCount is the number of nodes of the tree under n.
func nodeCount(n ast.Node) int {
	var c counter
	ast.Walk(&n, &c)
	return max(int(c), 1)
}

type counter int

func (c *counter) Visit(*ast.Node) { *c++ }

// isCostName reports whether name is one the cost patch added.
func isCostName(name string) bool { return name == costFunc || name == costMeter }

// RunExpr runs a compiled native program against env with the cost limits:
// env is not changed (the meter goes into a copy). machine may be reused
// between runs (nil: a new one).
func RunExpr(machine *vm.VM, prog *vm.Program, env map[string]any) (any, error) {
	run := maps.Clone(env)
	if run == nil {
		run = map[string]any{}
	}
	run[costMeter] = &exprMeter{left: MaxExprCost}
	return runMetered(machine, prog, run)
}

// runMetered runs prog against env, whose costMeter entry the caller has
// set to a fresh meter.
func runMetered(machine *vm.VM, prog *vm.Program, env map[string]any) (any, error) {
	if machine == nil {
		machine = &vm.VM{}
	}
	machine.MemoryBudget = MaxExprCost // the arrays, maps and ranges the VM builds itself
	v, err := machine.Run(prog, env)
	if err != nil {
		return nil, costError(err)
	}
	return v, nil
}

// RunExprReused runs prog against env, an environment the caller keeps
// for its own runs only (the data flow's evaluator): the meter is set in
// env itself, fresh for each run. machine may be reused between runs.
func RunExprReused(machine *vm.VM, prog *vm.Program, env map[string]any) (any, error) {
	env[costMeter] = &exprMeter{left: MaxExprCost}
	return runMetered(machine, prog, env)
}

// costError turns either budget's refusal into ErrExprCost, naming the
// limit; other errors pass unchanged.
func costError(err error) error {
	var fe *file.Error
	over := errors.Is(err, ErrExprCost)
	if !over && errors.As(err, &fe) && strings.Contains(fe.Message, "memory budget exceeded") {
		over = true
	}
	if !over {
		return err
	}
	msg := fmt.Sprintf("evaluation costs more than the limit of %d (pkgspec.MaxExprCost: a loop's iterations weighed by the size of its body, plus the length of every string, array and map built)", MaxExprCost)
	if fe != nil || errors.As(err, &fe) {
		fe.Message = msg
		fe.Prev = ErrExprCost
		return fe
	}
	return fmt.Errorf("%w: %s", ErrExprCost, msg)
}
