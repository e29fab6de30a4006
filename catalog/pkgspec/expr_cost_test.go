package pkgspec

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/expr-lang/expr/vm"
)

func costEnv() map[string]any {
	return map[string]any{
		RootParam: map[string]any{"n": 3, "s": "ab"},
		RootVars:  map[string]any{"list": []any{1, 2, 3}},
		RootTasks: map[string]any{},
		RootSys:   map[string]any{"task": "t"},
	}
}

// TestExpr_EvalCostIsBounded: expressions that loop over loops or double a
// string fail with an error naming pkgspec.MaxExprCost instead of running
// for minutes or growing until the process dies. (Without the meter the
// first two succeed after 27 million steps and with a 16 MiB string.)
func TestExpr_EvalCostIsBounded(t *testing.T) {
	for _, src := range []string{
		`let a = 1..300; all(a, all(a, all(a, true)))`,
		`len(reduce(1..24, #acc + #acc, "x"))`,
		`len(join(map(1..200000, sprintf("%0100d", #))))`,
		`len(1..2000000)`,
	} {
		e, err := CompileExpr(src)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		v, err := e.Eval(costEnv())
		if err == nil {
			t.Errorf("%s = %v, want an error over the cost limit", src, v)
			continue
		}
		if !errors.Is(err, ErrExpr) || !strings.Contains(err.Error(), fmt.Sprintf("the limit of %d (pkgspec.MaxExprCost", MaxExprCost)) {
			t.Errorf("%s: %v, want an expression error naming pkgspec.MaxExprCost", src, err)
		}
	}
}

// TestExpr_CostPatchKeepsValuesAndTypes: the meter changes neither the
// value nor the static type of ordinary expressions, and each evaluation
// has its own allowance.
func TestExpr_CostPatchKeepsValuesAndTypes(t *testing.T) {
	for _, c := range []struct {
		src  string
		want any
		typ  reflect.Kind // of the static type; Invalid: not checked
	}{
		{`param.n > 1`, true, reflect.Bool},
		{`upper(param.s) + "x"`, "ABx", reflect.String},
		{`1 + 2`, 3, reflect.Int},
		{`len(filter(vars.list, # > 1)) == 2`, true, reflect.Bool},
		{`reduce(1..10, #acc + #, 0)`, 55, reflect.Invalid},
		{`join(map(vars.list, string(# * 2)), ",")`, "2,4,6", reflect.String},
		{`sprintf("%s-%d", param.s, param.n)`, "ab-3", reflect.Invalid},
		{`let a = 1..3; all(a, # > 0)`, true, reflect.Bool},
		// About 524,000 of the 1,000,000: passes, and again (a fresh meter).
		{`len(reduce(1..21, #acc + #acc, "x"))`, 1 << 21, reflect.Int},
	} {
		e, err := CompileExpr(c.src)
		if err != nil {
			t.Fatalf("%s: %v", c.src, err)
		}
		if c.typ != reflect.Invalid && (e.Type() == nil || e.Type().Kind() != c.typ) {
			t.Errorf("%s: static type %v, want %v", c.src, e.Type(), c.typ)
		}
		env := costEnv()
		for i := 0; i < 2; i++ {
			v, err := e.Eval(env)
			if err != nil || !reflect.DeepEqual(v, c.want) {
				t.Errorf("%s (run %d) = %v, %v; want %v", c.src, i+1, v, err, c.want)
			}
		}
		if len(env) != 4 {
			t.Errorf("%s: Eval changed the caller's environment: %v", c.src, env)
		}
	}
}

// TestExpr_NodeLimit: an expression of more than MaxExprNodes nodes is a
// compile error naming the limit.
func TestExpr_NodeLimit(t *testing.T) {
	src := "1" + strings.Repeat(" + 1", MaxExprNodes)
	_, err := CompileExpr(src)
	if err == nil || !strings.Contains(err.Error(), "pkgspec.MaxExprNodes") {
		t.Fatalf("got %v, want an error naming pkgspec.MaxExprNodes", err)
	}
}

// TestRowExpr_CostIsBoundedPerRow: a data flow row expression runs with a
// fresh meter for each row on a reused VM and environment.
func TestRowExpr_CostIsBoundedPerRow(t *testing.T) {
	big, err := compileRowExpr(`len(reduce(1..24, #acc + #acc, "x"))`, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	ok, err := compileRowExpr(`len(reduce(1..21, #acc + #acc, "x"))`, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	var machine vm.VM
	env := map[string]any{RootParam: map[string]any{}, RootVars: map[string]any{}, RootSys: map[string]any{}}
	if _, err := RunExprReused(&machine, big.Prog, env); !errors.Is(err, ErrExprCost) || !strings.Contains(err.Error(), "pkgspec.MaxExprCost") {
		t.Fatalf("row over the limit: %v", err)
	}
	for i := 0; i < 3; i++ {
		if v, err := RunExprReused(&machine, ok.Prog, env); err != nil || v != 1<<21 {
			t.Fatalf("row %d: %v %v", i, v, err)
		}
	}
}

// FuzzExprEval: no expression makes compiling or evaluating panic, and
// every failure is an expression error; the seeds include the cost bombs.
func FuzzExprEval(f *testing.F) {
	for _, s := range []string{
		`param.n > 1`, `upper(param.s) + "x"`, `map(vars.list, # * 2)`, `sum(1..10)`,
		`let a = 1..999; all(a, all(a, all(a, true)))`,
		`reduce(1..40, #acc + #acc, "x")`,
		`1..100000000`, `repeat("x", 1000000) + repeat("y", 1000000)`,
		`map(1..1000, map(1..1000, map(1..1000, #)))`,
		`sprintf("%0999999d", 1) + sprintf("%0999999d", 1)`,
		`toJSON(map(1..100000, {"a": #}))`,
		`count(1..1000000, count(1..1000000, true) > 0)`,
		`sortBy(map(1..100000, -#), #)`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		e, err := CompileExpr(src)
		if err != nil {
			if !errors.Is(err, ErrExpr) {
				t.Fatalf("%q: compile error %v is not an expression error", src, err)
			}
			return
		}
		if _, err := e.Eval(costEnv()); err != nil && !errors.Is(err, ErrExpr) {
			t.Fatalf("%q: evaluation error %v is not an expression error", src, err)
		}
	})
}
