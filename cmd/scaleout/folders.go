package main

import (
	"fmt"
	"time"

	"github.com/scaleout/scaleout/api"
	"github.com/spf13/cobra"
)

func newFoldersCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "folders", Aliases: []string{"folder"}, Short: "Create, list, show, rename and delete catalog folders"}
	var desc string
	create := clientCmd("create NAME", "Create a folder", 1, func(x *cmdCtx) error {
		return x.c.Folders().Create(x.ctx, x.args[0], desc)
	})
	create.Flags().StringVar(&desc, "description", "", "description")
	cmd.AddCommand(create,
		listCmd("list", "List folders", 0,
			func(x *cmdCtx) ([]api.Folder, error) { return x.c.Folders().List(x.ctx) },
			"NAME\tCREATED\tDESCRIPTION", func(f api.Folder) string {
				return fmt.Sprintf("%s\t%s\t%s", f.Name, f.CreatedAt.Local().Format(time.DateTime), f.Description)
			}),
		clientCmd("show NAME", "Show a folder with its projects and environments", 1, func(x *cmdCtx) error {
			f, err := x.c.Folders().Info(x.ctx, x.args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(x.out, "Folder       %s\nDescription  %s\nCreated      %s\n", f.Name, dash(f.Description), f.CreatedAt.Local().Format(time.RFC3339))
			projects, err := x.c.Projects(f.Name).List(x.ctx)
			if err != nil {
				return err
			}
			fmt.Fprintln(x.out, "\nProjects")
			for _, p := range projects {
				fmt.Fprintf(x.out, "  %s (version %d)\n", p.Name, p.Version)
			}
			envs, err := x.c.Environments(f.Name).List(x.ctx)
			if err != nil {
				return err
			}
			fmt.Fprintln(x.out, "\nEnvironments")
			for _, e := range envs {
				fmt.Fprintf(x.out, "  %s (%d variables)\n", e.Name, len(e.Variables))
			}
			return nil
		}),
		clientCmd("rename NAME NEW-NAME", "Rename a folder (its projects and environments move with it)", 2, func(x *cmdCtx) error {
			return x.c.Folders().Rename(x.ctx, x.args[0], x.args[1])
		}),
		clientCmd("delete NAME", "Delete an empty folder", 1, func(x *cmdCtx) error {
			return x.c.Folders().Delete(x.ctx, x.args[0])
		}),
	)
	return cmd
}
