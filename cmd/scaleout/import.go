package main

import (
	"fmt"
	"os"

	"github.com/scaleout/scaleout/api"
	"github.com/scaleout/scaleout/catalog"
	"github.com/scaleout/scaleout/catalog/project"
	"github.com/scaleout/scaleout/catalog/ssis/convert"
	"github.com/spf13/cobra"
)

func newImportCmd() *cobra.Command {
	var (
		cf     clientFlags
		f      ssisFlags
		folder string
		limit  int64
	)
	cmd := &cobra.Command{
		Use:   "import PATH --folder FOLDER",
		Short: "Convert SSIS packages and deploy them as the next version of a project",
		Long: `Convert SSIS packages (as 'scaleout convert' does, printing the same report) and
deploy the result into FOLDER as the next version of the project, as
'scaleout deploy' does with a project directory.

` + ssisHelp + `

Exit codes: 0 deployed (read the report: some packages may refuse to start);
2 unreadable input, bad flags, --strict with elements not converted, or the
agent refused the project (nothing is deployed); 3 the agent could not be
reached.`,
		Example: `  scaleout folders create etl
  scaleout import testdata/ssis/etl --folder etl --connection Warehouse=sqlite:/tmp/wh.db
  scaleout run etl/ETL/LoadFiles --wait`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if folder == "" {
				return exitf(exitUsage, "--folder is required")
			}
			res, err := convertSSIS(cmd.OutOrStdout(), args[0], &f)
			if err != nil {
				return err
			}
			dir, err := os.MkdirTemp("", "scaleout-import-")
			if err != nil {
				return exitf(exitFailed, "%v", err)
			}
			defer os.RemoveAll(dir)
			if err := writeProject(dir, res.Files); err != nil {
				return exitf(exitFailed, "%v", err)
			}
			data, err := project.Pack(dir, limit)
			if err != nil {
				return exitf(exitUsage, "%v", err)
			}
			c, err := cf.client()
			if err != nil {
				return err
			}
			ctx, cancel := timeout(cmd.Context())
			defer cancel()
			fmt.Fprintln(cmd.OutOrStdout())
			if err := deployArchive(ctx, cmd.OutOrStdout(), c, folder, res.Manifest.Name, data); err != nil {
				return err
			}
			// Decrypted sensitive values go to the catalog, which encrypts
			// them; the archive never holds them.
			for _, sv := range res.Values {
				val := sv.Value
				if err := c.Projects(folder).SetValue(ctx, res.Manifest.Name, &api.SetValueRequest{Package: sv.Package, Name: sv.Name, Value: &val}); err != nil {
					return apiErr(fmt.Errorf("setting the decrypted value of %s: %w", valueName(sv), err))
				}
				fmt.Fprintf(cmd.OutOrStdout(), "set %s (sensitive, decrypted with the package password)\n", valueName(sv))
			}
			return nil
		},
	}
	cf.register(cmd)
	f.register(cmd)
	cmd.Flags().StringVar(&folder, "folder", "", "folder to deploy into (required)")
	cmd.Flags().Int64Var(&limit, "max-bytes", catalog.DefaultMaxArchiveBytes, "refuse to upload an archive larger than this")
	return cmd
}

// valueName names a decrypted value for the import's output.
func valueName(v convert.Value) string {
	if v.Package != "" {
		return "package parameter " + v.Package + "." + v.Name
	}
	return "project parameter " + v.Name
}
