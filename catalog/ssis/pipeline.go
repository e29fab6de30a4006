package ssis

import (
	"fmt"
	"strings"
)

// componentGUIDs maps the class IDs of format 6 (SSIS 2012/2014) and
// format 3 components onto format 8 names.
var componentGUIDs = map[string]string{
	"{D23FD76B-F51D-420F-BBCB-19CBF6AC1AB4}": "Microsoft.FlatFileSource",
	"{8DA75FED-1B7C-407D-B2AD-2B24209CCCA4}": "Microsoft.FlatFileDestination",
	"{165A526D-D5DE-47FF-96A6-F8274C19826B}": "Microsoft.OLEDBSource",
	"{4ADA7EAA-136C-4215-8098-D7A7C27FC0D1}": "Microsoft.OLEDBDestination",
	"{49928E82-9C4E-49F0-AABE-3812B82707EC}": "Microsoft.DerivedColumn",
	"{7F88F654-4E20-4D14-84F4-AF9C925D3087}": "Microsoft.ConditionalSplit",
	"{671046B0-AA63-4C9F-90E4-C06E0B710CE3}": "Microsoft.Lookup",
	"{14D43A4F-D7BD-489D-829E-6DE35750CFE4}": "Microsoft.MergeJoin",
	"{E2697D8C-70DA-42B2-8208-A19CE3A9FE41}": "Microsoft.RowCount",
	"{EC139FBC-694E-490B-8EA7-35690FB0F445}": "Microsoft.Multicast",
	"{874F7595-FB5F-40FF-96AF-FBFF8250E3EF}": "Microsoft.ManagedComponentHost",
	// Format 3 (SSIS 2008/2008 R2): the class IDs of that release, as
	// public 2008 readers list them; other 2008 components keep their
	// GUID and are reported.
	"{5ACD952A-F16A-41D8-A681-713640837664}": "Microsoft.FlatFileSource",
	"{D658C424-8CF0-441C-B3C4-955E183B7FBA}": "Microsoft.FlatFileDestination",
	"{BCEFE59B-6819-47F7-A125-63753B33ABB7}": "Microsoft.OLEDBSource",
	"{5A0B62E8-D91D-49F5-94A5-7BE58DE508F0}": "Microsoft.OLEDBDestination",
	"{2932025B-AB99-40F6-B5B8-783A73F80E24}": "Microsoft.DerivedColumn",
	"{27648839-180F-45E6-838D-AFF53DF682D2}": "Microsoft.Lookup",
	"{2E42D45B-F83C-400F-8D77-61DDE6A7DF29}": "Microsoft.ManagedComponentHost",
}

// normaliseClass maps a componentClassID onto its format 8 name:
// GUIDs through componentGUIDs, ProgIDs such as DTSAdapter.FlatFileSource.3
// or DTSTransform.DerivedColumn.3 by their middle part, and the managed
// host (ADO.NET, Script Component) by its UserComponentTypeName.
func normaliseClass(raw string, props map[string]string) string {
	s := strings.TrimSpace(raw)
	if g, ok := componentGUIDs[strings.ToUpper(s)]; ok {
		s = g
	}
	if strings.HasPrefix(s, "DTSAdapter.") || strings.HasPrefix(s, "DTSTransform.") {
		parts := strings.Split(s, ".")
		if len(parts) >= 2 {
			name := parts[1]
			if name == "DataConvert" || name == "DataConversion" {
				name = "DataConvert"
			}
			s = "Microsoft." + name
		}
	}
	if s == "Microsoft.ManagedComponentHost" {
		u := props["UserComponentTypeName"]
		switch {
		case strings.Contains(u, "ScriptComponentHost"):
			return "Microsoft.ScriptComponent"
		case strings.Contains(u, "DataReaderSourceAdapter"), strings.Contains(u, "ADONETSource"):
			return "Microsoft.ADONETSource"
		case strings.Contains(u, "ADONETDestination"):
			return "Microsoft.ADONETDestination"
		case u != "":
			return u
		}
	}
	return s
}

// pipeline reads a Data Flow's <pipeline> element.
func (r *dtsxReader) pipeline(e *Executable, n *Node) (*Pipeline, error) {
	if n.Name.Local != "pipeline" {
		return nil, fmt.Errorf("%s:%d: Data Flow %s: ObjectData holds <%s>, not <pipeline>", r.file, n.Line, e.Path, n.qname())
	}
	pl := &Pipeline{}
	seen := map[string]bool{}
	for _, cn := range n.path("components", "component") {
		c := &Component{Name: cn.get("name"), RawClassID: cn.get("componentClassID"), Line: cn.Line}
		if c.Name == "" {
			return nil, fmt.Errorf("%s:%d: Data Flow %s: a component has no name", r.file, cn.Line, e.Path)
		}
		if seen[c.Name] {
			return nil, fmt.Errorf("%s:%d: Data Flow %s holds two components named %q", r.file, cn.Line, e.Path, c.Name)
		}
		seen[c.Name] = true
		c.Path = e.Path + `\` + c.Name
		c.Props = cn.props()
		c.ClassID = normaliseClass(c.RawClassID, c.Props)
		for _, cc := range cn.path("connections", "connection") {
			m := cc.get("connectionManagerRefId")
			if m == "" {
				m = cc.get("connectionManagerID")
			}
			c.Connections = append(c.Connections, ComponentConnection{Name: cc.get("name"), Manager: m})
		}
		for _, in := range cn.path("inputs", "input") {
			i := &Input{ID: idOf(in), Name: in.get("name"), ErrorDisposition: in.get("errorRowDisposition")}
			for _, col := range in.path("inputColumns", "inputColumn") {
				i.Columns = append(i.Columns, column(col))
			}
			c.Inputs = append(c.Inputs, i)
		}
		for _, on := range cn.path("outputs", "output") {
			o := &Output{ID: idOf(on), Name: on.get("name"), IsError: isTrue(on.get("isErrorOut")), IsSorted: isTrue(on.get("isSorted")),
				Props: on.props(), SyncInput: on.get("synchronousInputId"), ExclusionGroup: on.get("exclusionGroup")}
			for _, col := range on.path("outputColumns", "outputColumn") {
				o.Columns = append(o.Columns, column(col))
			}
			for _, col := range on.path("externalMetadataColumns", "externalMetadataColumn") {
				o.External = append(o.External, column(col))
			}
			c.Outputs = append(c.Outputs, o)
		}
		// Destinations keep their external metadata on the input.
		for i, in := range cn.path("inputs", "input") {
			for _, col := range in.path("externalMetadataColumns", "externalMetadataColumn") {
				c.Inputs[i].Columns = append(c.Inputs[i].Columns, &Column{ID: idOf(col), Name: col.get("name"), DataType: col.get("dataType"), UsageType: "external",
					Length: atoiDefault(col.get("length"), 0), Precision: atoiDefault(col.get("precision"), 0), Scale: atoiDefault(col.get("scale"), 0)})
			}
		}
		pl.Components = append(pl.Components, c)
	}
	for _, pn := range n.path("paths", "path") {
		pl.Paths = append(pl.Paths, &Path{Name: pn.get("name"), Start: pn.get("startId"), End: pn.get("endId")})
	}
	resolveInputColumns(pl)
	return pl, nil
}

// resolveInputColumns names the input columns that carry no name of their
// own: format 3 writes them with name="" and no cached metadata, only the
// lineageId of the output column they read, whose name and type they
// take.
func resolveInputColumns(pl *Pipeline) {
	byLineage := map[string]*Column{}
	for _, c := range pl.Components {
		for _, o := range c.Outputs {
			for _, col := range o.Columns {
				if col.LineageID != "" {
					byLineage[col.LineageID] = col
				}
			}
		}
	}
	for _, c := range pl.Components {
		for _, in := range c.Inputs {
			for _, col := range in.Columns {
				src := byLineage[col.LineageID]
				if col.Name != "" || src == nil || col.UsageType == "external" {
					continue
				}
				col.Name = src.Name
				if col.DataType == "" {
					col.DataType, col.Length, col.Precision, col.Scale, col.CodePage = src.DataType, src.Length, src.Precision, src.Scale, src.CodePage
				}
			}
		}
	}
}

// idOf is an object's refId (formats 6 and 8) or id (format 3).
func idOf(n *Node) string {
	if v, ok := n.attrOnly("refId"); ok {
		return v
	}
	v, _ := n.attrOnly("id")
	return v
}

func column(n *Node) *Column {
	c := &Column{ID: idOf(n), LineageID: n.get("lineageId"), Name: n.get("name"), DataType: n.get("dataType"),
		Length: atoiDefault(n.get("length"), 0), Precision: atoiDefault(n.get("precision"), 0), Scale: atoiDefault(n.get("scale"), 0),
		CodePage: atoiDefault(n.get("codePage"), 0), SortKeyPosition: atoiDefault(n.get("sortKeyPosition"), 0),
		ErrorDisposition: n.get("errorRowDisposition"), TruncationDisposition: n.get("truncationRowDisposition"),
		ExternalID: n.get("externalMetadataColumnId"), UsageType: n.get("usageType"), Props: n.props()}
	if c.Name == "" {
		c.Name = n.get("cachedName")
	}
	if c.DataType == "" {
		c.DataType = n.get("cachedDataType")
		c.Length = atoiDefault(n.get("cachedLength"), c.Length)
		c.Precision = atoiDefault(n.get("cachedPrecision"), c.Precision)
		c.Scale = atoiDefault(n.get("cachedScale"), c.Scale)
		c.CodePage = atoiDefault(n.get("cachedCodepage"), c.CodePage)
		c.SortKeyPosition = atoiDefault(n.get("cachedSortKeyPosition"), c.SortKeyPosition)
	}
	return c
}
