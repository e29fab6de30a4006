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
	CompLookup:          {"connection", "query", "params", "path", "delimiter", "header", "encoding", "reference_columns", "join", "columns", "no_match", "memory_limit", "cache", "cache_size", "miss_cache_percent", "row_query", "row_params"},
	CompMergeJoin:       {"type", "left_keys", "right_keys", "right_prefix"},
	CompSort:            {"by", "remove_duplicates", "memory_limit"},
	CompAggregate:       {"group_by", "aggregations", "memory_limit"},
	CompUnionAll:        {},
	CompMulticast:       {"outputs"},
	CompRowCount:        {"variable"},
	CompTop:             {"rows"},
	CompFlatFileDest:    {"path", "delimiter", "quote", "header", "encoding", "append", "crlf"},
	CompJSONDest:        {"path", "append"},
	CompSQLDest:         {"connection", "table", "batch_size", "table_lock", "truncate", "mapping"},
	CompSQLCommand:      {"connection", "statement", "param_columns"},
	CompRecordsetDest:   {"variable"},
}

// compTypes lists the component types in documentation order.
var compTypes = []string{CompFlatFileSource, CompJSONSource, CompSQLSource, CompExcelSource, CompParquetSource, CompDerivedColumn, CompConditionalSplt,
	CompDataConversion, CompLookup, CompMergeJoin, CompSort, CompAggregate, CompUnionAll, CompMulticast,
	CompRowCount, CompTop, CompSQLCommand, CompFlatFileDest, CompJSONDest, CompParquetDest, CompSQLDest, CompRecordsetDest}

// IsSource reports a component type without inputs.
func IsSource(typ string) bool {
	return typ == CompFlatFileSource || typ == CompJSONSource || typ == CompSQLSource || typ == CompExcelSource || typ == CompParquetSource
}

// IsDestination reports a component type without outputs.
func IsDestination(typ string) bool {
	return typ == CompFlatFileDest || typ == CompJSONDest || typ == CompSQLDest || typ == CompParquetDest || typ == CompRecordsetDest
}

// hasErrorOutput reports a component type with an error output.
func hasErrorOutput(typ string) bool {
	switch typ {
	case CompFlatFileSource, CompJSONSource, CompSQLSource, CompExcelSource, CompParquetSource, CompDerivedColumn, CompConditionalSplt, CompDataConversion, CompLookup, CompSQLCommand:
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
	for k, v := range pairs(n) {
		if k.Value == "name" && v.Kind == yaml.ScalarNode {
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
		s := p.tplStr(v, f)
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
	case "crlf":
		d.flat().CRLF = p.boolean(v, f)
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
		if c.Type == CompSQLCommand {
			d.command().Connection, d.command().Line = p.str(v, f), v.Line
			return
		}
		s := d.sql()
		s.Connection = p.str(v, f)
		s.Line = v.Line
	case "statement":
		d.command().Statement = p.str(v, f)
	case "param_columns":
		d.command().Params = p.strList(v, f)
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
		for col, in := range pairs(v) {
			d.sql().Mapping = append(d.sql().Mapping, [2]string{p.str(col, f), p.str(in, f)})
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
	case "cache":
		d.lookup().Cache = p.str(v, f)
		if !slices.Contains([]string{CacheFull, CachePartial, CacheNone}, d.lookup().Cache) {
			p.addf(v.Line, "%s must be full, partial or none, not %q", f, d.lookup().Cache)
		}
	case "cache_size":
		d.lookup().CacheSize = p.size(v, f)
	case "miss_cache_percent":
		d.lookup().MissPercent = p.integer(v, f, 0)
		if d.lookup().MissPercent > 99 {
			p.addf(v.Line, "%s must be 0 to 99, not %d", f, d.lookup().MissPercent)
		}
	case "row_query":
		d.lookup().RowQuery = p.str(v, f)
	case "row_params":
		d.lookup().RowParams = p.strList(v, f)
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
		if c.Type == CompRecordsetDest {
			c.Recordset = p.targetStr(v, f)
		} else {
			c.RowCount = p.targetStr(v, f)
		}
	case "rows":
		c.Top = int64(p.integer(v, f, 0))
	}
}

func (d *compDecoder) command() *SQLCommandConfig {
	if d.c.Command == nil {
		d.c.Command = &SQLCommandConfig{}
	}
	return d.c.Command
}

func (d *compDecoder) lookup() *LookupConfig {
	if d.c.Lookup == nil {
		d.c.Lookup = &LookupConfig{NoMatch: NoMatchFail, Cache: CacheFull}
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
