package pkgspec

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzParseLimits: no input makes the parser panic, hang or run away; a package
// it accepts is within the limits.
func FuzzParseLimits(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "*.yaml"))
	for _, p := range files {
		if src, err := os.ReadFile(p); err == nil {
			f.Add(src)
		}
	}
	f.Add([]byte(aliasBomb))
	f.Add([]byte("name: a\ntasks:\n  - {name: a, when: 'param.x > 1', exec: {command: [x], success_codes: [0, 3]}}\nparameters: {x: {type: int, default: 1}}\n"))
	f.Add([]byte("name: a\ntasks:\n  - name: l\n    for: {init: {i: '0'}, condition: 'vars.i < 3', step: {i: 'vars.i + 1'}, tasks: [{name: x, set: {}}]}\n"))
	f.Add([]byte("name: s\nexpressions: ssis\nvariables: {n: {type: int}, p: {expression: '(DT_WSTR, 5)@n + \"x\"'}}\nhandlers: {on_error: [{name: h, set: {Propagate: 'FALSE'}}]}\ntasks:\n  - {name: a, when: '@n > 1 && @[System::PackageName] == \"s\"', handlers: {on_pre_execute: [{name: b, set: {n: '@n + 1'}}]}, set: {n: 'LEN(@p)'}}\n"))
	f.Add([]byte("a: &a [*a]\n"))
	f.Add([]byte("---\n---\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		pkg, err := ParseContext(ctx, "f.yaml", src)
		if err != nil {
			return
		}
		n := 0
		var count func(ts []*Task)
		count = func(ts []*Task) {
			for _, t := range ts {
				n++
				if b := t.Body(); b != nil {
					count(b.Tasks)
				}
			}
		}
		count(pkg.Tasks)
		if n == 0 || n > MaxTasks {
			t.Fatalf("accepted a package with %d tasks", n)
		}
	})
}
