package convert

import (
	"fmt"
	"strings"

	"github.com/scaleout/scaleout/catalog/ssis"
)

// The SQL sources and destinations of a Data Flow (OLE DB, ADO.NET, ODBC).

func (d *dfConv) sqlSource(c *ssis.Component) (omap, string, string, error) {
	if len(c.Connections) == 0 {
		return nil, "", "", fmt.Errorf("no connection manager")
	}
	cn, err := d.pc.dbConn(c.Connections[0].Manager)
	if err != nil {
		return nil, "", "", err
	}
	out := dataOutput(c)
	if out == nil {
		return nil, "", "", fmt.Errorf("no output")
	}
	var cols []any
	var names []string
	for _, col := range out.Columns {
		t, err := colType(col)
		if err != nil {
			return nil, "", "", fmt.Errorf("column %s: %v", col.Name, err)
		}
		cols = append(cols, omap{{"name", col.Name}, {"type", t}})
		names = append(names, quoteIdent(col.Name))
	}
	var query string
	mode := c.Props["AccessMode"]
	table := c.Props["OpenRowset"]
	if c.ClassID == "Microsoft.ADONETSource" {
		table = c.Props["TableOrViewName"]
	} else if c.ClassID == "Microsoft.SSISODBCSrc" {
		table = c.Props["TableName"]
	}
	command := c.Props["SqlCommand"]
	switch {
	case (mode == "" || mode == "0") && table != "" && command == "":
		query = "SELECT " + strings.Join(names, ", ") + " FROM " + plainTable(table)
	case mode == "2" || (c.ClassID != "Microsoft.OLEDBSource" && command != "") || (mode == "" && command != ""):
		query = command
		if pm := strings.TrimSpace(c.Props["ParameterMapping"]); pm != "" {
			return nil, "", "", fmt.Errorf("query parameters (ParameterMapping) are not converted")
		}
	default:
		return nil, "", "", fmt.Errorf("access mode %s (table or command from a variable) is not converted", mode)
	}
	if strings.TrimSpace(query) == "" {
		return nil, "", "", fmt.Errorf("no table and no SQL command")
	}
	return omap{{"connection", cn}, {"query", query}, {"columns", cols}}, "sql_source", "sql_source on connection " + cn, nil
}

// plainTable turns [dbo].[Orders] into dbo.Orders.
func plainTable(t string) string {
	return strings.NewReplacer("[", "", "]", "", `"`, "").Replace(strings.TrimSpace(t))
}

func quoteIdent(s string) string {
	if identifier(s) == s {
		return s
	}
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

func (d *dfConv) sqlDest(c *ssis.Component) (omap, string, string, error) {
	if len(c.Connections) == 0 {
		return nil, "", "", fmt.Errorf("no connection manager")
	}
	cn, err := d.pc.dbConn(c.Connections[0].Manager)
	if err != nil {
		return nil, "", "", err
	}
	in, err := d.input(c, 0)
	if err != nil {
		return nil, "", "", err
	}
	for _, o := range c.Outputs {
		if o.IsError {
			for _, start := range d.feed {
				if start == o.ID {
					return nil, "", "", fmt.Errorf("its error output is attached; scaleout's sql_destination fails on a refused row instead")
				}
			}
		}
	}
	mode := c.Props["AccessMode"]
	table := c.Props["OpenRowset"]
	switch c.ClassID {
	case "Microsoft.ADONETDestination":
		table, mode = c.Props["TableOrViewName"], ""
	case "Microsoft.SSISODBCDst":
		table, mode = c.Props["TableName"], ""
	}
	if mode != "" && mode != "0" && mode != "3" {
		return nil, "", "", fmt.Errorf("access mode %s (table from a variable, or SQL command) is not converted", mode)
	}
	if table == "" {
		return nil, "", "", fmt.Errorf("no table")
	}
	body := omap{{"input", in}, {"connection", cn}, {"table", plainTable(table)}}
	if strings.Contains(strings.ToUpper(c.Props["FastLoadOptions"]), "TABLOCK") {
		body.set("table_lock", true)
	}
	if n := atoi(c.Props["FastLoadMaxInsertCommitSize"]); n > 0 && n < 2147483647 {
		body.set("batch_size", n)
	}
	ext := map[string]string{}
	for _, col := range c.Inputs[0].Columns {
		if col.UsageType == "external" {
			ext[col.ID] = col.Name
		}
	}
	mapping := omap{}
	for _, col := range c.Inputs[0].Columns {
		if col.UsageType == "external" {
			continue
		}
		if n := ext[col.ExternalID]; n != "" {
			mapping.set(n, col.Name)
		}
	}
	if len(mapping) > 0 {
		body.set("mapping", mapping)
	}
	return body, "sql_destination", "sql_destination into " + plainTable(table), nil
}
