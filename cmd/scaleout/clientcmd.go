package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

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
