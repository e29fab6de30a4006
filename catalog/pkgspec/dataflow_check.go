package pkgspec

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
)

// checkDataFlow resolves the paths of a data flow, orders its components,
// and derives and checks the column metadata of every path: a column that
// does not exist, a type that does not fit, or a path to nowhere is a
// problem with the line of the field that says it.
func (p *parser) checkDataFlow(what string, df *DataFlowTask) {
	byName := map[string]*Component{}
	for _, c := range df.Components {
		byName[c.Name] = c
	}
	// Kahn's algorithm in file order.
	indeg := map[*Component]int{}
	users := map[*Component][]*Component{}
	for _, c := range df.Components {
		for _, in := range c.Inputs {
			up := byName[in.Component]
			switch {
			case in.Component == "":
			case up == nil:
				p.addf(in.Line, "%s component %q reads unknown component %q (known: %s)", what, c.Name, in.Component, strings.Join(compNames(df), ", "))
			case up == c:
				p.addf(in.Line, "%s component %q reads itself", what, c.Name)
			case IsDestination(up.Type):
				p.addf(in.Line, "%s component %q reads %q, a destination, which has no output", what, c.Name, up.Name)
			default:
				indeg[c]++
				users[up] = append(users[up], c)
			}
		}
	}
	var ready []*Component
	for _, c := range df.Components {
		if indeg[c] == 0 {
			ready = append(ready, c)
		}
	}
	for len(ready) > 0 {
		c := ready[0]
		ready = ready[1:]
		df.Order = append(df.Order, c)
		for _, u := range users[c] {
			if indeg[u]--; indeg[u] == 0 {
				ready = append(ready, u)
			}
		}
	}
	if len(df.Order) < len(df.Components) {
		var cyc []string
		line := 0
		for _, c := range df.Components {
			if indeg[c] > 0 {
				cyc = append(cyc, c.Name)
				if line == 0 {
					line = c.Line
				}
			}
		}
		p.addf(line, "%s has a cycle through components %s (a data flow is acyclic)", what, strings.Join(cyc, ", "))
		return
	}
	for _, c := range df.Order {
		cw := fmt.Sprintf("%s component %q", what, c.Name)
		ok := true
		for _, in := range c.Inputs {
			o := p.resolvePath(cw, c, in, byName)
			if o == nil {
				ok = false
				continue
			}
			c.In = append(c.In, o)
		}
		if !ok {
			continue // the error is reported; metadata below would only repeat it
		}
		p.componentOutputs(cw, c)
		if c.Type == CompMergeJoin && len(c.Inputs) == 2 {
			p.checkIndependentInputs(cw, c, byName)
		}
	}
}

// checkIndependentInputs refuses a merge join whose two inputs come from a
// common upstream component (a multicast, a conditional split, or one
// source through two branches). The engine streams through bounded
// buffers: while the join waits for rows on one input, the other input's
// buffer fills, the shared component blocks writing to it, and neither
// input moves again. SSIS would buffer without bound instead; here the
// data flow must read the two sides independently (two sources, or land
// one side in a file first).
func (p *parser) checkIndependentInputs(cw string, c *Component, byName map[string]*Component) {
	left := upstream(c.Inputs[0].Component, byName)
	right := upstream(c.Inputs[1].Component, byName)
	var common []string
	for _, up := range slices.Sorted(maps.Keys(left)) {
		if right[up] {
			common = append(common, up)
		}
	}
	// Name the nearest shared component: the one no other shared one reads.
	for _, x := range common {
		nearest := true
		for _, y := range common {
			if y != x && upstream(y, byName)[x] {
				nearest = false
				break
			}
		}
		if nearest {
			p.addf(c.line("inputs"), "%s: both inputs come from %q, so the join could wait forever on one input while the other's buffer is full; read each side from its own source", cw, x)
			return
		}
	}
}

// upstream returns name and every component it reads from, directly or not.
func upstream(name string, byName map[string]*Component) map[string]bool {
	seen := map[string]bool{}
	stack := []string{name}
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		c := byName[n]
		if c == nil || seen[n] {
			continue
		}
		seen[n] = true
		for _, in := range c.Inputs {
			stack = append(stack, in.Component)
		}
	}
	return seen
}

func compNames(df *DataFlowTask) []string {
	var out []string
	for _, c := range df.Components {
		out = append(out, c.Name)
	}
	return out
}

// defaultOutput is the output a bare component name reads.
func defaultOutput(c *Component) string {
	switch c.Type {
	case CompLookup:
		return OutputMatch
	case CompConditionalSplt, CompMulticast:
		return ""
	}
	return OutputDefault
}

// resolvePath finds the output in reads, marking it used.
func (p *parser) resolvePath(cw string, c *Component, in *PathRef, byName map[string]*Component) *Output {
	up := byName[in.Component]
	if up == nil || in.Component == "" {
		return nil
	}
	if up.Outputs == nil {
		return nil // upstream failed its own checks
	}
	var names []string
	for _, o := range up.Outputs {
		names = append(names, up.Name+"."+o.Name)
	}
	if in.Output == "" {
		in.Output = defaultOutput(up)
		if in.Output == "" {
			p.addf(in.Line, "%s: %q has several outputs; name one of %s", cw, up.Name, strings.Join(names, ", "))
			return nil
		}
	}
	o := up.Output(in.Output)
	if o == nil {
		p.addf(in.Line, "%s reads %q, which is not an output (outputs: %s)", cw, in.String(), strings.Join(names, ", "))
		return nil
	}
	if o.Used {
		p.addf(in.Line, "%s reads %q, which another component reads already (an output feeds one path; use a multicast)", cw, in.String())
		return nil
	}
	if o.Error && up.OnError != OnErrorRedirect {
		p.addf(in.Line, "%s reads %q but %q does not redirect errors (set on_error: redirect)", cw, in.String(), up.Name)
	}
	o.Used = true
	return o
}

// errorOutput is the error output of a component whose rows have cols.
func errorOutput(cols []Column) *Output {
	out := slices.Clone(cols)
	out = append(out,
		Column{Name: ErrorCodeColumn, Type: TypeNamed("DT_I4")},
		Column{Name: ErrorColumnColumn, Type: TypeNamed("DT_WSTR")},
		Column{Name: ErrorDescriptionColumn, Type: TypeNamed("DT_WSTR")})
	return &Output{Name: OutputError, Columns: out, Error: true}
}

// col looks up column name in o, reporting it when missing.
func (p *parser) col(line int, cw, field string, o *Output, name string) (Column, bool) {
	if i := o.Index(name); i >= 0 {
		return o.Columns[i], true
	}
	var names []string
	for _, c := range o.Columns {
		names = append(names, c.Name)
	}
	p.addf(line, "%s %s: no column %q in the input (columns: %s)", cw, field, name, strings.Join(names, ", "))
	return Column{}, false
}

// keepSorted returns the sort order of in that survives when cols are the
// output's columns.
func keepSorted(in *Output, cols []Column) []string {
	var out []string
	for _, s := range in.SortedBy {
		found := false
		for _, c := range cols {
			if c.Name == s {
				found = true
			}
		}
		if !found {
			break
		}
		out = append(out, s)
	}
	return out
}

// componentOutputs derives and checks the outputs of c from its inputs.
func (p *parser) componentOutputs(cw string, c *Component) {
	var in *Output
	if len(c.In) > 0 {
		in = c.In[0]
	}
	def := func(cols []Column) *Output { return &Output{Name: OutputDefault, Columns: cols} }
	switch c.Type {
	case CompFlatFileSource, CompJSONSource, CompSQLSource, CompExcelSource, CompParquetSource:
		var cols, raw []Column
		for _, sc := range c.SourceCols {
			cols = append(cols, sc.Column)
			raw = append(raw, Column{Name: sc.Name, Type: TypeNamed("DT_WSTR")})
		}
		o := def(cols)
		for _, s := range c.SortedBy {
			if _, ok := p.col(c.line("sorted_by"), cw, "sorted_by", o, s); ok {
				o.SortedBy = append(o.SortedBy, s)
			}
		}
		c.Outputs = []*Output{o, errorOutput(raw)}
	case CompDerivedColumn:
		cols := slices.Clone(in.Columns)
		for _, dc := range c.Derived {
			e, err := p.rowExpr(dc.Expr.Src, in.Columns, false)
			if err != nil {
				p.addf(dc.Line, "%s column %q: %v", cw, dc.Name, err)
				continue
			}
			p.rowRefs(dc.Line, fmt.Sprintf("%s column %q", cw, dc.Name), e)
			dc.Expr = e
			if dc.Type.Name == "" {
				if !e.Known {
					p.addf(dc.Line, "%s column %q: the type of %q is not known before it runs; give a type", cw, dc.Name, e.Src)
					continue
				}
				dc.Type = e.Type
			} else if e.Known && !convertible(e.Type, dc.Type) {
				p.addf(dc.Line, "%s column %q: expression gives %s, which cannot become %s", cw, dc.Name, e.Type, dc.Type)
			}
			if i := indexOf(cols, dc.Name); i >= 0 {
				dc.Replace = true
				cols[i] = Column{Name: dc.Name, Type: dc.Type}
			} else {
				cols = append(cols, Column{Name: dc.Name, Type: dc.Type})
			}
		}
		c.Outputs = []*Output{{Name: OutputDefault, Columns: cols, SortedBy: keepSorted(in, cols)}, errorOutput(in.Columns)}
	case CompConditionalSplt:
		seen := map[string]bool{OutputError: true}
		for _, sc := range c.Split.Cases {
			e, err := p.rowExpr(sc.Cond.Src, in.Columns, true)
			if err != nil {
				p.addf(sc.Line, "%s case %q: %v", cw, sc.Output, err)
			} else {
				p.rowRefs(sc.Line, fmt.Sprintf("%s case %q", cw, sc.Output), e)
				sc.Cond = e
			}
			if seen[sc.Output] || sc.Output == c.Split.Default {
				p.addf(sc.Line, "%s: output %q is used twice (cases, default and error need distinct names)", cw, sc.Output)
			}
			seen[sc.Output] = true
			c.Outputs = append(c.Outputs, &Output{Name: sc.Output, Columns: in.Columns, SortedBy: in.SortedBy})
		}
		c.Outputs = append(c.Outputs, &Output{Name: c.Split.Default, Columns: in.Columns, SortedBy: in.SortedBy}, errorOutput(in.Columns))
	case CompDataConversion:
		cols := slices.Clone(in.Columns)
		for _, cc := range c.Convert {
			src, ok := p.col(cc.Line, cw, "column", in, cc.Input)
			if !ok {
				continue
			}
			if !convertible(src.Type, cc.Type) {
				p.addf(cc.Line, "%s: column %q is %s and cannot be converted to %s", cw, cc.Input, src.Type, cc.Type)
			}
			if i := indexOf(cols, cc.Name); i >= 0 {
				if cc.Name != cc.Input {
					p.addf(cc.Line, "%s: output column %q exists already (choose another name)", cw, cc.Name)
				}
				cols[i] = Column{Name: cc.Name, Type: cc.Type}
			} else {
				cols = append(cols, Column{Name: cc.Name, Type: cc.Type})
			}
		}
		c.Outputs = []*Output{{Name: OutputDefault, Columns: cols, SortedBy: keepSorted(in, cols)}, errorOutput(in.Columns)}
	case CompLookup:
		l := c.Lookup
		ref := &Output{}
		for _, rc := range l.RefCols {
			ref.Columns = append(ref.Columns, rc.Column)
		}
		for i := range l.JoinIn {
			a, ok1 := p.col(c.line("join"), cw, "join", in, l.JoinIn[i])
			b, ok2 := p.col(c.line("join"), cw+" join (reference_columns)", "", ref, l.JoinRef[i])
			if ok1 && ok2 && !Comparable(a.Type, b.Type) {
				p.addf(c.line("join"), "%s join %s = %s: %s and %s cannot be compared", cw, a.Name, b.Name, a.Type, b.Type)
			}
		}
		for _, name := range l.RowParams {
			p.col(c.line("row_params"), cw, "row_params", in, name)
		}
		cols := slices.Clone(in.Columns)
		for i, name := range l.Add {
			rc, ok := p.col(c.line("columns"), cw+" columns (reference_columns)", "", ref, name)
			if !ok {
				continue
			}
			if indexOf(cols, l.AddAs[i]) >= 0 {
				p.addf(c.line("columns"), "%s: column %q exists in the input already (write {name: %s, as: OTHER})", cw, l.AddAs[i], name)
				continue
			}
			cols = append(cols, Column{Name: l.AddAs[i], Type: rc.Type})
		}
		c.Outputs = []*Output{{Name: OutputMatch, Columns: cols, SortedBy: in.SortedBy}, {Name: OutputNoMatch, Columns: in.Columns, SortedBy: in.SortedBy}, errorOutput(in.Columns)}
	case CompMergeJoin:
		m := c.MergeJoin
		left, right := c.In[0], c.In[1]
		for i := range min(len(m.LeftKeys), len(m.RightKeys)) {
			a, ok1 := p.col(c.line("left_keys"), cw, "left_keys", left, m.LeftKeys[i])
			b, ok2 := p.col(c.line("right_keys"), cw, "right_keys", right, m.RightKeys[i])
			if ok1 && ok2 && !Comparable(a.Type, b.Type) {
				p.addf(c.line("right_keys"), "%s keys %s and %s: %s and %s cannot be compared", cw, a.Name, b.Name, a.Type, b.Type)
			}
		}
		for side, o := range map[string]*Output{"left": left, "right": right} {
			keys := m.LeftKeys
			if side == "right" {
				keys = m.RightKeys
			}
			if len(o.SortedBy) < len(keys) || !slices.Equal(o.SortedBy[:len(keys)], keys) {
				p.addf(c.line("inputs"), "%s: the %s input must be sorted on %s (add a sort, or declare sorted_by on its source); it is sorted on [%s]", cw, side, strings.Join(keys, ", "), strings.Join(o.SortedBy, ", "))
			}
		}
		cols := slices.Clone(left.Columns)
		for _, rc := range right.Columns {
			if slices.Contains(m.RightKeys, rc.Name) && m.Type != JoinFull {
				continue
			}
			rc.Name = m.RightPrefix + rc.Name
			if indexOf(cols, rc.Name) >= 0 {
				p.addf(c.line("inputs"), "%s: right column %q exists on the left too (set right_prefix)", cw, rc.Name)
				continue
			}
			cols = append(cols, rc)
		}
		c.Outputs = []*Output{{Name: OutputDefault, Columns: cols, SortedBy: slices.Clone(m.LeftKeys)}}
	case CompSort:
		var sorted []string
		asc := true
		for _, k := range c.Sort.Keys {
			p.col(c.line("by"), cw, "by", in, k.Column)
			asc = asc && !k.Desc
			if asc {
				sorted = append(sorted, k.Column)
			}
		}
		c.Outputs = []*Output{{Name: OutputDefault, Columns: in.Columns, SortedBy: sorted}}
	case CompAggregate:
		a := c.Aggregate
		var cols []Column
		for _, g := range a.GroupBy {
			if col, ok := p.col(c.line("group_by"), cw, "group_by", in, g); ok {
				cols = append(cols, col)
			}
		}
		for _, ag := range a.Aggs {
			var src Column
			if ag.Column != "" {
				var ok bool
				if src, ok = p.col(ag.Line, cw, fmt.Sprintf("aggregation %q", ag.Name), in, ag.Column); !ok {
					continue
				}
			}
			switch ag.Op {
			case AggCount, AggCountDistinct:
				ag.Type = TypeNamed("DT_I8")
			case AggSum, AggAvg:
				if !src.Type.IsNumeric() {
					p.addf(ag.Line, "%s aggregation %q: %s needs a numeric column; %q is %s", cw, ag.Name, ag.Op, src.Name, src.Type)
					continue
				}
				ag.Type = src.Type
				switch {
				case ag.Op == AggAvg || src.Type.Store() == StoreFloat:
					ag.Type = TypeNamed("DT_R8")
				case src.Type.Store() == StoreInt:
					ag.Type = TypeNamed("DT_I8")
				default: // decimal: widen the precision
					ag.Type.Precision = MaxDecimalPrecision
				}
			default:
				ag.Type = src.Type
			}
			if indexOf(cols, ag.Name) >= 0 {
				p.addf(ag.Line, "%s: output column %q twice", cw, ag.Name)
				continue
			}
			cols = append(cols, Column{Name: ag.Name, Type: ag.Type})
		}
		c.Outputs = []*Output{{Name: OutputDefault, Columns: cols, SortedBy: nil}}
	case CompUnionAll:
		for i, o := range c.In[1:] {
			for _, col := range in.Columns {
				j := o.Index(col.Name)
				switch {
				case j < 0:
					p.addf(c.Inputs[i+1].Line, "%s: input %q has no column %q (union_all matches columns by name; add it with a derived_column)", cw, c.Inputs[i+1].String(), col.Name)
				case !unionable(col.Type, o.Columns[j].Type):
					p.addf(c.Inputs[i+1].Line, "%s: column %q is %s in the first input but %s in %q", cw, col.Name, col.Type, o.Columns[j].Type, c.Inputs[i+1].String())
				}
			}
		}
		c.Outputs = []*Output{def(in.Columns)}
	case CompMulticast:
		for _, name := range c.Multicast {
			if c.Output(name) != nil {
				p.addf(c.line("outputs"), "%s: output %q twice", cw, name)
			}
			c.Outputs = append(c.Outputs, &Output{Name: name, Columns: in.Columns, SortedBy: in.SortedBy})
		}
	case CompRowCount, CompTop:
		c.Outputs = []*Output{{Name: OutputDefault, Columns: in.Columns, SortedBy: in.SortedBy}}
	case CompFlatFileDest, CompJSONDest, CompParquetDest, CompRecordsetDest:
		c.Outputs = []*Output{}
	case CompSQLCommand:
		for _, name := range c.Command.Params {
			p.col(c.line("param_columns"), cw, "param_columns", in, name)
		}
		c.Outputs = []*Output{{Name: OutputDefault, Columns: in.Columns, SortedBy: in.SortedBy}, errorOutput(in.Columns)}
	case CompSQLDest:
		seen := map[string]bool{}
		for _, m := range c.SQL.Mapping {
			p.col(c.SQL.Line, cw, "mapping", in, m[1])
			if seen[m[0]] {
				p.addf(c.SQL.Line, "%s mapping: table column %q twice", cw, m[0])
			}
			seen[m[0]] = true
		}
		c.Outputs = []*Output{}
	}
}

// indexOf returns the position of the column called name in cols, or -1.
func indexOf(cols []Column, name string) int {
	for i, c := range cols {
		if c.Name == name {
			return i
		}
	}
	return -1
}

// unionable reports whether union_all can put b's values in a's column.
func unionable(a, b DataType) bool {
	return a.Store() == b.Store() || (a.IsNumeric() && b.IsNumeric())
}

// convertible reports whether the engine converts values of type a to b
// (data conversion, derived column results). Failures of individual
// values (overflow, bad text) are row errors, not validation errors.
func convertible(a, b DataType) bool {
	sa, sb := a.Store(), b.Store()
	switch {
	case sa == sb:
		return true
	case sb == StoreString || sa == StoreString:
		return true // text to anything parses; anything formats as text
	case a.IsNumeric() && (b.IsNumeric() || sb == StoreBool):
		return true
	case sa == StoreBool && b.IsNumeric():
		return true
	case sa == StoreBytes && sb == StoreString:
		return true
	}
	return false
}

// rowEnvRoots are the names of the package expression environment that
// row expressions may read besides columns.
var rowEnvRoots = []string{RootParam, RootVars, RootSys}

// rowExpr compiles a row expression in the package's language.
func (p *parser) rowExpr(src string, cols []Column, asBool bool) (*RowExpr, error) {
	if p.pkg != nil && p.pkg.ExprLang() == ExprSSIS {
		if strings.TrimSpace(src) == "" {
			return nil, &ExprError{Src: src, Msg: "empty expression"}
		}
		return p.compileRowSSIS(src, cols, asBool)
	}
	return compileRowExpr(src, cols, asBool)
}

// compileRowExpr compiles src against the columns cols. With asBool the
// result must be a bool. Column names are identifiers of the expression;
// a name that is not an identifier is read as $env["Name"].
func compileRowExpr(src string, cols []Column, asBool bool) (*RowExpr, error) {
	if strings.TrimSpace(src) == "" {
		return nil, &ExprError{Src: src, Msg: "empty expression"}
	}
	env := make(map[string]any, len(cols)+3)
	for _, r := range rowEnvRoots {
		env[r] = map[string]any{}
	}
	for _, c := range cols {
		env[c.Name] = exprSample(c.Type)
	}
	env[costMeter] = &exprMeter{}
	opts := append(slices.Clone(exprOptions), expr.Env(env))
	if asBool {
		opts = append(opts, expr.AsBool())
	}
	prog, err := expr.Compile(src, opts...)
	if err != nil {
		return nil, exprError(src, 0, err)
	}
	re := &RowExpr{Src: src, Prog: prog}
	v := &rowVisitor{cols: cols, re: re}
	node := prog.Node()
	ast.Walk(&node, v)
	re.Type, re.Known = typeOfExpr(node.Type())
	return re, nil
}

// rowVisitor collects the columns and package names a row expression
// reads.
type rowVisitor struct {
	cols []Column
	re   *RowExpr
	refs []string
}

func (v *rowVisitor) addCol(name string) {
	i := indexOf(v.cols, name)
	if i < 0 || slices.Contains(v.re.Names, name) {
		return
	}
	v.re.Names = append(v.re.Names, name)
	v.re.Cols = append(v.re.Cols, i)
}

func (v *rowVisitor) Visit(n *ast.Node) {
	switch n := (*n).(type) {
	case *ast.IdentifierNode:
		v.addCol(n.Value)
	case *ast.MemberNode:
		id, ok := n.Node.(*ast.IdentifierNode)
		if !ok {
			return
		}
		s, ok := n.Property.(*ast.StringNode)
		if !ok {
			return
		}
		if id.Value == "$env" {
			v.addCol(s.Value)
		} else if slices.Contains(rowEnvRoots, id.Value) {
			ref := id.Value + "." + s.Value
			if !slices.Contains(v.refs, ref) {
				v.refs = append(v.refs, ref)
			}
		}
	}
	v.re.refs = v.refs
}

// rowRefs records the package references of a compiled row expression
// for checkRefs.
func (p *parser) rowRefs(line int, where string, e *RowExpr) {
	refs := e.refs
	if refs == nil {
		refs = []string{}
	}
	p.exprs = append(p.exprs, exprRef{line: line, where: where, src: e.Src, scope: p.scope, refs: refs})
}
