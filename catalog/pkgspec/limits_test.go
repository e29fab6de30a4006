package pkgspec

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/scaleout/scaleout/catalog/pkgspec/pkgspectest"
)

// aliasBomb is the classic "billion laughs" in YAML: 363 bytes that expand
// to 9^9 strings.
var aliasBomb = pkgspectest.AliasBomb()

func wantProblem(t *testing.T, err error, sub string) {
	t.Helper()
	var ve *ValidationError
	if !errors.As(err, &ve) || !strings.Contains(err.Error(), sub) {
		t.Fatalf("error = %v, want a validation problem containing %q", err, sub)
	}
}

// parseBounded parses src and fails the test if it allocated more than
// maxAlloc bytes (a parse that expands without bound also runs without
// bound; allocation is the measure that does not depend on the machine's
// load).
func parseBounded(t *testing.T, src string, maxAlloc uint64) error {
	t.Helper()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := Parse("p.yaml", []byte(src))
	runtime.ReadMemStats(&after)
	if a := after.TotalAlloc - before.TotalAlloc; a > maxAlloc {
		t.Errorf("parse allocated %d MB, want under %d MB", a>>20, maxAlloc>>20)
	}
	return err
}

func TestParse_AliasBombIsRefused(t *testing.T) {
	err := parseBounded(t, aliasBomb, 64<<20)
	wantProblem(t, err, fmt.Sprintf("expands to more than %d YAML nodes", MaxNodes))
}

func TestParse_TooManyTasks(t *testing.T) {
	var b strings.Builder
	b.WriteString("name: many\ntasks:\n")
	for i := range MaxTasks + 5 {
		fmt.Fprintf(&b, "  - {name: t%d, exec: {command: [\"true\"]}}\n", i)
	}
	err := parseBounded(t, b.String(), 1<<30)
	wantProblem(t, err, fmt.Sprintf("more than %d tasks", MaxTasks))
	if n := len(err.(*ValidationError).Problems); n > 5 {
		t.Errorf("%d problems reported, want the limit once:\n%v", n, err)
	}
}

func TestParse_TooLarge(t *testing.T) {
	src := "name: big\ndescription: " + strings.Repeat("x", MaxPackageBytes) + "\ntasks: [{name: a, exec: {command: [x]}}]\n"
	err := parseBounded(t, src, 16<<20)
	wantProblem(t, err, fmt.Sprintf("over the limit of %d", MaxPackageBytes))
}

func TestParseContext_Canceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := ParseContext(ctx, "p.yaml", []byte("name: a\ntasks: [{name: a, exec: {command: [x]}}]\n"))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error = %v, want context.Canceled", err)
	}
}

// TestParse_RunTimeFailuresCaughtEarly: what used to pass validation and
// fail only when run.
func TestParse_RunTimeFailuresCaughtEarly(t *testing.T) {
	tests := []struct{ name, src, want string }{
		{"success code", "name: a\ntasks:\n  - {name: a, exec: {command: [x], success_codes: [0, 999999999999]}}\n",
			"p.yaml:3: task \"a\" exec success_codes entry 999999999999 is not an exit code (0-255)"},
		{"negative success code", "name: a\ntasks:\n  - {name: a, exec: {command: [x], success_codes: [-1]}}\n",
			"entry -1 is not an exit code (0-255)"},
		{"large success code", "name: a\ntasks:\n  - {name: a, exec: {command: [x], success_codes: [256]}}\n",
			"entry 256 is not an exit code (0-255)"},
		{"when not boolean", "name: a\ntasks:\n  - {name: a, when: '1 + 2', exec: {command: [x]}}\n",
			`p.yaml:3: task "a" when: expression "1 + 2" gives int, not a boolean`},
		{"after when not boolean", "name: a\ntasks:\n  - {name: a, exec: {command: [x]}}\n  - {name: b, after: [{task: a, when: '\"x\"'}], exec: {command: [x]}}\n",
			`gives string, not a boolean`},
		{"for condition not boolean", "name: a\ntasks:\n  - name: l\n    for: {condition: '1', tasks: [{name: x, exec: {command: [x]}}]}\n",
			`condition: expression "1" gives int, not a boolean`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("p.yaml", []byte(tt.src))
			wantProblem(t, err, tt.want)
		})
	}
	// A condition whose type depends on run-time values still passes.
	if _, err := Parse("p.yaml", []byte("name: a\nparameters: {n: {type: int, default: 1}}\ntasks:\n  - {name: a, when: 'param.n > 0', exec: {command: [x]}}\n  - {name: b, when: 'vars.x', exec: {command: [x]}}\nvariables: {x: {type: bool, value: 'true'}}\n")); err != nil {
		t.Fatalf("valid conditions refused: %v", err)
	}
}

// TestParse_ParameterAndConnectionCounts: a package declares at most
// MaxParameters parameters and MaxConnections connections (every execution
// carries a value for each parameter: catalog.MaxParams).
func TestParse_ParameterAndConnectionCounts(t *testing.T) {
	var params, conns strings.Builder
	params.WriteString("name: p\nparameters:\n")
	conns.WriteString("name: p\nconnections:\n")
	for i := 0; i <= MaxParameters; i++ {
		fmt.Fprintf(&params, "  p%d: {default: a}\n", i)
		fmt.Fprintf(&conns, "  c%d: {driver: postgres, dsn: x}\n", i)
	}
	tasks := "tasks:\n  - name: a\n    exec: {command: [/bin/true]}\n"
	_, err := Parse("p.yaml", []byte(params.String()+tasks))
	wantProblem(t, err, "p.yaml:3: package has 1025 parameters, over the limit of 1024 (pkgspec.MaxParameters)")
	_, err = Parse("p.yaml", []byte(conns.String()+tasks))
	wantProblem(t, err, "p.yaml:3: 1025 connections, over the limit of 1024 (pkgspec.MaxConnections)")
}
