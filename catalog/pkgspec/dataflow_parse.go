package pkgspec

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// compFields lists the fields of each component type's body besides input,
// inputs and on_error.
var compFields = map[string][]string{
	CompFlatFileSource:  {"path", "format", "delimiter", "quote", "escape", "header", "skip_rows", "encoding", "null_value", "columns", "sorted_by"},
	CompJSONSource:      {"path", "columns", "sorted_by"},
	CompSQLSource:       {"connection", "query", "params", "columns", "sorted_by"},
	CompExcelSource:     {"path", "sheet", "header", "skip_rows", "columns", "sorted_by"},
	CompParquetSource:   {"path", "columns", "sorted_by"},
	CompParquetDest:     {"path"},
	CompDerivedColumn:   {"columns"},
	CompConditionalSplt: {"cases", "default"},
	CompDataConversion:  {"columns"},
	CompLookup:          {"connection", "query", "params", "path", "delimiter", "header", "encoding", "reference_columns", "join", "columns", "no_match", "memory_limit"},
	CompMergeJoin:       {"type", "left_keys", "right_keys", "right_prefix"},
	CompSort:            {"by", "remove_duplicates", "memory_limit"},
	CompAggregate:       {"group_by", "aggregations", "memory_limit"},
	CompUnionAll:        {},
	CompMulticast:       {"outputs"},
	CompRowCount:        {"variable"},
	CompTop:             {"rows"},
	CompFlatFileDest:    {"path", "delimiter", "quote", "header", "encoding", "append"},
	CompJSONDest:        {"path", "append"},
	CompSQLDest:         {"connection", "table", "batch_size", "table_lock", "truncate", "mapping"},
}

// compTypes lists the component types in documentation order.
var compTypes = []string{CompFlatFileSource, CompJSONSource, CompSQLSource, CompExcelSource, CompParquetSource, CompDerivedColumn, CompConditionalSplt,
	CompDataConversion, CompLookup, CompMergeJoin, CompSort, CompAggregate, CompUnionAll, CompMulticast,
	CompRowCount, CompTop, CompFlatFileDest, CompJSONDest, CompParquetDest, CompSQLDest}

// IsSource reports a component type without inputs.
func IsSource(typ string) bool {
	return typ == CompFlatFileSource || typ == CompJSONSource || typ == CompSQLSource || typ == CompExcelSource || typ == CompParquetSource
}

// IsDestination reports a component type without outputs.
func IsDestination(typ string) bool {
	return typ == CompFlatFileDest || typ == CompJSONDest || typ == CompSQLDest || typ == CompParquetDest
}

// hasErrorOutput reports a component type with an error output.
func hasErrorOutput(typ string) bool {
	switch typ {
	case CompFlatFileSource, CompJSONSource, CompSQLSource, CompExcelSource, CompParquetSource, CompDerivedColumn, CompConditionalSplt, CompDataConversion, CompLookup:
		return true
	}
	return false
}

func (p *parser) decodeDataFlow(t *Task, _, n *yaml.Node) {
	what := kindWhat(t, KindDataFlow)
	df := &DataFlowTask{BufferRows: DefaultBufferRows, MemoryLimit: DefaultMemoryLimit, Line: n.Line}
	t.DataFlow = df
	if !p.body(n, what, "components") {
		return
	}
	var compsNode *yaml.Node
	p.fields(n, what, []string{"components", "buffer_rows", "memory_limit"}, func(k, v *yaml.Node) {
		switch k.Value {
		case "components":
			compsNode = v
		case "buffer_rows":
			df.BufferRows = p.integer(v, what+" buffer_rows", 1)
		case "memory_limit":
			df.MemoryLimit = p.size(v, what+" memory_limit")
		}
	})
	if compsNode == nil || compsNode.Kind != yaml.SequenceNode || len(compsNode.Content) == 0 {
		line := n.Line
		if compsNode != nil {
			line = compsNode.Line
		}
		p.addf(line, "%s needs components: a list of sources, transformations and destinations", what)
		return
	}
	names := map[string]int{}
	for i, item := range compsNode.Content {
		c := p.component(what, i+1, deref(item), df)
		if c == nil {
			continue
		}
		if prev, dup := names[c.Name]; dup && c.Name != "" {
			p.addf(c.Line, "%s: duplicate component name %q (first at line %d)", what, c.Name, prev)
			continue
		}
		names[c.Name] = c.Line
		df.Components = append(df.Components, c)
	}
	p.checkDataFlow(what, df)
}

// size parses a byte size: an integer, or a number with KB, MB, GB, KiB,
// MiB or GiB.
func (p *parser) size(n *yaml.Node, what string) int64 {
	s := strings.TrimSpace(p.str(n, what))
	num := strings.TrimRight(s, "KMGiBb ")
	unit := strings.TrimSpace(s[len(num):])
	mult := map[string]int64{"": 1, "B": 1, "KB": 1e3, "MB": 1e6, "GB": 1e9, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}[unit]
	v, err := strconv.ParseInt(strings.TrimSpace(num), 10, 64)
	if err != nil || mult == 0 || v <= 0 {
		p.addf(n.Line, "%s %q is not a size such as 64MiB or 1GB", what, s)
		return 0
	}
	return v * mult
}

// component decodes one entry of a components list.
func (p *parser) component(flow string, idx int, n *yaml.Node, df *DataFlowTask) *Component {
	if n.Kind != yaml.MappingNode {
		p.addf(n.Line, "%s component #%d must be a mapping with a name and a component type", flow, idx)
		return nil
	}
	c := &Component{Line: n.Line, OnError: OnErrorFail}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k, v := deref(n.Content[i]), deref(n.Content[i+1]); k.Value == "name" && v.Kind == yaml.ScalarNode {
			c.Name = v.Value
		}
	}
	what := fmt.Sprintf("%s component #%d", flow, idx)
	if c.Name != "" {
		what = fmt.Sprintf("%s component %q", flow, c.Name)
	}
	var body *yaml.Node
	var types []string
	known := append([]string{"name", "description"}, compTypes...)
	p.fields(n, what, known, func(k, v *yaml.Node) {
		switch k.Value {
		case "name":
			if err := ValidateName(p.str(v, what+" name")); err != nil || strings.Contains(c.Name, ".") {
				p.addf(v.Line, "%s: invalid component name %q (no dots; 1-128 characters)", what, c.Name)
			}
		case "description":
			c.Description = p.str(v, what+" description")
		default:
			types = append(types, k.Value)
			c.Type, body = k.Value, v
		}
	})
	if c.Name == "" {
		p.addf(n.Line, "%s has no name", what)
	}
	switch len(types) {
	case 0:
		p.addf(n.Line, "%s has no component type (want one of: %s)", what, strings.Join(compTypes, ", "))
		return nil
	case 1:
	default:
		p.addf(n.Line, "%s has %d component types (%s); want exactly one", what, len(types), strings.Join(types, ", "))
		return nil
	}
	what += " " + c.Type
	if !p.body(body, what, "its settings") {
		return nil
	}
	fields := slices.Clone(compFields[c.Type])
	if !IsSource(c.Type) {
		fields = append(fields, "input", "inputs")
	}
	if hasErrorOutput(c.Type) {
		fields = append(fields, "on_error")
	}
	d := &compDecoder{p: p, c: c, what: what, df: df}
	p.fields(body, what, fields, d.field)
	d.finish(body)
	return c
}

// compDecoder decodes the fields of one component body.
type compDecoder struct {
	p    *parser
	c    *Component
	df   *DataFlowTask
	what string
	// raw fields kept for cross-field checks
	refColsNode, colsNode, joinNode *yaml.Node
	memLimit                        int64
}

func (d *compDecoder) flat() *FlatFileConfig {
	if d.c.FlatFile == nil {
		d.c.FlatFile = &FlatFileConfig{Format: FormatDelimited, Delimiter: ',', Quote: '"', Header: true, Encoding: "utf-8"}
	}
	return d.c.FlatFile
}

func (d *compDecoder) sql() *SQLConfig {
	if d.c.SQL == nil {
		d.c.SQL = &SQLConfig{}
	}
	return d.c.SQL
}

// char reads a one-character field; "" or null means none, "\t" a tab.
func (d *compDecoder) char(v *yaml.Node, field string) rune {
	s := d.p.str(v, d.what+" "+field)
	if s == `\t` {
		s = "\t"
	}
	if s == "" {
		return 0
	}
	if utf8.RuneCountInString(s) != 1 || s == "\n" || s == "\r" {
		d.p.addf(v.Line, "%s %s must be one character, not %q", d.what, field, s)
		return 0
	}
	r, _ := utf8.DecodeRuneInString(s)
	return r
}

func (d *compDecoder) field(k, v *yaml.Node) {
	p, c, what := d.p, d.c, d.what
	if c.lines == nil {
		c.lines = map[string]int{}
	}
	c.lines[k.Value] = v.Line
	f := what + " " + k.Value
	switch k.Value {
	case "input":
		c.Inputs = []*PathRef{d.pathRef(v)}
	case "inputs":
		if v.Kind != yaml.SequenceNode {
			p.addf(v.Line, "%s must be a list of component outputs", f)
			return
		}
		for _, it := range v.Content {
			c.Inputs = append(c.Inputs, d.pathRef(deref(it)))
		}
	case "on_error":
		c.OnError = p.str(v, f)
		if !slices.Contains([]string{OnErrorFail, OnErrorIgnore, OnErrorRedirect}, c.OnError) {
			p.addf(v.Line, "%s must be fail, ignore or redirect, not %q", f, c.OnError)
		}
	case "path":
		s := p.str(v, f)
		p.tpl(v.Line, f, s)
		if c.Type == CompJSONSource || c.Type == CompJSONDest {
			if c.JSON == nil {
				c.JSON = &JSONConfig{}
			}
			c.JSON.Path = s
		} else {
			d.flat().Path = s
		}
	case "format":
		d.flat().Format = p.str(v, f)
		if d.flat().Format != FormatDelimited && d.flat().Format != FormatFixedWidth {
			p.addf(v.Line, "%s must be delimited or fixed_width, not %q", f, d.flat().Format)
		}
	case "delimiter":
		d.flat().Delimiter = d.char(v, "delimiter")
	case "quote":
		d.flat().Quote = d.char(v, "quote")
	case "escape":
		d.flat().Escape = d.char(v, "escape")
	case "header":
		d.flat().Header = p.boolean(v, f)
	case "skip_rows":
		d.flat().SkipRows = p.integer(v, f, 0)
	case "encoding":
		d.flat().Encoding = strings.ToLower(p.str(v, f))
		if !slices.Contains(Encodings, d.flat().Encoding) {
			p.addf(v.Line, "%s %q is not one of %s", f, d.flat().Encoding, strings.Join(Encodings, ", "))
		}
	case "sheet":
		d.flat().Sheet = p.str(v, f)
	case "null_value":
		d.flat().NullValue = p.str(v, f)
	case "append":
		if c.Type == CompJSONDest {
			if c.JSON == nil {
				c.JSON = &JSONConfig{}
			}
			c.JSON.Append = p.boolean(v, f)
		} else {
			d.flat().Append = p.boolean(v, f)
		}
	case "columns":
		d.colsNode = v
	case "reference_columns":
		d.refColsNode = v
	case "sorted_by":
		d.c.SortedBy = p.strList(v, f)
	case "connection":
		s := d.sql()
		s.Connection = p.str(v, f)
		s.Line = v.Line
	case "query":
		d.sql().Query = p.str(v, f)
	case "params":
		d.sql().Params = p.strList(v, f)
		for i, prm := range d.sql().Params {
			p.tpl(v.Line, fmt.Sprintf("%s[%d]", f, i), prm)
		}
	case "table":
		d.sql().Table = p.str(v, f)
	case "batch_size":
		d.sql().BatchSize = p.integer(v, f, 1)
	case "table_lock":
		d.sql().TableLock = p.boolean(v, f)
	case "truncate":
		d.sql().Truncate = p.boolean(v, f)
	case "mapping":
		if v.Kind != yaml.MappingNode {
			p.addf(v.Line, "%s must be a mapping from table column to input column", f)
			return
		}
		for i := 0; i+1 < len(v.Content); i += 2 {
			d.sql().Mapping = append(d.sql().Mapping, [2]string{p.str(deref(v.Content[i]), f), p.str(deref(v.Content[i+1]), f)})
		}
	case "cases":
		d.cases(v)
	case "default":
		if c.Split == nil {
			c.Split = &SplitConfig{}
		}
		c.Split.Default = p.str(v, f)
	case "join":
		d.joinNode = v
	case "no_match":
		d.lookup().NoMatch = p.str(v, f)
		if !slices.Contains([]string{NoMatchFail, NoMatchIgnore, NoMatchRedirect}, d.lookup().NoMatch) {
			p.addf(v.Line, "%s must be fail, ignore or redirect, not %q", f, d.lookup().NoMatch)
		}
	case "memory_limit":
		d.memLimit = p.size(v, f)
	case "type":
		d.mj().Type = p.str(v, f)
		if !slices.Contains([]string{JoinInner, JoinLeft, JoinFull}, d.mj().Type) {
			p.addf(v.Line, "%s must be inner, left or full, not %q", f, d.mj().Type)
		}
	case "left_keys":
		d.mj().LeftKeys = p.strList(v, f)
	case "right_keys":
		d.mj().RightKeys = p.strList(v, f)
	case "right_prefix":
		d.mj().RightPrefix = p.str(v, f)
	case "by":
		c.Sort = d.sortCfg()
		for _, s := range p.strList(v, f) {
			col, dir, _ := strings.Cut(strings.TrimSpace(s), " ")
			dir = strings.ToLower(strings.TrimSpace(dir))
			if dir != "" && dir != "asc" && dir != "desc" {
				p.addf(v.Line, "%s entry %q: write COLUMN, COLUMN asc or COLUMN desc", f, s)
			}
			c.Sort.Keys = append(c.Sort.Keys, SortKey{Column: col, Desc: dir == "desc"})
		}
	case "remove_duplicates":
		d.sortCfg().RemoveDuplicates = p.boolean(v, f)
	case "group_by":
		d.agg().GroupBy = p.strList(v, f)
	case "aggregations":
		d.aggregations(v)
	case "outputs":
		c.Multicast = p.strList(v, f)
	case "variable":
		c.RowCount = p.str(v, f)
		p.target(v.Line, f, c.RowCount)
	case "rows":
		c.Top = int64(p.integer(v, f, 0))
	}
}

func (d *compDecoder) lookup() *LookupConfig {
	if d.c.Lookup == nil {
		d.c.Lookup = &LookupConfig{NoMatch: NoMatchFail}
	}
	return d.c.Lookup
}

func (d *compDecoder) mj() *MergeJoinConfig {
	if d.c.MergeJoin == nil {
		d.c.MergeJoin = &MergeJoinConfig{Type: JoinInner}
	}
	return d.c.MergeJoin
}

func (d *compDecoder) sortCfg() *SortConfig {
	if d.c.Sort == nil {
		d.c.Sort = &SortConfig{}
	}
	return d.c.Sort
}

func (d *compDecoder) agg() *AggregateConfig {
	if d.c.Aggregate == nil {
		d.c.Aggregate = &AggregateConfig{}
	}
	return d.c.Aggregate
}

// pathRef decodes "comp" or "comp.output".
func (d *compDecoder) pathRef(v *yaml.Node) *PathRef {
	s := d.p.str(v, d.what+" input")
	comp, out, _ := strings.Cut(s, ".")
	if comp == "" {
		d.p.addf(v.Line, "%s input %q names no component", d.what, s)
	}
	return &PathRef{Component: comp, Output: out, Line: v.Line}
}

// mappings returns the entries of a list of mappings.
func (d *compDecoder) mappings(v *yaml.Node, f string) []*yaml.Node {
	if v.Kind != yaml.SequenceNode {
		d.p.addf(v.Line, "%s must be a list", f)
		return nil
	}
	var out []*yaml.Node
	for _, it := range v.Content {
		it = deref(it)
		if it.Kind != yaml.MappingNode {
			d.p.addf(it.Line, "%s entry must be a mapping", f)
			continue
		}
		out = append(out, it)
	}
	return out
}

// dataType decodes a type field.
func (d *compDecoder) dataType(v *yaml.Node, f string) (DataType, bool) {
	t, err := ParseDataType(d.p.str(v, f))
	if err != nil {
		d.p.addf(v.Line, "%s: %v", f, err)
		return DataType{}, false
	}
	return t, true
}

// sourceColumns decodes a list of {name, type, field, width}.
func (d *compDecoder) sourceColumns(v *yaml.Node, f string) []*SourceColumn {
	var out []*SourceColumn
	seen := map[string]bool{}
	for _, m := range d.mappings(v, f) {
		sc := &SourceColumn{}
		hasType := false
		d.p.fields(m, f+" entry", []string{"name", "type", "field", "width"}, func(k, v *yaml.Node) {
			switch k.Value {
			case "name":
				sc.Name = d.p.str(v, f+" name")
			case "type":
				sc.Type, hasType = d.dataType(v, fmt.Sprintf("%s %q type", f, sc.Name))
			case "field":
				sc.Field = d.p.str(v, f+" field")
			case "width":
				sc.Width = d.p.integer(v, f+" width", 1)
			}
		})
		switch {
		case sc.Name == "":
			d.p.addf(m.Line, "%s entry has no name", f)
			continue
		case seen[sc.Name]:
			d.p.addf(m.Line, "%s: column %q twice", f, sc.Name)
			continue
		case !hasType:
			if sc.Type.Name == "" {
				d.p.addf(m.Line, "%s column %q has no type (e.g. DT_I4, DT_WSTR(50), DT_NUMERIC(10,2))", f, sc.Name)
			}
			continue
		}
		if sc.Field == "" {
			sc.Field = sc.Name
		}
		seen[sc.Name] = true
		out = append(out, sc)
	}
	if len(out) == 0 && v.Kind == yaml.SequenceNode {
		d.p.addf(v.Line, "%s is empty", f)
	}
	return out
}

func (d *compDecoder) cases(v *yaml.Node) {
	f := d.what + " cases"
	if d.c.Split == nil {
		d.c.Split = &SplitConfig{}
	}
	for _, m := range d.mappings(v, f) {
		sc := &SplitCase{Line: m.Line}
		var cond string
		d.p.fields(m, f+" entry", []string{"output", "condition"}, func(k, v *yaml.Node) {
			switch k.Value {
			case "output":
				sc.Output = d.p.str(v, f+" output")
			case "condition":
				cond = d.p.str(v, f+" condition")
			}
		})
		if sc.Output == "" || cond == "" {
			d.p.addf(m.Line, "%s entry needs output and condition", f)
			continue
		}
		sc.Cond = &RowExpr{Src: cond}
		d.c.Split.Cases = append(d.c.Split.Cases, sc)
	}
}

func (d *compDecoder) aggregations(v *yaml.Node) {
	f := d.what + " aggregations"
	a := d.agg()
	ops := []string{AggCount, AggCountDistinct, AggSum, AggAvg, AggMin, AggMax}
	for _, m := range d.mappings(v, f) {
		ag := &Aggregation{Line: m.Line}
		d.p.fields(m, f+" entry", []string{"name", "op", "column"}, func(k, v *yaml.Node) {
			switch k.Value {
			case "name":
				ag.Name = d.p.str(v, f+" name")
			case "op":
				ag.Op = d.p.str(v, f+" op")
				if !slices.Contains(ops, ag.Op) {
					d.p.addf(v.Line, "%s op %q is not one of %s", f, ag.Op, strings.Join(ops, ", "))
				}
			case "column":
				ag.Column = d.p.str(v, f+" column")
			}
		})
		if ag.Name == "" || ag.Op == "" {
			d.p.addf(m.Line, "%s entry needs name and op", f)
			continue
		}
		if ag.Column == "" && ag.Op != AggCount {
			d.p.addf(m.Line, "%s %q: op %s needs a column", f, ag.Name, ag.Op)
			continue
		}
		a.Aggs = append(a.Aggs, ag)
	}
}

// finish decodes the fields whose meaning depends on the type and checks
// required fields.
func (d *compDecoder) finish(body *yaml.Node) {
	p, c, what := d.p, d.c, d.what
	need := func(ok bool, field string) {
		if !ok {
			p.addf(body.Line, "%s needs %s", what, field)
		}
	}
	if !IsSource(c.Type) {
		need(len(c.Inputs) > 0, "input (a component, or component.output)")
	}
	limit := d.memLimit
	if limit == 0 {
		limit = d.df.MemoryLimit
	}
	switch c.Type {
	case CompFlatFileSource, CompJSONSource, CompSQLSource, CompExcelSource, CompParquetSource:
		if d.colsNode != nil {
			c.SourceCols = d.sourceColumns(d.colsNode, what+" columns")
		} else {
			need(false, "columns (each with a name and a type)")
		}
		switch c.Type {
		case CompFlatFileSource:
			need(d.flat().Path != "", "path")
			if d.flat().Format == FormatFixedWidth {
				for _, sc := range c.SourceCols {
					if sc.Width == 0 {
						p.addf(d.colsNode.Line, "%s column %q needs a width (format fixed_width)", what, sc.Name)
					}
				}
			}
		case CompJSONSource:
			need(c.JSON != nil && c.JSON.Path != "", "path")
		case CompExcelSource:
			need(d.flat().Path != "", "path (an .xlsx file)")
		case CompParquetSource:
			need(d.flat().Path != "", "path (a .parquet file)")
		case CompSQLSource:
			need(d.sql().Connection != "" && d.sql().Query != "", "connection and query")
		}
	case CompFlatFileDest, CompParquetDest:
		need(d.flat().Path != "", "path")
	case CompJSONDest:
		need(c.JSON != nil && c.JSON.Path != "", "path")
	case CompSQLDest:
		need(d.sql().Connection != "" && d.sql().Table != "", "connection and table")
	case CompDerivedColumn, CompDataConversion:
		need(d.colsNode != nil, "columns")
		if d.colsNode != nil {
			d.transformColumns(d.colsNode)
		}
	case CompConditionalSplt:
		need(c.Split != nil && len(c.Split.Cases) > 0, "cases (each an output and a condition)")
		if c.Split == nil {
			c.Split = &SplitConfig{}
		}
		if c.Split.Default == "" {
			c.Split.Default = "default"
		}
	case CompLookup:
		l := d.lookup()
		l.MemLimit = limit
		if s := c.SQL; s != nil {
			l.SQL, c.SQL = s, nil
			need(s.Connection != "" && s.Query != "", "connection and query (or a path)")
		}
		if ff := c.FlatFile; ff != nil {
			l.File, c.FlatFile = ff, nil
		}
		if (l.SQL == nil) == (l.File == nil || l.File.Path == "") {
			p.addf(body.Line, "%s needs exactly one reference: connection and query, or path (a flat file)", what)
		}
		need(d.refColsNode != nil, "reference_columns (the reference's columns, typed)")
		if d.refColsNode != nil {
			l.RefCols = d.sourceColumns(d.refColsNode, what+" reference_columns")
		}
		need(d.joinNode != nil && d.joinNode.Kind == yaml.MappingNode && len(d.joinNode.Content) > 0, "join: a mapping from input column to reference column")
		if d.joinNode != nil && d.joinNode.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(d.joinNode.Content); i += 2 {
				l.JoinIn = append(l.JoinIn, p.str(deref(d.joinNode.Content[i]), what+" join"))
				l.JoinRef = append(l.JoinRef, p.str(deref(d.joinNode.Content[i+1]), what+" join"))
			}
		}
		if d.colsNode != nil {
			d.lookupColumns(d.colsNode)
		}
	case CompMergeJoin:
		m := d.mj()
		need(len(c.Inputs) == 2, "inputs: [left, right]")
		need(len(m.LeftKeys) > 0 && len(m.LeftKeys) == len(m.RightKeys), "left_keys and right_keys of the same length")
	case CompSort:
		need(c.Sort != nil && len(c.Sort.Keys) > 0, "by (a list of columns)")
		d.sortCfg().MemLimit = limit
	case CompAggregate:
		a := d.agg()
		a.MemLimit = limit
		need(len(a.Aggs) > 0 || len(a.GroupBy) > 0, "group_by or aggregations")
	case CompUnionAll:
		need(len(c.Inputs) >= 1, "inputs")
	case CompMulticast:
		need(len(c.Multicast) > 0, "outputs (a list of output names)")
	case CompRowCount:
		need(c.RowCount != "", "variable")
	case CompTop:
		need(c.Top > 0, "rows (at least 1)")
	}
	switch c.Type {
	case CompMergeJoin, CompUnionAll:
	default:
		if len(c.Inputs) > 1 {
			p.addf(body.Line, "%s reads one input, not %d (use union_all or merge_join to combine paths)", what, len(c.Inputs))
		}
	}
}

// transformColumns decodes the columns of a derived column or data
// conversion; expressions are compiled once the input is known.
func (d *compDecoder) transformColumns(v *yaml.Node) {
	f := d.what + " columns"
	for _, m := range d.mappings(v, f) {
		var name, exprSrc, input string
		var typ DataType
		hasType := false
		d.p.fields(m, f+" entry", []string{"name", "expression", "type", "input"}, func(k, v *yaml.Node) {
			switch k.Value {
			case "name":
				name = d.p.str(v, f+" name")
			case "expression":
				exprSrc = d.p.str(v, f+" expression")
				if v.Tag != "!!str" && v.Kind == yaml.ScalarNode {
					exprSrc = v.Value
				}
			case "type":
				typ, hasType = d.dataType(v, fmt.Sprintf("%s %q type", f, name))
			case "input":
				input = d.p.str(v, f+" input")
			}
		})
		if d.c.Type == CompDerivedColumn {
			if name == "" || exprSrc == "" || input != "" {
				d.p.addf(m.Line, "%s entry needs name and expression (and optionally type)", f)
				continue
			}
			dc := &DerivedColumn{Name: name, Expr: &RowExpr{Src: exprSrc}, Line: m.Line}
			if hasType {
				dc.Type = typ
			}
			d.c.Derived = append(d.c.Derived, dc)
			continue
		}
		if input == "" || !hasType || exprSrc != "" {
			d.p.addf(m.Line, "%s entry needs input and type (and optionally name)", f)
			continue
		}
		if name == "" {
			name = input
		}
		d.c.Convert = append(d.c.Convert, &ConvertColumn{Input: input, Name: name, Type: typ, Line: m.Line})
	}
}

// lookupColumns decodes the reference columns a lookup adds: names, or
// {name, as}.
func (d *compDecoder) lookupColumns(v *yaml.Node) {
	f := d.what + " columns"
	l := d.lookup()
	if v.Kind != yaml.SequenceNode {
		p := d.p
		p.addf(v.Line, "%s must be a list of reference columns (NAME or {name, as})", f)
		return
	}
	for _, it := range v.Content {
		it = deref(it)
		name, as := "", ""
		if it.Kind == yaml.MappingNode {
			d.p.fields(it, f+" entry", []string{"name", "as"}, func(k, v *yaml.Node) {
				if k.Value == "name" {
					name = d.p.str(v, f+" name")
				} else {
					as = d.p.str(v, f+" as")
				}
			})
		} else {
			name = d.p.str(it, f+" entry")
		}
		if as == "" {
			as = name
		}
		l.Add = append(l.Add, name)
		l.AddAs = append(l.AddAs, as)
	}
}

// Encodings are the text encodings of flat files.
var Encodings = []string{"utf-8", "latin1", "windows-1252", "utf-16le", "utf-16be"}
