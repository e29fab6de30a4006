package pkgspec

import (
	"fmt"
	"strings"
	"time"

	"github.com/scaleout/scaleout/catalog/ssisexpr"
)

// compileRowSSIS compiles an SSIS row expression (Derived Column,
// Conditional Split) against the input columns and the package names of
// the scope. Columns are read as Name or [Name]; variables and parameters
// as in control flow expressions.
func (p *parser) compileRowSSIS(src string, cols []Column, asBool bool) (*RowExpr, error) {
	e, err := ssisexpr.Parse(src)
	if err != nil {
		return nil, ssisError(src, 0, err)
	}
	names := rowNames{cols: cols, pkg: declaredNames{pkg: p.pkg, sc: p.scope}}
	prog, err := e.Check(names)
	if err != nil {
		return nil, ssisError(src, 0, err)
	}
	re := &RowExpr{Src: src, ssis: prog, refs: []string{}}
	for _, r := range prog.Refs() {
		if !r.Column {
			continue
		}
		i := indexOf(cols, r.Name)
		t, _ := columnSSISType(cols[i].Type)
		re.Cols = append(re.Cols, i)
		re.Names = append(re.Names, r.Name)
		re.colTypes = append(re.colTypes, t)
	}
	if asBool && prog.Type().Kind != ssisexpr.KindBool {
		return nil, &ExprError{Src: src, Msg: fmt.Sprintf("the condition gives %s, not DT_BOOL", prog.Type())}
	}
	re.Type, re.Known = dataTypeOfSSIS(prog.Type())
	return re, nil
}

// rowNames resolves the names of a row expression: columns first, then
// the package's parameters and variables.
type rowNames struct {
	cols []Column
	pkg  declaredNames
}

func (rn rowNames) TypeOf(r ssisexpr.Ref) (ssisexpr.Type, error) {
	if !r.Column {
		return rn.pkg.TypeOf(r)
	}
	i := indexOf(rn.cols, r.Name)
	if i < 0 {
		names := make([]string, len(rn.cols))
		for j, c := range rn.cols {
			names[j] = c.Name
		}
		return ssisexpr.Type{}, fmt.Errorf("no column %q in the input (columns: %s)", r.Name, strings.Join(names, ", "))
	}
	return columnSSISType(rn.cols[i].Type)
}

// columnSSISType is the SSIS type an expression sees a column as.
func columnSSISType(t DataType) (ssisexpr.Type, error) {
	switch t.Name {
	case "DT_WSTR":
		return ssisexpr.Type{Kind: ssisexpr.KindWStr, Length: t.Length}, nil
	case "DT_STR":
		cp := t.CodePage
		if cp == 0 {
			cp = 1252
		}
		return ssisexpr.Type{Kind: ssisexpr.KindStr, Length: t.Length, CodePage: cp}, nil
	case "DT_BYTES":
		return ssisexpr.Type{Kind: ssisexpr.KindBytes, Length: t.Length}, nil
	case "DT_NUMERIC":
		return ssisexpr.Type{Kind: ssisexpr.KindNumeric, Precision: t.Precision, Scale: t.Scale}, nil
	case "DT_DECIMAL":
		return ssisexpr.Type{Kind: ssisexpr.KindDecimal, Precision: t.Precision, Scale: t.Scale}, nil
	case "DT_DBTIMESTAMP2":
		return ssisexpr.Type{Kind: ssisexpr.KindDBTimestamp2, Scale: t.Scale}, nil
	}
	st, err := ssisexpr.ParseType(t.Name)
	if err != nil {
		return ssisexpr.Type{}, fmt.Errorf("column type %s: %v", t, err)
	}
	return st, nil
}

// dataTypeOfSSIS is the column type of an expression's result, if the
// engine has one.
func dataTypeOfSSIS(t ssisexpr.Type) (DataType, bool) {
	switch k := t.Kind; {
	case k == ssisexpr.KindBool, k.IsInteger() && k != ssisexpr.KindUI8, k == ssisexpr.KindR4, k == ssisexpr.KindR8,
		k == ssisexpr.KindDate, k == ssisexpr.KindDBDate, k == ssisexpr.KindDBTimestamp:
		return TypeNamed(k.String()), true
	case k == ssisexpr.KindUI8:
		return TypeNamed("DT_UI8"), true
	case k == ssisexpr.KindNumeric || k == ssisexpr.KindDecimal || k == ssisexpr.KindCY:
		p, s := t.Precision, t.Scale
		if k == ssisexpr.KindCY {
			p, s = 19, 4
		}
		// The engine's decimals hold 18 digits: a wider result keeps its
		// scale and a value that does not fit is a row error (overflow).
		p = min(p, MaxDecimalPrecision)
		s = min(s, p)
		return DataType{Name: "DT_NUMERIC", Precision: p, Scale: s, store: StoreDecimal}, true
	case k == ssisexpr.KindStr, k == ssisexpr.KindWStr, k == ssisexpr.KindText, k == ssisexpr.KindNText:
		name := "DT_WSTR"
		if k == ssisexpr.KindStr {
			name = "DT_STR"
		}
		return DataType{Name: name, Length: t.Length, store: StoreString}, true
	case k == ssisexpr.KindBytes || k == ssisexpr.KindImage:
		return DataType{Name: "DT_BYTES", Length: t.Length, store: StoreBytes}, true
	case k == ssisexpr.KindDBTimestamp2 || k == ssisexpr.KindDBTimestampOffset:
		return DataType{Name: "DT_DBTIMESTAMP2", Scale: t.Scale, store: StoreTime}, true
	}
	return DataType{}, false // times of day and GUIDs have no column type here
}

// SSIS reports whether the row expression is in the SSIS language.
func (x *RowExpr) SSIS() bool { return x.ssis != nil }

// EvalSSIS runs an SSIS row expression. roots holds param, vars and sys
// (as for Expr.Eval); col(i) returns the Go value of column x.Cols[i]
// (nil for NULL). The result is a Go value: decimals come back as their
// exact text, NULL as nil.
func (x *RowExpr) EvalSSIS(roots map[string]any, col func(i int) any) (any, error) {
	v, err := x.ssis.Eval(rowEnv{x: x, names: runtimeNames{env: roots}, col: col})
	if err != nil {
		return nil, ssisError(x.Src, 0, err)
	}
	if v.Null {
		return nil, nil
	}
	switch v.T.Kind {
	case ssisexpr.KindNumeric, ssisexpr.KindDecimal, ssisexpr.KindCY:
		return v.String(), nil
	}
	return v.Go(), nil
}

type rowEnv struct {
	x     *RowExpr
	names runtimeNames
	col   func(i int) any
}

func (e rowEnv) Lookup(r ssisexpr.Ref) (ssisexpr.Value, error) {
	if !r.Column {
		return e.names.Lookup(r)
	}
	for i, n := range e.x.Names {
		if n == r.Name {
			return ssisexpr.FromGo(e.col(i), e.x.colTypes[i])
		}
	}
	return ssisexpr.Value{}, fmt.Errorf("no column %q", r.Name)
}

func (e rowEnv) Now() time.Time { return e.names.Now() }
