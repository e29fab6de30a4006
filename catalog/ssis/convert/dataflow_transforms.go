package convert

import (
	"encoding/xml"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/scaleout/scaleout/catalog/ssis"
)

func (d *dfConv) derived(c *ssis.Component) (omap, string, string, error) {
	in, err := d.input(c, 0)
	if err != nil {
		return nil, "", "", err
	}
	var cols []any
	var all []*ssis.Column
	expr := func(col *ssis.Column) string {
		if e := col.Props["FriendlyExpression"]; e != "" {
			return e
		}
		return col.Props["Expression"]
	}
	for _, col := range c.Inputs[0].Columns {
		if strings.EqualFold(col.UsageType, "readWrite") && expr(col) != "" {
			cols = append(cols, omap{{"name", col.Name}, {"expression", expr(col)}})
			all = append(all, col)
		}
	}
	out := dataOutput(c)
	for _, col := range out.Columns {
		t, err := colType(col)
		if err != nil {
			return nil, "", "", fmt.Errorf("column %s: %v", col.Name, err)
		}
		if expr(col) == "" {
			return nil, "", "", fmt.Errorf("column %s has no expression", col.Name)
		}
		cols = append(cols, omap{{"name", col.Name}, {"expression", expr(col)}, {"type", t}})
		all = append(all, col)
	}
	body := omap{{"input", in}}
	if oe := d.onError(c, all); oe != "" {
		body.set("on_error", oe)
	}
	body.set("columns", cols)
	return body, "derived_column", "derived_column (SSIS expressions)", nil
}

func (d *dfConv) split(c *ssis.Component) (omap, string, string, error) {
	in, err := d.input(c, 0)
	if err != nil {
		return nil, "", "", err
	}
	type cs struct {
		order int
		out   *ssis.Output
	}
	var cases []cs
	def := ""
	for _, o := range c.Outputs {
		if o.IsError {
			continue
		}
		if isTrueS(o.Props["IsDefaultOut"]) {
			def = identifier(o.Name)
			continue
		}
		cases = append(cases, cs{atoi(o.Props["EvaluationOrder"]), o})
	}
	sort.SliceStable(cases, func(i, j int) bool { return cases[i].order < cases[j].order })
	var list []any
	for _, x := range cases {
		e := x.out.Props["FriendlyExpression"]
		if e == "" {
			e = x.out.Props["Expression"]
		}
		list = append(list, omap{{"output", identifier(x.out.Name)}, {"condition", e}})
	}
	body := omap{{"input", in}, {"cases", list}}
	if def != "" && def != "default" {
		body.set("default", def)
	}
	return body, "conditional_split", fmt.Sprintf("conditional_split, %d cases", len(list)), nil
}

func (d *dfConv) convert(c *ssis.Component) (omap, string, string, error) {
	in, err := d.input(c, 0)
	if err != nil {
		return nil, "", "", err
	}
	out := dataOutput(c)
	var cols []any
	for _, col := range out.Columns {
		src, ok := d.lineageName(col.Props["SourceInputColumnLineageID"])
		if !ok {
			return nil, "", "", fmt.Errorf("column %s: cannot find its input column %q", col.Name, col.Props["SourceInputColumnLineageID"])
		}
		t, err := colType(col)
		if err != nil {
			return nil, "", "", fmt.Errorf("column %s: %v", col.Name, err)
		}
		entry := omap{{"input", src}}
		if col.Name != src {
			entry.set("name", col.Name)
		}
		entry.set("type", t)
		cols = append(cols, entry)
	}
	body := omap{{"input", in}}
	if oe := d.onError(c, out.Columns); oe != "" {
		body.set("on_error", oe)
	}
	body.set("columns", cols)
	return body, "data_conversion", "data_conversion", nil
}

func (d *dfConv) unionAll(c *ssis.Component) (omap, string, string, error) {
	var ins []any
	var cols [][]string
	for i, input := range c.Inputs {
		ref, err := d.input(c, i)
		if err != nil {
			continue // unattached inputs are allowed in SSIS
		}
		cs, err := d.columns(d.feed[input.ID])
		if err != nil {
			return nil, "", "", err
		}
		cols = append(cols, cs)
		for _, col := range input.Columns {
			target, ok := d.lineageName(col.Props["OutputColumnLineageID"])
			if ok && target != col.Name {
				return nil, "", "", fmt.Errorf("input %s maps column %s onto %s; scaleout's union_all matches columns by name", input.Name, col.Name, target)
			}
		}
		ins = append(ins, ref)
	}
	if len(ins) == 0 {
		return nil, "", "", fmt.Errorf("no input attached")
	}
	// scaleout's union_all takes the first input's columns and needs them
	// in every other input: put first an input whose columns all others
	// have.
	first := -1
	for i, ci := range cols {
		ok := true
		for _, cj := range cols {
			for _, n := range ci {
				if !slices.Contains(cj, n) {
					ok = false
				}
			}
		}
		if ok {
			first = i
			break
		}
	}
	if first < 0 {
		return nil, "", "", fmt.Errorf("no input carries only columns the other inputs have; scaleout's union_all takes the first input's columns and needs them in every input")
	}
	ins[0], ins[first] = ins[first], ins[0]
	return omap{{"inputs", ins}}, "union_all", "union_all", nil
}

func (d *dfConv) sort(c *ssis.Component) (omap, string, string, error) {
	in, err := d.input(c, 0)
	if err != nil {
		return nil, "", "", err
	}
	type key struct {
		pos  int
		name string
	}
	var keys []key
	for _, col := range c.Inputs[0].Columns {
		if p := atoi(col.Props["NewSortKeyPosition"]); p != 0 {
			keys = append(keys, key{p, col.Name})
		}
	}
	if len(keys) == 0 {
		return nil, "", "", fmt.Errorf("no sort key")
	}
	sort.Slice(keys, func(i, j int) bool { return abs(keys[i].pos) < abs(keys[j].pos) })
	var by []any
	for _, k := range keys {
		if k.pos < 0 {
			by = append(by, k.name+" desc")
		} else {
			by = append(by, k.name)
		}
	}
	body := omap{{"input", in}, {"by", by}}
	if isTrueS(c.Props["EliminateDuplicates"]) {
		body.set("remove_duplicates", true)
	}
	return body, "sort", "sort", nil
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

func (d *dfConv) aggregate(c *ssis.Component) (omap, string, string, error) {
	in, err := d.input(c, 0)
	if err != nil {
		return nil, "", "", err
	}
	if len(c.Outputs) > 1 {
		return nil, "", "", fmt.Errorf("an Aggregate with %d outputs is not converted", len(c.Outputs))
	}
	ops := map[string]string{"1": "count", "2": "count", "3": "count_distinct", "4": "sum", "5": "avg", "6": "min", "7": "max"}
	var groups, aggs []any
	for _, col := range dataOutput(c).Columns {
		typ := col.Props["AggregationType"]
		src, ok := d.lineageName(col.Props["AggregationColumnId"])
		switch {
		case typ == "0" || typ == "":
			if !ok || src != col.Name {
				return nil, "", "", fmt.Errorf("group-by column %s is renamed from %s; scaleout keeps the input's name", col.Name, src)
			}
			groups = append(groups, src)
		case typ == "2":
			aggs = append(aggs, omap{{"name", col.Name}, {"op", "count"}})
		case ops[typ] != "":
			if !ok {
				return nil, "", "", fmt.Errorf("column %s: cannot find its input column", col.Name)
			}
			aggs = append(aggs, omap{{"name", col.Name}, {"op", ops[typ]}, {"column", src}})
		default:
			return nil, "", "", fmt.Errorf("column %s: aggregation type %s is unknown", col.Name, typ)
		}
	}
	body := omap{{"input", in}}
	if len(groups) > 0 {
		body.set("group_by", groups)
	}
	body.set("aggregations", aggs)
	return body, "aggregate", "aggregate", nil
}

type refMeta struct {
	Columns []struct {
		Name      string `xml:"name,attr"`
		DataType  string `xml:"dataType,attr"`
		Length    int    `xml:"length,attr"`
		Precision int    `xml:"precision,attr"`
		Scale     int    `xml:"scale,attr"`
		CodePage  int    `xml:"codePage,attr"`
	} `xml:"referenceColumns>referenceColumn"`
}

func (d *dfConv) lookup(c *ssis.Component) (omap, string, string, error) {
	in, err := d.input(c, 0)
	if err != nil {
		return nil, "", "", err
	}
	if len(c.Connections) == 0 {
		return nil, "", "", fmt.Errorf("no connection manager (cache connection lookups are not converted)")
	}
	cn, err := d.pc.dbConn(c.Connections[0].Manager)
	if err != nil {
		return nil, "", "", err
	}
	var meta refMeta
	if err := xml.Unmarshal([]byte(c.Props["ReferenceMetadataXml"]), &meta); err != nil || len(meta.Columns) == 0 {
		return nil, "", "", fmt.Errorf("ReferenceMetadataXml does not list the reference columns")
	}
	var refCols []any
	for _, rc := range meta.Columns {
		t, err := nativeType(rc.DataType, rc.Length, rc.Precision, rc.Scale, rc.CodePage)
		if err != nil {
			return nil, "", "", fmt.Errorf("reference column %s: %v", rc.Name, err)
		}
		refCols = append(refCols, omap{{"name", rc.Name}, {"type", t}})
	}
	join := omap{}
	var joinIn, joinRef []string
	for _, col := range c.Inputs[0].Columns {
		if r := col.Props["JoinToReferenceColumn"]; r != "" {
			join.set(col.Name, r)
			joinIn, joinRef = append(joinIn, col.Name), append(joinRef, r)
		}
	}
	var cols []any
	var all []*ssis.Column
	for _, o := range c.Outputs {
		if o.IsError || strings.Contains(strings.ToLower(o.Name), "no match") {
			continue
		}
		for _, col := range o.Columns {
			r := col.Props["CopyFromReferenceColumn"]
			if r == "" {
				continue
			}
			all = append(all, col)
			if r == col.Name {
				cols = append(cols, r)
			} else {
				cols = append(cols, omap{{"name", r}, {"as", col.Name}})
			}
		}
	}
	q := c.Props["SqlCommand"]
	if strings.TrimSpace(q) == "" {
		return nil, "", "", fmt.Errorf("no reference query")
	}
	body := omap{{"input", in}, {"connection", cn}, {"query", q}, {"reference_columns", refCols}, {"join", join}, {"columns", cols}}
	mode, err := d.lookupCache(c, &body, joinIn, joinRef)
	if err != nil {
		return nil, "", "", err
	}
	switch c.Props["NoMatchBehavior"] {
	case "1":
		body.set("no_match", "redirect")
	default:
		if oe := d.onError(c, all); oe == "ignore" {
			body.set("no_match", "ignore")
		} else if oe == "redirect" {
			body.set("no_match", "fail")
			body.set("on_error", "redirect")
		}
	}
	return body, "lookup", "lookup (" + mode + ")", nil
}

func (d *dfConv) mergeJoin(c *ssis.Component) (omap, string, string, error) {
	if len(c.Inputs) != 2 {
		return nil, "", "", fmt.Errorf("a Merge Join needs two inputs")
	}
	left, err := d.input(c, 0)
	if err != nil {
		return nil, "", "", err
	}
	right, err := d.input(c, 1)
	if err != nil {
		return nil, "", "", err
	}
	n := atoi(c.Props["NumKeyColumns"])
	keys := func(i int) ([]any, error) {
		x := d.outs[d.feed[c.Inputs[i].ID]]
		type k struct {
			pos  int
			name string
		}
		var ks []k
		for _, col := range x.o.Columns {
			if col.SortKeyPosition != 0 {
				ks = append(ks, k{abs(col.SortKeyPosition), col.Name})
			}
		}
		sort.Slice(ks, func(a, b int) bool { return ks[a].pos < ks[b].pos })
		if len(ks) < n || n == 0 {
			return nil, fmt.Errorf("input %s is not sorted on %d key columns", c.Inputs[i].Name, n)
		}
		var out []any
		for _, x := range ks[:n] {
			out = append(out, x.name)
		}
		return out, nil
	}
	lk, err := keys(0)
	if err != nil {
		return nil, "", "", err
	}
	rk, err := keys(1)
	if err != nil {
		return nil, "", "", err
	}
	typ := map[string]string{"0": "full", "1": "left", "2": "inner"}[c.Props["JoinType"]]
	if typ == "" {
		return nil, "", "", fmt.Errorf("join type %q is unknown", c.Props["JoinType"])
	}
	body := omap{{"inputs", []any{left, right}}, {"type", typ}, {"left_keys", lk}, {"right_keys", rk}}
	return body, "merge_join", "merge_join (" + typ + ")", nil
}
