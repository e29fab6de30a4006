package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/scaleout/scaleout/api"
	"github.com/spf13/cobra"
)

// cmdCtx is what a simple client command's body gets.
type cmdCtx struct {
	ctx  context.Context
	c    *api.Client
	args []string
	out  io.Writer
}

// clientCmd builds a client subcommand with exactly nargs arguments whose
// body only talks to the API: the client, timeout and exit codes are
// handled here.
func clientCmd(use, short string, nargs int, body func(x *cmdCtx) error) *cobra.Command {
	return newClientCmd(use, short, nargs, timeout, body)
}

// transferCmd is clientCmd without the timeout, for commands that move
// data of any size (snapshots).
func transferCmd(use, short string, nargs int, body func(x *cmdCtx) error) *cobra.Command {
	return newClientCmd(use, short, nargs, context.WithCancel, body)
}

func newClientCmd(use, short string, nargs int, timeout func(context.Context) (context.Context, context.CancelFunc), body func(x *cmdCtx) error) *cobra.Command {
	var cf clientFlags
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.ExactArgs(nargs),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.client()
			if err != nil {
				return err
			}
			ctx, cancel := timeout(cmd.Context())
			defer cancel()
			err = body(&cmdCtx{ctx: ctx, c: c, args: args, out: cmd.OutOrStdout()})
			var ee *exitError
			if errors.As(err, &ee) {
				return err
			}
			return apiErr(err)
		},
	}
	cf.register(cmd)
	return cmd
}

// splitPath splits "FOLDER/PROJECT[/PACKAGE]" into n parts.
func splitPath(s string, n int, what string) ([]string, error) {
	parts := strings.Split(s, "/")
	if len(parts) != n {
		return nil, exitf(exitUsage, "%q: want %s", s, what)
	}
	for _, p := range parts {
		if p == "" {
			return nil, exitf(exitUsage, "%q: want %s", s, what)
		}
	}
	return parts, nil
}

// inFolder builds a client command whose first argument names an object in
// a folder, FOLDER/NAME; what spells it out for the usage error
// ("FOLDER/PROJECT").
func inFolder(what, use, short string, nargs int, body func(x *cmdCtx, folder, name string) error) *cobra.Command {
	return clientCmd(use, short, nargs, func(x *cmdCtx) error {
		p, err := splitPath(x.args[0], 2, what)
		if err != nil {
			return err
		}
		return body(x, p[0], p[1])
	})
}

// ofProject adapts a listing of one project to listCmd: the first argument
// is FOLDER/PROJECT.
func ofProject[T any](list func(x *cmdCtx, folder, project string) ([]T, error)) func(x *cmdCtx) ([]T, error) {
	return func(x *cmdCtx) ([]T, error) {
		folder, name, err := projectArg(x.args[0])
		if err != nil {
			return nil, err
		}
		return list(x, folder, name)
	}
}

// projectArg reads a FOLDER/PROJECT argument.
func projectArg(s string) (folder, project string, err error) {
	p, err := splitPath(s, 2, "FOLDER/PROJECT")
	if err != nil {
		return "", "", err
	}
	return p[0], p[1], nil
}

func fmtDefault(d *string) string {
	if d == nil {
		return "-"
	}
	return fmt.Sprintf("%q", *d)
}

// listCmd builds a client command that prints what list returns as a table
// (see printTable).
func listCmd[T any](use, short string, nargs int, list func(x *cmdCtx) ([]T, error), header string, row func(T) string) *cobra.Command {
	var output string
	cmd := clientCmd(use, short, nargs, func(x *cmdCtx) error {
		if err := checkOutput(output); err != nil {
			return err
		}
		items, err := list(x)
		if err != nil {
			return err
		}
		if output == "json" { // output.go
			if items == nil {
				items = []T{}
			}
			return writeJSON(x.out, items)
		}
		return printTable(x.out, header, items, row)
	})
	addOutputFlag(cmd, &output)
	return cmd
}

// printTable writes header (if any) and one row per item in aligned
// columns; header and rows separate their columns with tabs.
func printTable[T any](out io.Writer, header string, items []T, row func(T) string) error {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	if header != "" {
		fmt.Fprintln(tw, header)
	}
	for _, it := range items {
		fmt.Fprintln(tw, row(it))
	}
	return tw.Flush()
}
