// Package pkgspectest holds package fixtures shared by the tests of
// pkgspec and of the packages that run what it parses (executor).
package pkgspectest

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
