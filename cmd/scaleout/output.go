package main

import (
	"encoding/json"
	"io"

	"github.com/spf13/cobra"
)

// addOutputFlag adds --output (text or json) to a list or status command.
func addOutputFlag(cmd *cobra.Command, output *string) {
	cmd.Flags().StringVarP(output, "output", "o", "text", "output format: text (a table for people) or json (the API's objects, for scripts)")
}

// checkOutput refuses an --output other than text and json (exit 2).
func checkOutput(output string) error {
	if output != "text" && output != "json" {
		return exitf(exitUsage, "unknown --output %q: want text or json", output)
	}
	return nil
}

// writeJSON writes v as indented JSON and a newline.
func writeJSON(out io.Writer, v any) error {
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
