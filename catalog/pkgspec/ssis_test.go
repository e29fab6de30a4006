package pkgspec

import (
	"fmt"
	"strings"
	"testing"
)

// Validation of a package with expressions: ssis type-checks every
// expression against the declared parameters and variables and names the
// field, line and character of each problem.
func TestParse_SSISExpressionErrors(t *testing.T) {
	src := `name: bad
expressions: ssis
parameters:
  n: {type: int, default: 5}
variables:
  count: {type: int}
  s: {}
  o: {type: object}
tasks:
  - name: a
    when: '@[User::count] == "x"'
    set: {count: '@[User::nope] + 1', s: '@[$Package::n]'}
  - name: b
    exec: {command: [echo, '${@[System::Bogus]}', '${1 +}', '${@count + 1}', '${@o}']}
  - name: c
    when: '@count + 1'
    set: {s: '"a" + @[$Package::missing]'}
  - name: d
    when: 'param.n > 1'
    exec: {command: ["true"]}
  - name: e
    for:
      init: {i: '0'}
      condition: '@i < 3'
      tasks: [{name: e1, exec: {command: ["true"]}}]
`
	_, err := Parse("bad.yaml", []byte(src))
	wantProblems(t, err, "bad.yaml", []want{
		{11, `task "a" when: expression "@[User::count] == \"x\"" at character 16: the data types DT_I8 and DT_WSTR are incompatible for binary operator "=="`},
		{12, `task "a" set count: expression "@[User::nope] + 1" at character 1: variable @[User::nope] is not declared in this scope`},
		{14, `task "b" exec command[1]: expression "@[System::Bogus]" at character 3: unknown system variable @[System::Bogus] (supported: ContainerStartTime, ErrorCode, ErrorDescription, ExecutionInstanceGUID, MachineName, PackageName, Propagate, ServerExecutionID, SourceName, StartTime, TaskName, UserName, VariableName)`},
		{14, `task "b" exec command[2]: expression "1 +" at character 6: unexpected end of expression`},
		{14, `task "b" exec command[4]: expression "@o" at character 3: a variable of type object cannot be used in an SSIS expression`},
		{16, `task "c" when: expression "@count + 1" gives DT_I8, not DT_BOOL`},
		{17, `task "c" set s: expression "\"a\" + @[$Package::missing]" at character 7: @[$Package::missing] names undeclared parameter "missing"`},
		{19, `task "d" when: expression "param.n > 1" at character 1: unknown name param.n: outside a data flow, variables need an @`},
		{24, `task "e" for condition: expression "@i < 3" at character 1: a variable of type object cannot be used in an SSIS expression (declare it with a type: string, int, float, bool, datetime)`},
	})
}

func TestParse_SSISExpressionsField(t *testing.T) {
	ok := "name: x\nexpressions: %s\nvariables: {n: {type: int}}\ntasks:\n  - {name: a, set: {n: '%s'}}\n"
	for _, c := range []struct{ lang, expr, err string }{
		{"ssis", "@n + 1", ""},
		{"native", "vars.n + 1", ""},
		{"native", "@n + 1", "unrecognized character"},
		{"ssis", "vars.n + 1", "unknown name vars.n"},
		{"python", "1", `package expressions "python" is not a language (want one of: native, ssis)`},
	} {
		pkg, err := Parse("x.yaml", []byte(fmt.Sprintf(ok, c.lang, c.expr)))
		switch {
		case c.err == "" && err != nil:
			t.Errorf("%s %q: %v", c.lang, c.expr, err)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%s %q: error %v, want %q", c.lang, c.expr, err, c.err)
		case c.err == "" && pkg.ExprLang() != c.lang:
			t.Errorf("ExprLang() = %q, want %q", pkg.ExprLang(), c.lang)
		}
	}
}

// Data flow expressions of an SSIS package are checked against the
// input columns: unknown columns, type errors, conditions that are not
// DT_BOOL; derived column types come from the expression's SSIS type.
func TestParse_SSISDataFlow(t *testing.T) {
	src := `name: df
expressions: ssis
variables: {tag: {}}
tasks:
  - name: load
    dataflow:
      components:
        - name: src
          flat_file_source:
            path: in.csv
            columns:
              - {name: id, type: DT_I4}
              - {name: amount, type: 'DT_NUMERIC(10,2)'}
              - {name: Order Date, type: DT_DBDATE}
        - name: d
          derived_column:
            input: src
            columns:
              - {name: a, expression: 'id / 2'}
              - {name: b, expression: '(DT_WSTR, 12)amount + @[User::tag]'}
              - {name: c, expression: 'YEAR([Order Date])'}
              - {name: e, expression: 'amount * 2'}
              - {name: f, expression: 'qty + 1'}
              - {name: g, expression: 'id + "x"'}
        - name: s
          conditional_split:
            input: d
            cases:
              - {output: big, condition: 'amount > 100'}
              - {output: bad, condition: 'id + 1'}
`
	_, err := Parse("df.yaml", []byte(src))
	wantProblems(t, err, "df.yaml", []want{
		{23, `task "load" dataflow component "d" column "f": expression "qty + 1" at character 1: no column "qty" in the input (columns: id, amount, Order Date)`},
		{24, `task "load" dataflow component "d" column "g": expression "id + \"x\"" at character 4: the data types DT_I4 and DT_WSTR are incompatible`},
		{30, `task "load" dataflow component "s" case "bad": expression "id + 1": the condition gives DT_I4, not DT_BOOL`},
	})
	ok := strings.NewReplacer("              - {name: f, expression: 'qty + 1'}\n", "", "              - {name: g, expression: 'id + \"x\"'}\n", "",
		"              - {output: bad, condition: 'id + 1'}\n", "").Replace(src)
	pkg, err := Parse("df.yaml", []byte(ok))
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]string{}
	for _, dc := range pkg.Tasks[0].DataFlow.Components[1].Derived {
		types[dc.Name] = dc.Type.String()
	}
	want := map[string]string{"a": "DT_I4", "b": "DT_WSTR", "c": "DT_I4", "e": "DT_NUMERIC(18,2)"}
	if fmt.Sprint(types) != fmt.Sprint(want) {
		t.Errorf("derived types %v, want %v", types, want)
	}
}

func TestParse_ExpressionVariables(t *testing.T) {
	src := `name: ev
expressions: ssis
variables:
  a: {type: int, expression: '@b + 1'}
  b: {type: int}
  c: {value: x, expression: '"y"'}
  d: {type: int, expression: '@d + 1'}
  e: {expression: '1 +'}
tasks:
  - {name: s, set: {c: '"z"'}}
`
	_, err := Parse("ev.yaml", []byte(src))
	wantProblems(t, err, "ev.yaml", []want{
		{4, `variable "a" expression reads variable "b", which is not declared before it`},
		{6, `variable "c" has both a value and an expression`},
		{7, `variable "d" expression reads variable "d", which is not declared before it`},
		{8, `variable "e" expression: expression "1 +" at character 4: unexpected end of expression`},
		{10, `task "s" set assigns variable "c", which is evaluated as an expression (read-only)`},
	})
}
