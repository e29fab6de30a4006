package pkgspec

// The column lists of components (sources, derived columns, lookups) and
// the flat file encodings.

import (
	"fmt"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

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
	case CompSQLCommand:
		need(d.command().Connection != "" && d.command().Statement != "", "connection and statement")
	case CompRecordsetDest:
		need(c.Recordset != "", "variable (an object variable the rows go into)")
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
			for in, ref := range pairs(d.joinNode) {
				l.JoinIn = append(l.JoinIn, p.str(in, what+" join"))
				l.JoinRef = append(l.JoinRef, p.str(ref, what+" join"))
			}
		}
		if d.colsNode != nil {
			d.lookupColumns(d.colsNode)
		}
		if l.Cache != CacheFull {
			if l.SQL == nil {
				p.addf(body.Line, "%s: cache %s queries the reference per row, so it needs connection and query, not a flat file", what, l.Cache)
			}
			if l.CacheSize == 0 {
				l.CacheSize = DefaultLookupCacheSize
			}
		} else if l.RowQuery != "" || len(l.RowParams) > 0 || c.lines["cache_size"] > 0 || l.MissPercent > 0 {
			p.addf(body.Line, "%s: row_query, row_params, cache_size and miss_cache_percent are for cache: partial or none", what)
		}
		if l.Cache == CacheNone && (c.lines["cache_size"] > 0 || l.MissPercent > 0) {
			p.addf(body.Line, "%s: cache_size and miss_cache_percent are for cache: partial", what)
		}
		if (l.RowQuery == "") != (len(l.RowParams) == 0) {
			p.addf(body.Line, "%s: row_query and row_params go together (the input columns bound to the query's ? markers, in order)", what)
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
