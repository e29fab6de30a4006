package pkgspec

import (
	"strings"
	"testing"
)

// The loop variable of a foreach is readable by SSIS expressions: DT_WSTR
// for files and items, the declared type when the loop's variables:
// declares it, and an object (not readable) for the other sources.
func TestParse_ForEachLoopVariableTypes(t *testing.T) {
	ok := `name: ok
expressions: ssis
variables:
  name: {}
  total: {type: int}
tasks:
  - name: files
    foreach:
      var: f
      files: 'in/*.csv'
      variables:
        path: {expression: '@[User::f] + ".bak"'}
      tasks: [{name: a, set: {name: 'TOKEN(@[User::f], "/", TOKENCOUNT(@f, "/")) + @path'}}]
  - name: items
    foreach:
      var: it
      items: [x, y]
      tasks: [{name: b, set: {name: 'UPPER(@it)'}}]
  - name: typed
    foreach:
      var: n
      variables: {n: {type: int}}
      items: ['1', '2']
      tasks: [{name: c, set: {total: '@total + @n * 2'}}]
`
	pkg, err := Parse("ok.yaml", []byte(ok))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	typed := pkg.Tasks[2].ForEach
	if typed.Var != "n" || len(typed.Variables) != 1 || typed.Variables[0].Type != TypeInt {
		t.Errorf("typed loop: var %q variables %+v", typed.Var, typed.Variables)
	}

	bad := `name: bad
expressions: ssis
variables:
  name: {}
  rows: {type: object}
tasks:
  - name: typed
    foreach:
      var: n
      variables: {n: {type: int}}
      items: ['1']
      tasks: [{name: c, set: {name: '@n + "x"'}}]
  - name: rows
    foreach:
      var: r
      csv: data.csv
      tasks: [{name: d, set: {name: '@r'}}]
  - name: twice
    foreach:
      var: k
      variables: {k: {type: int}, j: {}}
      items: ['1']
      tasks: [{name: e, set: {name: '@j'}}]
  - name: exprvar
    foreach:
      var: x
      variables: {x: {expression: '"a"'}}
      items: ['1']
      tasks: [{name: g, set: {name: '@x'}}]
`
	_, err = Parse("bad.yaml", []byte(bad))
	if err == nil {
		t.Fatal("Parse succeeded")
	}
	for _, want := range []string{
		`bad.yaml:12: task "c" set name: expression "@n + \"x\"" at character 4: the data types DT_I8 and DT_WSTR are incompatible`,
		`bad.yaml:17: task "d" set name: expression "@r" at character 1: a variable of type object cannot be used in an SSIS expression`,
		`bad.yaml:27: task "exprvar" foreach var "x" is declared as an expression variable; a loop variable takes the items`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("errors lack\n  %s\ngot:\n%v", want, err)
		}
	}
	if n := strings.Count(err.Error(), "\n") + 1; n != 3 {
		t.Errorf("%d problems, want 3:\n%v", n, err)
	}
	dup := strings.Replace(bad, "{k: {type: int}, j: {}}", "{k: {type: int}, j: {}, k: {}}", 1)
	if _, err := Parse("dup.yaml", []byte(dup)); err == nil || !strings.Contains(err.Error(), `dup.yaml:21: task "twice" foreach declares variable "k" twice`) {
		t.Errorf("a loop variable declared twice: %v", err)
	}
}

// statement_expression is one of the three sources of a statement and is
// checked as an expression; exec arguments is a template.
func TestParse_StatementExpressionAndArguments(t *testing.T) {
	src := `name: p
expressions: ssis
connections: {db: {driver: sqlite, database: x.db}}
variables: {n: {type: int}}
tasks:
  - name: both
    sql: {connection: db, statement: SELECT 1, statement_expression: '"SELECT 2"'}
  - name: typed
    sql: {connection: db, statement_expression: '"SELECT " + @n'}
  - name: args
    exec: {command: [echo], arguments: '${@nope}'}
  - name: fine
    sql: {connection: db, statement_expression: '"SELECT " + (DT_WSTR, 10)@n'}
`
	_, err := Parse("p.yaml", []byte(src))
	if err == nil {
		t.Fatal("Parse succeeded")
	}
	for _, want := range []string{
		`p.yaml:7: task "both" sql needs exactly one of statement, file and statement_expression`,
		`p.yaml:9: task "typed" sql statement_expression: expression "\"SELECT \" + @n" at character 11: the data types DT_WSTR and DT_I8 are incompatible`,
		`p.yaml:11: task "args" exec arguments: expression "@nope" at character 3: variable @[nope] is not declared in this scope`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("errors lack\n  %s\ngot:\n%v", want, err)
		}
	}
	if n := strings.Count(err.Error(), "\n") + 1; n != 3 {
		t.Errorf("%d problems, want 3:\n%v", n, err)
	}
}
