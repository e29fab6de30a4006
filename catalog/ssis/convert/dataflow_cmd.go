package convert

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/scaleout/scaleout/catalog/ssis"
)

// oledbCommand converts an OLE DB Command into a sql_command: SqlCommand
// run for each row, its ? markers bound to the input columns mapped to the
// external columns Param_0, Param_1, ... in that order. The input's error
// row disposition is the component's.
func (d *dfConv) oledbCommand(c *ssis.Component) (omap, string, string, error) {
	in, err := d.input(c, 0)
	if err != nil {
		return nil, "", "", err
	}
	if len(c.Connections) == 0 {
		return nil, "", "", fmt.Errorf("no connection manager")
	}
	cn, err := d.pc.dbConn(c.Connections[0].Manager)
	if err != nil {
		return nil, "", "", err
	}
	stmt := strings.TrimSpace(c.Props["SqlCommand"])
	if stmt == "" {
		return nil, "", "", fmt.Errorf("no SqlCommand")
	}
	ext := map[string]string{}
	for _, col := range c.Inputs[0].Columns {
		if col.UsageType == "external" {
			ext[col.ID] = col.Name
		}
	}
	type param struct {
		n    int
		name string
	}
	var params []param
	for _, col := range c.Inputs[0].Columns {
		if col.UsageType == "external" || col.ExternalID == "" {
			continue
		}
		p := ext[col.ExternalID]
		n, err := strconv.Atoi(strings.TrimPrefix(p, "Param_"))
		if !strings.HasPrefix(p, "Param_") || err != nil {
			return nil, "", "", fmt.Errorf("input column %s is mapped to %q, not to a parameter Param_N", col.Name, p)
		}
		params = append(params, param{n, col.Name})
	}
	sort.Slice(params, func(i, j int) bool { return params[i].n < params[j].n })
	var cols []any
	for i, p := range params {
		if p.n != i {
			return nil, "", "", fmt.Errorf("parameter Param_%d is not mapped to an input column", i)
		}
		cols = append(cols, p.name)
	}
	if n := strings.Count(stmt, "?"); n != len(cols) {
		d.pc.warn("%s: the statement has %d ? characters and %d mapped parameters; check that every ? is a parameter marker", c.Path, n, len(cols))
	}
	body := omap{{"input", in}, {"connection", cn}, {"statement", stmt}}
	if len(cols) > 0 {
		body.set("param_columns", cols)
	}
	switch c.Inputs[0].ErrorDisposition {
	case "RedirectRow":
		body.set("on_error", "redirect")
	case "IgnoreFailure":
		body.set("on_error", "ignore")
	}
	if t := atoi(c.Props["CommandTimeout"]); t > 0 {
		d.pc.warn("%s: CommandTimeout %d s is not applied per statement; the task's timeout bounds the whole Data Flow", c.Path, t)
	}
	return body, "sql_command", fmt.Sprintf("sql_command on %s, %d parameters", cn, len(cols)), nil
}

// inputToVariable resolves the input of a component that writes into the
// variable its VariableName property names (Row Count, Recordset
// Destination), and that variable as a task may assign it.
func (d *dfConv) inputToVariable(c *ssis.Component) (in, variable string, err error) {
	if in, err = d.input(c, 0); err != nil {
		return "", "", err
	}
	variable, err = d.pc.assignTarget(c.Props["VariableName"])
	return in, variable, err
}

// recordsetDest converts a Recordset Destination: its input's columns go,
// row by row, into the object variable VariableName, which a Foreach ADO
// enumerator iterates.
func (d *dfConv) recordsetDest(c *ssis.Component) (omap, string, string, error) {
	in, v, err := d.inputToVariable(c)
	if err != nil {
		return nil, "", "", err
	}
	cols := recordsetColumns(c)
	if len(cols) == 0 {
		return nil, "", "", fmt.Errorf("no input columns")
	}
	up, err := d.columns(d.feed[c.Inputs[0].ID])
	if err != nil {
		return nil, "", "", err
	}
	if strings.Join(up, "\x00") != strings.Join(cols, "\x00") {
		return nil, "", "", fmt.Errorf("it keeps the columns %s of its input's %s; scaleout keeps every input column in order (select them all, or add a component that drops the others)", strings.Join(cols, ", "), strings.Join(up, ", "))
	}
	return omap{{"input", in}, {"variable", v}}, "recordset_destination", "recordset_destination into " + v, nil
}

// recordsetColumns names the columns a Recordset Destination keeps, in
// order.
func recordsetColumns(c *ssis.Component) []string {
	var out []string
	if len(c.Inputs) == 0 {
		return nil
	}
	for _, col := range c.Inputs[0].Columns {
		if col.UsageType != "external" {
			out = append(out, col.Name)
		}
	}
	return out
}
