// Package pkgspectest holds package fixtures shared by the tests of
// pkgspec and of the packages that run what it parses (executor).
package pkgspectest

import (
	"os"
	"path/filepath"
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
