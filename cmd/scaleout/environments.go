package main

import (
	"fmt"

	"github.com/scaleout/scaleout/api"
	"github.com/spf13/cobra"
)

func newEnvironmentsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "environments", Aliases: []string{"environment", "env"}, Short: "Create, list, show and delete environments; set their variables"}
	var (
		desc, typ string
		sensitive bool
	)
	create := inFolder("FOLDER/ENVIRONMENT", "create FOLDER/ENVIRONMENT", "Create an environment", 1, func(x *cmdCtx, folder, env string) error {
		return x.c.Environments(folder).Create(x.ctx, env, desc)
	})
	create.Flags().StringVar(&desc, "description", "", "description")
	setVar := inFolder("FOLDER/ENVIRONMENT", "set-var FOLDER/ENVIRONMENT NAME VALUE", "Create or replace a variable (--sensitive: sealed, never shown)", 3, func(x *cmdCtx, folder, env string) error {
		return x.c.Environments(folder).SetVariable(x.ctx, env, x.args[1], &api.VariableRequest{Type: typ, Value: x.args[2], Sensitive: sensitive, Description: desc})
	})
	setVar.Flags().StringVar(&typ, "type", "string", "string, int, float, bool or datetime")
	setVar.Flags().BoolVar(&sensitive, "sensitive", false, "seal the value; it is shown as "+api.Masked+" and only given to the package")
	setVar.Flags().StringVar(&desc, "description", "", "description")
	cmd.AddCommand(create, setVar,
		listCmd("list FOLDER", "List the environments of a folder", 1,
			func(x *cmdCtx) ([]api.Environment, error) { return x.c.Environments(x.args[0]).List(x.ctx) },
			"NAME\tVARIABLES\tDESCRIPTION", func(e api.Environment) string {
				return fmt.Sprintf("%s\t%d\t%s", e.Name, len(e.Variables), e.Description)
			}),
		inFolder("FOLDER/ENVIRONMENT", "show FOLDER/ENVIRONMENT", "Show an environment's variables (sensitive values masked)", 1, func(x *cmdCtx, folder, env string) error {
			e, err := x.c.Environments(folder).Info(x.ctx, env)
			if err != nil {
				return err
			}
			fmt.Fprintf(x.out, "Environment  %s/%s\nDescription  %s\n\n", e.Folder, e.Name, dash(e.Description))
			return printTable(x.out, "NAME\tTYPE\tVALUE\tSENSITIVE\tDESCRIPTION", e.Variables, func(v api.Variable) string {
				return fmt.Sprintf("%s\t%s\t%s\t%t\t%s", v.Name, v.Type, v.Value, v.Sensitive, v.Description)
			})
		}),
		inFolder("FOLDER/ENVIRONMENT", "delete FOLDER/ENVIRONMENT", "Delete an environment (and the project references to it)", 1, func(x *cmdCtx, folder, env string) error {
			return x.c.Environments(folder).Delete(x.ctx, env)
		}),
		inFolder("FOLDER/ENVIRONMENT", "delete-var FOLDER/ENVIRONMENT NAME", "Delete a variable", 2, func(x *cmdCtx, folder, env string) error {
			return x.c.Environments(folder).DeleteVariable(x.ctx, env, x.args[1])
		}),
	)
	return cmd
}
