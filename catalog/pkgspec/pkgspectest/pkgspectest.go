// Package pkgspectest holds package fixtures shared by the tests of
// pkgspec and of the packages that run what it parses (executor).
package pkgspectest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// HelloYAML is a small valid package: two exec tasks in sequence, two
// parameters with defaults, a description.
const HelloYAML = `name: hello
description: optional text
parameters:
  who:  {type: string, default: world}
  code: {type: int, default: 0}
tasks:
  - name: greet
    exec:
      command: [/bin/sh, -c, 'echo "hello ${param.who}"']
  - name: finish
    after: [greet]
    exec:
      command: [/bin/sh, -c, 'exit ${param.code}']
`

// AliasBomb returns the classic "billion laughs" in YAML, the parser
// attack of issue 10: nine levels of nine aliases, 363 bytes that expand
// to 9^9 strings.
//
//	name: bomb
//	a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
//	b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
//	...
//	i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
//	tasks: *i
func AliasBomb() string {
	var b strings.Builder
	b.WriteString("name: bomb\n")
	item := `"lol"`
	for level := 'a'; level <= 'i'; level++ {
		fmt.Fprintf(&b, "%c: &%c [%s]\n", level, level, strings.TrimSuffix(strings.Repeat(item+",", 9), ","))
		item = "*" + string(level)
	}
	b.WriteString("tasks: *i\n")
	return b.String()
}

// WriteFiles writes a tree of fixture files under dir: files maps a
// slash-separated path relative to dir to the file's content. Missing
// directories are created.
func WriteFiles(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for rel, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
