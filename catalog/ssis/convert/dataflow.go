package convert

import (
	"fmt"
	"strings"

	"github.com/scaleout/scaleout/catalog/pkgspec"
	"github.com/scaleout/scaleout/catalog/ssis"
)

// pipelineTypes maps pipeline data type names onto native types; lengths,
// precisions and scales are added by nativeType.
var pipelineTypes = map[string]string{
	"i1": "DT_I1", "i2": "DT_I2", "i4": "DT_I4", "i8": "DT_I8", "ui1": "DT_UI1", "ui2": "DT_UI2", "ui4": "DT_UI4", "ui8": "DT_UI8",
	"r4": "DT_R4", "r8": "DT_R8", "bool": "DT_BOOL", "str": "DT_STR", "wstr": "DT_WSTR", "text": "DT_STR", "ntext": "DT_WSTR",
	"numeric": "DT_NUMERIC", "decimal": "DT_DECIMAL", "cy": "DT_NUMERIC", "date": "DT_DATE", "dbDate": "DT_DBDATE",
	"dbTimeStamp": "DT_DBTIMESTAMP", "dbTimeStamp2": "DT_DBTIMESTAMP2", "bytes": "DT_BYTES", "image": "DT_BYTES",
}

// flatFileTypes maps a flat file column's DBTYPE code onto a pipeline
// type name.
var flatFileTypes = map[int]string{129: "str", 130: "wstr", 3: "i4", 2: "i2", 16: "i1", 17: "ui1", 18: "ui2", 19: "ui4", 20: "i8", 21: "ui8",
	4: "r4", 5: "r8", 6: "cy", 7: "date", 11: "bool", 131: "numeric", 14: "decimal", 133: "dbDate", 135: "dbTimeStamp", 304: "dbTimeStamp2", 128: "bytes"}

// nativeType is the native type of a pipeline column. A DT_STR keeps its
// code page (DT_STR(n,1252)) unless it is UTF-8 (65001) or unset (0).
func nativeType(dt string, length, precision, scale, codePage int) (string, error) {
	// Format 3 and the lookup's reference metadata write DT_ names.
	dt = strings.TrimPrefix(dt, "DT_")
	for k := range pipelineTypes {
		if strings.EqualFold(k, dt) {
			dt = k
		}
	}
	t, ok := pipelineTypes[dt]
	if !ok {
		return "", fmt.Errorf("data type %q has no native equivalent", dt)
	}
	switch dt {
	case "str", "text":
		if codePage != 0 && codePage != 65001 {
			if !pkgspec.CodePageSupported(codePage) {
				return "", fmt.Errorf("DT_STR with code page %d: not supported (multi-byte ANSI code pages are not; supported: UTF-8, US-ASCII and single-byte code pages)", codePage)
			}
			if dt == "text" {
				length = 0
			}
			return fmt.Sprintf("DT_STR(%d,%d)", length, codePage), nil
		}
		if length > 0 && dt == "str" {
			return fmt.Sprintf("%s(%d)", t, length), nil
		}
	case "wstr", "bytes":
		if length > 0 {
			return fmt.Sprintf("%s(%d)", t, length), nil
		}
	case "numeric":
		if precision > 18 {
			return "", fmt.Errorf("DT_NUMERIC(%d,%d): scaleout holds at most 18 digits", precision, scale)
		}
		if precision == 0 {
			precision = 18
		}
		return fmt.Sprintf("DT_NUMERIC(%d,%d)", precision, scale), nil
	case "cy":
		return "DT_NUMERIC(18,4)", nil
	case "decimal":
		return fmt.Sprintf("DT_DECIMAL(%d)", scale), nil
	case "dbTimeStamp2":
		return fmt.Sprintf("DT_DBTIMESTAMP2(%d)", scale), nil
	}
	return t, nil
}

func colType(c *ssis.Column) (string, error) {
	return nativeType(c.DataType, c.Length, c.Precision, c.Scale, c.CodePage)
}

// dfConv converts one Data Flow.
type dfConv struct {
	pc    *pkgConv
	e     *ssis.Executable
	names map[*ssis.Component]string
	// outs maps an output id to its component and output.
	outs map[string]struct {
		c *ssis.Component
		o *ssis.Output
	}
	// feed maps an input id to the output id its path starts from.
	feed map[string]string
	// outName maps an output id to its native reference (comp, comp.x).
	outName map[string]string
	// lineage maps a lineage id to a column name.
	lineage map[string]string
	// cols memoises the native columns of an output.
	cols map[string][]string
}

func (pc *pkgConv) dataFlow(e *ssis.Executable) (omap, string, error) {
	pl := e.Pipeline
	if pl == nil || len(pl.Components) == 0 {
		return nil, "", fmt.Errorf("the Data Flow has no components")
	}
	d := &dfConv{pc: pc, e: e, names: map[*ssis.Component]string{}, feed: map[string]string{}, outName: map[string]string{}, lineage: map[string]string{}, cols: map[string][]string{},
		outs: map[string]struct {
			c *ssis.Component
			o *ssis.Output
		}{}}
	un := newUnique(false)
	for _, c := range pl.Components {
		d.names[c] = un.take(strings.ReplaceAll(taskName(c.Name), ".", "_"))
		for _, o := range c.Outputs {
			d.outs[o.ID] = struct {
				c *ssis.Component
				o *ssis.Output
			}{c, o}
			for _, col := range o.Columns {
				d.lineage[col.LineageID] = col.Name
				d.lineage[col.ID] = col.Name
			}
		}
	}
	for _, p := range pl.Paths {
		if _, ok := d.outs[p.Start]; !ok {
			return nil, "", fmt.Errorf("path %q starts at %q, which is no output of the Data Flow", p.Name, p.Start)
		}
		d.feed[p.End] = p.Start
	}
	for _, c := range pl.Components {
		for _, o := range c.Outputs {
			d.outName[o.ID] = d.outputRef(c, o)
		}
	}
	var comps []any
	var bad []string
	convertedBefore := len(pc.rep.Converted)
	for _, c := range pl.Components {
		body, typ, note, err := d.component(c)
		if sub, ok, serr := pc.substitute(c.Path); ok {
			if serr != nil {
				err = serr
			} else {
				body, typ, err = sub, "", nil
				note = "substituted with the native component given by --substitute"
			}
		}
		if err != nil {
			pc.notConverted(c.Path, c.ClassID, err.Error())
			bad = append(bad, c.Path+": "+err.Error())
			continue
		}
		pc.converted(c.Path, c.ClassID, note)
		comp := omap{{"name", d.names[c]}}
		if typ == "" {
			comp = append(comp, body...)
		} else {
			comp.set(typ, body)
		}
		comps = append(comps, comp)
	}
	if len(bad) > 0 {
		for _, it := range pc.rep.Converted[convertedBefore:] {
			pc.notConverted(it.Path, it.Type, "convertible ("+it.Note+"), but its Data Flow is unsupported")
		}
		pc.rep.Converted = pc.rep.Converted[:convertedBefore]
		return nil, "", fmt.Errorf("the Data Flow has components that are not converted: %s", strings.Join(bad, "; "))
	}
	df := omap{}
	if v, ok := e.Data.Attr1("defaultBufferMaxRows"); ok && atoi(v) > 0 {
		df.set("buffer_rows", atoi(v))
	}
	df.set("components", comps)
	return omap{{"dataflow", df}}, fmt.Sprintf("dataflow, %d components", len(comps)), nil
}

// outputRef is the native name of an output: comp for the default one,
// comp.error, comp.no_match, or comp.NAME for split and multicast outputs.
func (d *dfConv) outputRef(c *ssis.Component, o *ssis.Output) string {
	n := d.names[c]
	switch {
	case o.IsError:
		return n + ".error"
	case c.ClassID == "Microsoft.ConditionalSplit" || c.ClassID == "Microsoft.Multicast":
		return n + "." + identifier(o.Name)
	case c.ClassID == "Microsoft.Lookup" && strings.Contains(strings.ToLower(o.Name), "no match"):
		return n + ".no_match"
	}
	return n
}

// input is the native reference the component's input i reads, or "".
func (d *dfConv) input(c *ssis.Component, i int) (string, error) {
	if i >= len(c.Inputs) {
		return "", fmt.Errorf("component has no input %d", i)
	}
	start, ok := d.feed[c.Inputs[i].ID]
	if !ok {
		return "", fmt.Errorf("input %q is not attached to a path", c.Inputs[i].Name)
	}
	return d.outName[start], nil
}

// dataOutput is the component's first output that is not an error
// output.
func dataOutput(c *ssis.Component) *ssis.Output {
	for _, o := range c.Outputs {
		if !o.IsError {
			return o
		}
	}
	return nil
}

// onError is the component's error row disposition, from its columns.
func (d *dfConv) onError(c *ssis.Component, cols []*ssis.Column) string {
	seen := map[string]bool{}
	for _, col := range cols {
		for _, v := range []string{col.ErrorDisposition, col.TruncationDisposition} {
			if v != "" && v != "NotUsed" {
				seen[v] = true
			}
		}
	}
	connected := false
	for _, o := range c.Outputs {
		if o.IsError {
			for _, start := range d.feed {
				if start == o.ID {
					connected = true
				}
			}
		}
	}
	switch {
	case seen["RedirectRow"]:
		if len(seen) > 1 {
			d.pc.warn("%s: columns have different error dispositions; every failing row is redirected", c.Path)
		}
		return "redirect"
	case seen["IgnoreFailure"] && !seen["FailComponent"]:
		return "ignore"
	case seen["IgnoreFailure"]:
		d.pc.warn("%s: some columns ignore failures, others fail the component; any failing row fails it", c.Path)
	}
	if connected {
		d.pc.warn("%s: its error output is attached but no column redirects rows", c.Path)
	}
	return ""
}

func (d *dfConv) component(c *ssis.Component) (omap, string, string, error) {
	switch c.ClassID {
	case "Microsoft.FlatFileSource":
		return d.flatFileSource(c)
	case "Microsoft.FlatFileDestination":
		return d.flatFileDest(c)
	case "Microsoft.OLEDBSource", "Microsoft.ADONETSource", "Microsoft.SSISODBCSrc":
		return d.sqlSource(c)
	case "Microsoft.OLEDBDestination", "Microsoft.ADONETDestination", "Microsoft.SSISODBCDst":
		return d.sqlDest(c)
	case "Microsoft.DerivedColumn", "Microsoft.ConditionalSplit":
		if !d.pc.ssisMode {
			return nil, "", "", fmt.Errorf("%s", needExpr)
		}
		if c.ClassID == "Microsoft.DerivedColumn" {
			return d.derived(c)
		}
		return d.split(c)
	case "Microsoft.DataConvert":
		return d.convert(c)
	case "Microsoft.RowCount":
		in, v, err := d.inputToVariable(c)
		if err != nil {
			return nil, "", "", err
		}
		return omap{{"input", in}, {"variable", v}}, "row_count", "row_count into " + v, nil
	case "Microsoft.UnionAll":
		return d.unionAll(c)
	case "Microsoft.Multicast":
		in, err := d.input(c, 0)
		if err != nil {
			return nil, "", "", err
		}
		var outs []any
		for _, o := range c.Outputs {
			outs = append(outs, identifier(o.Name))
		}
		return omap{{"input", in}, {"outputs", outs}}, "multicast", "multicast", nil
	case "Microsoft.Sort":
		return d.sort(c)
	case "Microsoft.Aggregate":
		return d.aggregate(c)
	case "Microsoft.Lookup":
		return d.lookup(c)
	case "Microsoft.OLEDBCommand":
		return d.oledbCommand(c)
	case "Microsoft.RecordsetDestination":
		return d.recordsetDest(c)
	case "Microsoft.MergeJoin":
		return d.mergeJoin(c)
	case "Microsoft.ScriptComponent":
		return nil, "", "", fmt.Errorf("a Script Component needs .NET; write a native component body and give it with --substitute '%s=FILE.yaml'", c.Path)
	}
	return nil, "", "", fmt.Errorf("component %s is not converted", c.RawClassID)
}

// flatFile returns the FLATFILE connection manager of a component.
func (d *dfConv) flatFile(c *ssis.Component) (*ssis.ConnectionManager, error) {
	if len(c.Connections) == 0 {
		return nil, fmt.Errorf("no connection manager")
	}
	ci, err := d.pc.conn(c.Connections[0].Manager)
	if err != nil {
		return nil, err
	}
	if ci.cm.FlatFile == nil {
		return nil, fmt.Errorf("connection manager %s is a %s, not a flat file", ci.cm.Name, ci.cm.CreationName)
	}
	if len(ci.cm.Expressions) > 0 {
		return nil, fmt.Errorf("connection manager %s's settings are set by property expressions", ci.cm.Name)
	}
	return ci.cm, nil
}

// fileFormat sets the native fields shared by flat file sources and
// destinations.
func (d *dfConv) fileFormat(cm *ssis.ConnectionManager, body *omap, dest bool) error {
	f := cm.FlatFile
	body.set("path", d.pc.filePathOf(cm.ConnectionString, false))
	switch strings.ToLower(f.Format) {
	case "delimited":
		if !dest {
			body.set("format", "delimited")
		}
	case "fixedwidth", "raggedright":
		if dest {
			return fmt.Errorf("fixed-width flat file destinations are not converted")
		}
		body.set("format", "fixed_width")
		if strings.EqualFold(f.Format, "fixedwidth") {
			d.pc.warn("%s: scaleout reads fixed-width records one line at a time (as SSIS's ragged right): the file's records must end with line breaks", cm.Name)
		}
	default:
		return fmt.Errorf("flat file format %s is not converted", f.Format)
	}
	crlf := false
	if strings.EqualFold(f.Format, "delimited") {
		delim := ""
		for i, col := range f.Columns {
			if i == len(f.Columns)-1 {
				if col.Delimiter != "\r\n" && col.Delimiter != "\n" {
					return fmt.Errorf("the last column ends with %q, not a line break", col.Delimiter)
				}
				if dest && col.Delimiter == "\r\n" {
					crlf = true
				}
				continue
			}
			if delim != "" && col.Delimiter != delim {
				return fmt.Errorf("columns have different delimiters (%q and %q)", delim, col.Delimiter)
			}
			delim = col.Delimiter
		}
		if len([]rune(delim)) > 1 {
			return fmt.Errorf("delimiter %q is longer than one character", delim)
		}
		if delim != "" && delim != "," {
			body.set("delimiter", delim)
		}
	}
	switch f.TextQualifier {
	case `"`:
	case "":
		body.set("quote", "")
	default:
		body.set("quote", f.TextQualifier)
	}
	body.set("header", f.ColumnNamesInFirstDataRow)
	if crlf {
		body.set("crlf", true)
	}
	if f.HeaderRowsToSkip > 0 && !dest {
		body.set("skip_rows", f.HeaderRowsToSkip)
	}
	enc := map[int]string{65001: "utf-8", 20127: "utf-8", 1252: "windows-1252", 28591: "latin1", 1200: "utf-16le", 1201: "utf-16be"}[f.CodePage]
	if f.Unicode {
		enc = "utf-16le"
	}
	if enc == "" {
		return fmt.Errorf("code page %d is not converted", f.CodePage)
	}
	if enc != "utf-8" {
		body.set("encoding", enc)
	}
	return nil
}

func (d *dfConv) flatFileSource(c *ssis.Component) (omap, string, string, error) {
	cm, err := d.flatFile(c)
	if err != nil {
		return nil, "", "", err
	}
	body := omap{}
	if err := d.fileFormat(cm, &body, false); err != nil {
		return nil, "", "", err
	}
	out := dataOutput(c)
	if out == nil {
		return nil, "", "", fmt.Errorf("no output")
	}
	ext := map[string]string{}
	for _, x := range out.External {
		ext[x.ID] = x.Name
	}
	width := map[string]int{}
	for _, fc := range cm.FlatFile.Columns {
		width[fc.Name] = fc.Width
		if fc.Width == 0 { // a ragged right file's last column
			width[fc.Name] = max(fc.MaxWidth, 1)
		}
	}
	if !cm.FlatFile.ColumnNamesInFirstDataRow && len(out.Columns) != len(cm.FlatFile.Columns) {
		return nil, "", "", fmt.Errorf("the file has no header and the source reads %d of its %d columns", len(out.Columns), len(cm.FlatFile.Columns))
	}
	var cols []any
	for i, col := range out.Columns {
		t, err := colType(col)
		if err != nil {
			return nil, "", "", fmt.Errorf("column %s: %v", col.Name, err)
		}
		field := ext[col.ExternalID]
		if field == "" && i < len(cm.FlatFile.Columns) {
			field = cm.FlatFile.Columns[i].Name
		}
		if !cm.FlatFile.ColumnNamesInFirstDataRow && field != cm.FlatFile.Columns[i].Name {
			return nil, "", "", fmt.Errorf("the file has no header and the source's columns are not in the file's order")
		}
		entry := omap{{"name", col.Name}, {"type", t}}
		if field != "" && field != col.Name {
			entry.set("field", field)
		}
		if !strings.EqualFold(cm.FlatFile.Format, "delimited") {
			w := width[field]
			if w == 0 {
				return nil, "", "", fmt.Errorf("column %s has no width", col.Name)
			}
			entry.set("width", w)
		}
		cols = append(cols, entry)
	}
	body.set("columns", cols)
	if oe := d.onError(c, out.Columns); oe != "" {
		body.set("on_error", oe)
	}
	return body, "flat_file_source", "flat_file_source from connection " + cm.Name, nil
}

func (d *dfConv) flatFileDest(c *ssis.Component) (_ omap, _, _ string, err error) {
	cm, err := d.flatFile(c)
	if err != nil {
		return nil, "", "", err
	}
	in, err := d.input(c, 0)
	if err != nil {
		return nil, "", "", err
	}
	body := omap{{"input", in}}
	if err := d.fileFormat(cm, &body, true); err != nil {
		return nil, "", "", err
	}
	if ow, ok := c.Props["Overwrite"]; ok && !isTrueS(ow) {
		body.set("append", true)
	}
	// scaleout writes every column of its input, in order: the SSIS
	// mapping must be exactly that.
	var file []string
	for _, fc := range cm.FlatFile.Columns {
		file = append(file, fc.Name)
	}
	avail, err := d.columns(d.feed[c.Inputs[0].ID])
	if err != nil {
		return nil, "", "", err
	}
	ext := map[string]string{}
	for _, col := range c.Inputs[0].Columns {
		if col.UsageType == "external" {
			ext[col.ID] = col.Name
		}
	}
	var mapped []string
	for _, col := range c.Inputs[0].Columns {
		if col.UsageType == "external" {
			continue
		}
		if n := ext[col.ExternalID]; n != "" && n != col.Name {
			return nil, "", "", fmt.Errorf("input column %s goes to file column %s; scaleout writes columns under their own names", col.Name, n)
		}
		mapped = append(mapped, col.Name)
	}
	if x := d.outs[d.feed[c.Inputs[0].ID]]; x.o != nil && x.o.IsError && len(avail) == len(file)+1 && avail[len(avail)-1] == "ErrorDescription" {
		// An SSIS error output has ErrorCode and ErrorColumn; scaleout's
		// adds ErrorDescription, which the file gets as a last column.
		avail = avail[:len(file)]
		defer func() {
			if err == nil {
				d.pc.warn("%s writes an error output: the file gets a last column ErrorDescription that SSIS does not write", c.Path)
			}
		}()
	}
	if strings.Join(avail, "\x00") != strings.Join(file, "\x00") || strings.Join(mapped, "\x00") != strings.Join(file, "\x00") {
		return nil, "", "", fmt.Errorf("the file's columns (%s) are not exactly the input's columns in order (%s); scaleout writes every input column", strings.Join(file, ", "), strings.Join(avail, ", "))
	}
	return body, "flat_file_destination", "flat_file_destination to connection " + cm.Name, nil
}

// columns are the native column names an output carries, as the native
// engine derives them (docs/dataflow.md).
func (d *dfConv) columns(outID string) ([]string, error) {
	if cs, ok := d.cols[outID]; ok {
		return cs, nil
	}
	d.cols[outID] = nil // cycles end here
	x, ok := d.outs[outID]
	if !ok {
		return nil, fmt.Errorf("unknown output %q", outID)
	}
	c, o := x.c, x.o
	var out []string
	add := func(names ...string) {
		for _, n := range names {
			found := false
			for _, m := range out {
				if m == n {
					found = true
				}
			}
			if !found {
				out = append(out, n)
			}
		}
	}
	upstream := func(i int) ([]string, error) {
		if i >= len(c.Inputs) {
			return nil, nil
		}
		start, ok := d.feed[c.Inputs[i].ID]
		if !ok {
			return nil, fmt.Errorf("%s: input not attached", c.Path)
		}
		return d.columns(start)
	}
	switch c.ClassID {
	case "Microsoft.FlatFileSource", "Microsoft.OLEDBSource", "Microsoft.ADONETSource", "Microsoft.SSISODBCSrc", "Microsoft.UnionAll", "Microsoft.Aggregate", "Microsoft.MergeJoin":
		src := o
		if o.IsError {
			src = dataOutput(c)
		}
		for _, col := range src.Columns {
			add(col.Name)
		}
	default:
		up, err := upstream(0)
		if err != nil {
			return nil, err
		}
		add(up...)
		for _, col := range o.Columns {
			add(col.Name)
		}
		if c.ClassID == "Microsoft.DerivedColumn" || c.ClassID == "Microsoft.DataConvert" {
			if o.IsError {
				out = out[:len(up)]
			} else if dout := dataOutput(c); dout != nil {
				for _, col := range dout.Columns {
					add(col.Name)
				}
			}
		}
	}
	if o.IsError {
		add("ErrorCode", "ErrorColumn", "ErrorDescription")
	}
	d.cols[outID] = out
	return out, nil
}

// lineageName is the input column a lineage reference (#{...} or a
// number) names.
func (d *dfConv) lineageName(ref string) (string, bool) {
	ref = strings.TrimSpace(ref)
	ref = strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(ref, "#{"), "#"), "}")
	n, ok := d.lineage[ref]
	return n, ok
}
