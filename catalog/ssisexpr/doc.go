// Package ssisexpr implements the SSIS expression language: the language of
// SSIS property expressions, precedence constraints, For Loop expressions,
// variables evaluated as expressions, and the Derived Column and Conditional
// Split transformations. It is a lexer, a parser, a type checker and an
// evaluator that follow SSIS's documented rules (learn.microsoft.com,
// "Integration Services (SSIS) Expressions"): SSIS data types (DT_I4,
// DT_WSTR, DT_NUMERIC, DT_DBTIMESTAMP, ...), numeric literal typing, casts,
// implicit numeric promotion, integer division, NULL propagation,
// three-valued && and ||, case-sensitive string comparison, and the string,
// date, math and NULL functions.
//
// Use it in two steps:
//
//	e, err := ssisexpr.Parse(`@[User::Count] > 10 ? "big" : "small"`)
//	p, err := e.Check(types)      // types: the declared type of every name
//	v, err := p.Eval(env)         // env: the values, and the clock for GETDATE
//
// Parse reports syntax errors, Check type errors (an unknown variable, a
// string compared with a number, a wrong argument count), Eval run-time
// errors (divide by zero, overflow, an invalid date); every error is an
// [*Error] with the 1-based character position in the source where one
// is known. A [*Program] is immutable and safe for concurrent use.
//
// The package imports only the standard library; catalog/pkgspec validates
// packages with it and the executor evaluates with it.
// docs/ssis-expressions.md lists every operator and function with its
// status.
package ssisexpr
