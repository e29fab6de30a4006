package convert

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// Write prints the report: per package, every element converted and every
// element not converted with its SSIS path and creation name, warnings,
// and the secrets to supply (docs/import.md, "The report").
func (r *Report) Write(w io.Writer, verbose bool) error {
	ready := 0
	for _, p := range r.Packages {
		if !p.Refuses {
			ready++
		}
	}
	fmt.Fprintf(w, "project %s (from %s): %d packages, %d ready to run, %d refuse to start\n", r.Project, r.Source, len(r.Packages), ready, len(r.Packages)-ready)
	for _, n := range r.Notes {
		fmt.Fprintf(w, "  note: %s\n", n)
	}
	for _, n := range r.Secrets {
		fmt.Fprintf(w, "  supply: %s\n", n)
	}
	for _, p := range r.Packages {
		status := "ready"
		if p.Refuses {
			status = "REFUSES TO START: holds unsupported tasks (listed below)"
		}
		expr := ""
		if p.SSISExpressions {
			expr = ", expressions: ssis"
		}
		fmt.Fprintf(w, "\npackage %s (%s, format %d%s) -> %s: %d converted, %d not converted; %s\n",
			p.Name, p.Source, p.Format, expr, p.File, len(p.Converted), len(p.NotConverted), status)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		if verbose && len(p.Converted) > 0 {
			fmt.Fprintln(tw, "  converted:")
			for _, it := range p.Converted {
				fmt.Fprintf(tw, "    %s\t%s\t%s\n", it.Path, it.Type, it.Note)
			}
		}
		if len(p.NotConverted) > 0 {
			fmt.Fprintln(tw, "  NOT converted:")
			for _, it := range p.NotConverted {
				fmt.Fprintf(tw, "    %s\t%s\t%s\n", it.Path, it.Type, oneLine(it.Note))
			}
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		for _, s := range p.Warnings {
			fmt.Fprintf(w, "  warning: %s\n", s)
		}
		for _, s := range p.Secrets {
			fmt.Fprintf(w, "  supply: %s\n", s)
		}
	}
	return nil
}

func oneLine(s string) string { return strings.ReplaceAll(s, "\n", " ") }
