package pkgspec

import (
	"errors"
	"strings"
	"testing"
)

// okTasks is a valid task list for cases that test something else.
const okTasks = "tasks: [{name: t, exec: {command: [x]}}]\n"

// want is an expected problem: its line and a substring of its message.
type want struct {
	line int
	msg  string
}

// wantProblems fails the test unless err is a *ValidationError with
// exactly the problems want, in order, all in file.
func wantProblems(t *testing.T, err error, file string, want []want) {
	t.Helper()
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("Parse error = %v, want %d problems", err, len(want))
	}
	if len(ve.Problems) != len(want) {
		t.Fatalf("got %d problems, want %d:\n%v", len(ve.Problems), len(want), err)
	}
	for i, w := range want {
		if p := ve.Problems[i]; p.Line != w.line || !strings.Contains(p.Msg, w.msg) || p.File != file {
			t.Errorf("problem %d = %v\nwant %s:%d containing %q", i, p, file, w.line, w.msg)
		}
	}
}

func TestParse_Problems(t *testing.T) {
	long := strings.Repeat("n", MaxNameLen+1)
	tests := []struct {
		name string
		src  string
		want []want // exactly these problems, in order
	}{
		// YAML itself.
		{"yaml syntax error", "name: a\n  b: c\n", []want{{2, "YAML syntax error: mapping values are not allowed in this context"}}},
		{"yaml unclosed flow", "name: a\ntasks: [\n", []want{{2, "YAML syntax error: did not find expected node content"}}},
		{"yaml unknown alias", "name: *x\n" + okTasks, []want{{0, `YAML syntax error: unknown anchor 'x' referenced`}}},
		{"empty file", "", []want{{0, "file is empty"}}},
		{"comment only", "# nothing\n", []want{{0, "file is empty"}}},
		{"two documents", "name: a\n" + okTasks + "---\nname: b\n", []want{{3, "file holds more than one YAML document"}}},
		{"root not mapping", "- a\n", []want{{1, "package must be a YAML mapping"}}},

		// Strict fields.
		{"unknown package field", "name: a\ndescripton: x\n" + okTasks, []want{{2, `unknown field "descripton" in package (did you mean "description"?)`}}},
		{"unknown field far from any", "name: a\nzzzzzz: 1\n" + okTasks, []want{{2, `unknown field "zzzzzz" in package (known fields: name, description, parameters, variables, connections, max_parallel, max_errors, timeout, allow_paths, entry_point, expressions, handlers, notify, tasks)`}}},
		{"duplicate package field", "name: a\nname: b\n" + okTasks, []want{{2, `duplicate field "name" in package (first at line 1)`}}},
		{"non-string key", "name: a\n[x]: 1\n" + okTasks, []want{{2, "package has a key that is not a string"}}},
		{"unknown task field", "name: a\ntasks:\n  - name: t\n    afterr: [x]\n    exec: {command: [x]}\n", []want{{4, `unknown field "afterr" in task "t" (did you mean "after"?)`}}},
		{"unknown exec field", "name: a\ntasks:\n  - name: t\n    exec:\n      comand: [x]\n", []want{{4, `task "t" exec has no command`}, {5, `unknown field "comand" in task "t" exec (did you mean "command"?)`}}},
		{"unknown parameter field", "name: a\nparameters:\n  p: {typ: int, default: x}\n" + okTasks, []want{{3, `unknown field "typ" in parameter "p" (did you mean "type"?)`}}},
		{"duplicate task field", "name: a\ntasks:\n  - name: t\n    name: u\n    exec: {command: [x]}\n", []want{{4, `duplicate field "name" in task "t" (first at line 3)`}}},

		// Package name.
		{"missing package name", okTasks, []want{{0, "package has no name"}}},
		{"empty package name", "name: ''\n" + okTasks, []want{{1, "package name is empty"}}},
		{"null package name", "name:\n" + okTasks, []want{{1, "package name is empty"}}},
		{"package name not a string", "name: [a]\n" + okTasks, []want{{1, "package name must be a string"}}},
		{"package name too long", "name: " + long + "\n" + okTasks, []want{{1, "name is 129 characters long (at most 128 allowed)"}}},
		{"package name with <", "name: a<b\n" + okTasks, []want{{1, `invalid package name "a<b": name contains '<'`}}},
		{"package name with quote", "name: 'a\"b'\n" + okTasks, []want{{1, `name contains '"'`}}},
		{"package name with control char", "name: \"a\\x01b\"\n" + okTasks, []want{{1, "name contains control character U+0001"}}},
		{"package name with leading space", "name: ' a'\n" + okTasks, []want{{1, "name has leading or trailing white space"}}},
		{"package name with trailing tab", "name: \"a\\t\"\n" + okTasks, []want{{1, "name contains control character U+0009"}}},
		{"package name with trailing nbsp", "name: \"a\\u00a0\"\n" + okTasks, []want{{1, "name has leading or trailing white space"}}},

		// Tasks.
		{"no tasks key", "name: a\n", []want{{0, "package has no tasks"}}},
		{"empty task list", "name: a\ntasks: []\n", []want{{2, "package has no tasks"}}},
		{"null task list", "name: a\ntasks:\n", []want{{2, "package has no tasks"}}},
		{"tasks not a list", "name: a\ntasks: {t: 1}\n", []want{{2, "tasks must be a list of tasks"}}},
		{"task not a mapping", "name: a\ntasks:\n  - t\n", []want{{3, "task #1 must be a mapping with a name and a task type"}}},
		{"task without name", "name: a\ntasks:\n  - exec: {command: [x]}\n", []want{{3, "task #1 has no name"}}},
		{"task with empty name", "name: a\ntasks:\n  - name: ''\n    exec: {command: [x]}\n", []want{{3, "task #1 has an empty name"}}},
		{"task name invalid", "name: a\ntasks:\n  - name: a|b\n    exec: {command: [x]}\n", []want{{3, `invalid task name "a|b": name contains '|'`}}},
		{"task name too long", "name: a\ntasks:\n  - name: " + long + "\n    exec: {command: [x]}\n", []want{{3, "at most 128 allowed"}}},
		{"duplicate task names", "name: a\ntasks:\n  - {name: t, exec: {command: [x]}}\n  - {name: u, exec: {command: [x]}}\n  - {name: t, exec: {command: [x]}}\n", []want{{5, `duplicate task name "t" (lines 3 and 5)`}}},
		{"after unknown task", "name: a\ntasks:\n  - name: t\n    after: [u]\n    exec: {command: [x]}\n", []want{{4, `task "t": after names unknown task "u"`}}},
		{"after itself", "name: a\ntasks:\n  - name: t\n    after:\n      - t\n    exec: {command: [x]}\n", []want{{5, `task "t" lists itself in after`}}},
		{"after twice", "name: a\ntasks:\n  - {name: u, exec: {command: [x]}}\n  - {name: t, after: [u, u], exec: {command: [x]}}\n", []want{{4, `task "t" lists "u" twice in after`}}},
		{"after not a list", "name: a\ntasks:\n  - {name: t, after: {u: 1}, exec: {command: [x]}}\n", []want{{3, `task "t" after must be a list of task names`}}},
		{"cycle of two", "name: a\ntasks:\n  - {name: x, exec: {command: [x]}}\n  - {name: a, after: [b], exec: {command: [x]}}\n  - {name: b, after: [a], exec: {command: [x]}}\n",
			[]want{{4, "dependency cycle: a -> b -> a"}}},
		{"cycle of three", "name: a\ntasks:\n  - {name: a, after: [c], exec: {command: [x]}}\n  - {name: b, after: [a], exec: {command: [x]}}\n  - {name: c, after: [b, x], exec: {command: [x]}}\n  - {name: x, exec: {command: [x]}}\n",
			[]want{{3, "dependency cycle: a -> c -> b -> a"}}},
		{"two cycles", "name: a\ntasks:\n  - {name: a, after: [b], exec: {command: [x]}}\n  - {name: b, after: [a], exec: {command: [x]}}\n  - {name: c, after: [d], exec: {command: [x]}}\n  - {name: d, after: [c], exec: {command: [x]}}\n",
			[]want{{3, "dependency cycle: a -> b -> a"}, {5, "dependency cycle: c -> d -> c"}}},
		{"no task type", "name: a\ntasks:\n  - name: t\n", []want{{3, `task "t" has no task type (want one of: exec, sql, file, http, mail, bulk_insert, package, set, dataflow, sequence, foreach, for, unsupported)`}}},
		// Two task types: see TestParse_TwoTaskTypes.

		// Mail.
		{"mail without connection and recipient", "name: a\ntasks:\n  - name: t\n    mail: {from: a@x.org}\n", []want{{4, `task "t" mail has no connection`}, {4, `task "t" mail has no recipient (to, cc or bcc)`}}},
		{"mail without from", "name: a\nconnections: {m: {driver: smtp, dsn: 'smtp://h'}}\ntasks:\n  - name: t\n    mail: {connection: m, to: b@x.org}\n", []want{{5, `task "t" mail has no from`}}},
		{"mail bad priority", "name: a\nconnections: {m: {driver: smtp, dsn: 'smtp://h'}}\ntasks:\n  - name: t\n    mail: {connection: m, from: a@x.org, to: b@x.org, priority: urgent}\n", []want{{5, `task "t" mail has unknown priority "urgent" (want one of: low, normal, high)`}}},
		{"mail body twice", "name: a\nconnections: {m: {driver: smtp, dsn: 'smtp://h'}}\ntasks:\n  - name: t\n    mail: {connection: m, from: a@x.org, to: b@x.org, body: x, body_file: y}\n", []want{{5, `task "t" mail has both body and body_file`}}},

		// Exec.
		{"exec without command", "name: a\ntasks:\n  - name: t\n    exec: {dir: /tmp}\n", []want{{4, `task "t" exec has no command`}}},
		{"exec empty command", "name: a\ntasks:\n  - name: t\n    exec: {command: []}\n", []want{{4, `task "t" exec command is empty`}}},
		{"exec empty program", "name: a\ntasks:\n  - name: t\n    exec: {command: ['', x]}\n", []want{{4, `task "t" exec command[0] (the program) is empty`}}},
		{"exec command a string", "name: a\ntasks:\n  - name: t\n    exec: {command: echo hi}\n", []want{{4, `task "t" exec command must be a list`}}},
		{"exec argument not a string", "name: a\ntasks:\n  - name: t\n    exec:\n      command:\n        - x\n        - [y]\n", []want{{7, `task "t" exec command[1] must be a string`}}},
		{"exec not a mapping", "name: a\ntasks:\n  - name: t\n    exec: [x]\n", []want{{4, `task "t" exec must be a mapping with a command`}}},
		{"exec env not a mapping", "name: a\ntasks:\n  - name: t\n    exec: {command: [x], env: [A]}\n", []want{{4, `task "t" exec env must be a mapping`}}},
		{"exec env bad name", "name: a\ntasks:\n  - name: t\n    exec:\n      command: [x]\n      env: {'A=B': x}\n", []want{{6, `task "t" exec env has invalid variable name "A=B"`}}},

		// Parameters.
		{"parameters not a mapping", "name: a\nparameters: [p]\n" + okTasks, []want{{2, "parameters must be a mapping"}}},
		{"parameter not a mapping", "name: a\nparameters:\n  p: 1\n" + okTasks, []want{{3, `parameter "p" must be a mapping`}}},
		{"duplicate parameter", "name: a\nparameters:\n  p: {}\n  p: {}\n" + okTasks, []want{{4, `duplicate parameter "p" (lines 3 and 4)`}}},
		{"unknown parameter type", "name: a\nparameters:\n  p: {type: integer}\n" + okTasks, []want{{3, `parameter "p" has unknown type "integer" (want one of: string, int, float, bool, datetime)`}}},
		{"int default mismatch", "name: a\nparameters:\n  p:\n    type: int\n    default: 1.5\n" + okTasks, []want{{5, `parameter "p" default "1.5" does not match type int: not a 64-bit integer`}}},
		{"float default mismatch", "name: a\nparameters:\n  p: {type: float, default: .inf}\n" + okTasks, []want{{3, `default ".inf" does not match type float: not a finite number`}}},
		{"bool default mismatch", "name: a\nparameters:\n  p: {type: bool, default: yes}\n" + okTasks, []want{{3, `default "yes" does not match type bool: not true or false`}}},
		{"datetime default mismatch", "name: a\nparameters:\n  p: {type: datetime, default: 2024-01-02}\n" + okTasks, []want{{3, `default "2024-01-02" does not match type datetime: not an RFC 3339`}}},
		{"sensitive default hidden", "name: a\nparameters:\n  p: {type: int, sensitive: true, default: hunter2}\n" + okTasks, []want{{3, `parameter "p" default (sensitive value hidden) does not match type int`}}},
		{"required with default", "name: a\nparameters:\n  p:\n    required: true\n    default: x\n" + okTasks, []want{{5, `parameter "p" is required and so cannot have a default`}}},
		{"default not a scalar", "name: a\nparameters:\n  p: {default: [1]}\n" + okTasks, []want{{3, `parameter "p" default must be a single value`}}},
		{"default null", "name: a\nparameters:\n  p: {default: ~}\n" + okTasks, []want{{3, `parameter "p" default must be a single value`}}},
		{"required not a bool", "name: a\nparameters:\n  p: {required: maybe}\n" + okTasks, []want{{3, `parameter "p" required must be true or false`}}},
		{"sensitive not a bool", "name: a\nparameters:\n  p: {sensitive: 1, default: x}\n" + okTasks, []want{{3, `parameter "p" sensitive must be true or false`}}},
		{"parameter name with dash", "name: a\nparameters:\n  a-b: {default: x}\n" + okTasks, []want{{3, `invalid parameter name "a-b": name must match ^[A-Za-z_][A-Za-z0-9_]*$`}}},
		{"parameter name with digit first", "name: a\nparameters:\n  9x: {default: x}\n" + okTasks, []want{{3, `invalid parameter name "9x"`}}},
		{"parameter name too long", "name: a\nparameters:\n  " + long + ": {default: x}\n" + okTasks, []want{{3, "at most 128 allowed"}}},

		// ${param.X} references.
		{"undeclared param in command", "name: a\ntasks:\n  - name: t\n    exec:\n      command:\n        - sh\n        - 'echo ${param.who}'\n", []want{{7, `task "t" exec command[1] references undeclared parameter "who"`}}},
		{"undeclared param in env", "name: a\nparameters: {who: {default: x}}\ntasks:\n  - name: t\n    exec:\n      command: [x]\n      env:\n        A: '${param.who}${param.whom}'\n", []want{{8, `task "t" exec env A references undeclared parameter "whom"`}}},
		{"undeclared param in dir", "name: a\ntasks:\n  - name: t\n    exec:\n      command: [x]\n      dir: /data/${param.d}\n", []want{{6, `task "t" exec dir references undeclared parameter "d"`}}},
		{"non-param reference", "name: a\ntasks:\n  - name: t\n    exec: {command: [sh, -c, 'echo ${HOME}']}\n", []want{{4, `task "t" exec command[2]: expression "HOME" at character 8: unknown name "HOME"`}}},
		{"empty param reference", "name: a\ntasks:\n  - name: t\n    exec: {command: ['${param.}']}\n", []want{{4, `task "t" exec command[0]: expression "param." at character 8: unexpected end of expression`}}},
		{"unterminated reference", "name: a\ntasks:\n  - name: t\n    exec: {command: ['${param.x']}\n", []want{{4, `task "t" exec command[0]: bad reference: unterminated "${"`}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pkg, err := Parse("p.yaml", []byte(tt.src))
			if pkg != nil {
				t.Errorf("Parse returned a package with its problems")
			}
			wantProblems(t, err, "p.yaml", tt.want)
		})
	}
}
