package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/scaleout/scaleout/api"
	"github.com/spf13/cobra"
)

// envArg reads a FOLDER/ENVIRONMENT argument.
func envArg(s string) (folder, env string, err error) {
	p, err := splitPath(s, 2, "FOLDER/ENVIRONMENT")
	if err != nil {
		return "", "", err
	}
	return p[0], p[1], nil
}

func newEnvironmentsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "environments", Aliases: []string{"environment", "env"}, Short: "Create, list, show and delete environments; set their variables"}
	var (
		desc, typ string
		sensitive bool
	)
	create := clientCmd("create FOLDER/ENVIRONMENT", "Create an environment", 1, func(x *cmdCtx) error {
		folder, env, err := envArg(x.args[0])
		if err != nil {
			return err
		}
		return x.c.Environments(folder).Create(x.ctx, env, desc)
	})
	create.Flags().StringVar(&desc, "description", "", "description")
	setVar := clientCmd("set-var FOLDER/ENVIRONMENT NAME VALUE", "Create or replace a variable (--sensitive: sealed, never shown)", 3, func(x *cmdCtx) error {
		folder, env, err := envArg(x.args[0])
		if err != nil {
			return err
		}
		return x.c.Environments(folder).SetVariable(x.ctx, env, x.args[1], &api.VariableRequest{Type: typ, Value: x.args[2], Sensitive: sensitive, Description: desc})
	})
	setVar.Flags().StringVar(&typ, "type", "string", "string, int, float, bool or datetime")
	setVar.Flags().BoolVar(&sensitive, "sensitive", false, "seal the value; it is shown as "+api.Masked+" and only given to the package")
	setVar.Flags().StringVar(&desc, "description", "", "description")
	cmd.AddCommand(create, setVar,
		clientCmd("list FOLDER", "List the environments of a folder", 1, func(x *cmdCtx) error {
			list, err := x.c.Environments(x.args[0]).List(x.ctx)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(x.out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tVARIABLES\tDESCRIPTION")
			for _, e := range list {
				fmt.Fprintf(tw, "%s\t%d\t%s\n", e.Name, len(e.Variables), e.Description)
			}
			return tw.Flush()
		}),
		clientCmd("show FOLDER/ENVIRONMENT", "Show an environment's variables (sensitive values masked)", 1, func(x *cmdCtx) error {
			folder, env, err := envArg(x.args[0])
			if err != nil {
				return err
			}
			e, err := x.c.Environments(folder).Info(x.ctx, env)
			if err != nil {
				return err
			}
			fmt.Fprintf(x.out, "Environment  %s/%s\nDescription  %s\n\n", e.Folder, e.Name, dash(e.Description))
			tw := tabwriter.NewWriter(x.out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tTYPE\tVALUE\tSENSITIVE\tDESCRIPTION")
			for _, v := range e.Variables {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%t\t%s\n", v.Name, v.Type, v.Value, v.Sensitive, v.Description)
			}
			return tw.Flush()
		}),
		clientCmd("delete FOLDER/ENVIRONMENT", "Delete an environment (and the project references to it)", 1, func(x *cmdCtx) error {
			folder, env, err := envArg(x.args[0])
			if err != nil {
				return err
			}
			return x.c.Environments(folder).Delete(x.ctx, env)
		}),
		clientCmd("delete-var FOLDER/ENVIRONMENT NAME", "Delete a variable", 2, func(x *cmdCtx) error {
			folder, env, err := envArg(x.args[0])
			if err != nil {
				return err
			}
			return x.c.Environments(folder).DeleteVariable(x.ctx, env, x.args[1])
		}),
	)
	return cmd
}
