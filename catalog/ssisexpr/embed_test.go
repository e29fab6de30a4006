package ssisexpr

import _ "embed"

// The table tests' sources double as fuzz seeds.
var (
	//go:embed expr_test.go
	exprTestSrc string
	//go:embed funcs_test.go
	funcsTestSrc string
)
