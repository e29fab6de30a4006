// Package pkgspec defines the scaleout package format: a YAML control flow
// of named tasks (exec, sql, file, http, package, set, and the containers
// sequence, foreach and for) joined by precedence constraints, with typed
// parameters, scoped variables, connections and expressions. It parses and
// validates package files, compiles expressions and ${...} templates
// (github.com/expr-lang/expr), and resolves parameter values given at
// execution time. docs/packages.md describes the format.
//
// A package file looks like this:
//
//	name: hello
//	description: optional text
//	parameters:
//	  who:  {type: string, default: world}
//	  code: {type: int, default: 0}
//	tasks:
//	  - name: greet
//	    exec:
//	      command: [/bin/sh, -c, 'echo "hello ${param.who}"']
//	  - name: finish
//	    after: [greet]
//	    exec:
//	      command: [/bin/sh, -c, 'exit ${param.code}']
//
// Parsing is strict: unknown fields, bad names, dangling or cyclic "after"
// references, parameter references to undeclared parameters and defaults
// that do not match their type are all errors. [Parse] reports every problem
// it finds, each with the file and line, in one [*ValidationError].
//
// Each task has exactly one task type: a pointer field of [Task] and an
// entry in the parser's table of task kinds.
//
// The package imports only the standard library, go.yaml.in/yaml/v3 and
// expr, so every other part of scaleout may depend on it.
package pkgspec
