// Package pkgspec defines scaleout package format v0: a YAML workflow of
// named tasks with typed parameters. It parses and validates package files,
// resolves parameter values given at execution time, and interpolates
// ${param.NAME} references.
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
// Each task has exactly one task type. v0 knows only "exec"; further types
// (sql, file, http, ...) become further pointer fields on [Task] and further
// entries in the parser's table of task kinds.
//
// The package imports only the standard library and go.yaml.in/yaml/v3, so
// every other part of scaleout may depend on it.
package pkgspec
