package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"

	"github.com/scaleout/scaleout/api"
	"github.com/scaleout/scaleout/catalog"
	"github.com/scaleout/scaleout/catalog/project"
	"github.com/spf13/cobra"
)

func newDeployCmd() *cobra.Command {
	var (
		cf     clientFlags
		folder string
		limit  int64
	)
	cmd := &cobra.Command{
		Use:   "deploy DIR --folder FOLDER",
		Short: "Deploy a project directory as the next version of a project in a folder",
		Long: `Pack a project directory (project.yaml, packages/*.yaml and the files its
packages use) into an archive, validate every package, upload the archive in
1 MiB chunks and store it as the next version of the project named in
project.yaml. The agent keeps the last versions (--keep-versions, default 10).
Validation errors are printed with file:line and exit code 2.`,
		Example: `  scaleout folders create demo
  scaleout deploy testdata/projects/etl-sample --folder demo`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if folder == "" {
				return exitf(exitUsage, "--folder is required")
			}
			data, m, err := packProject(args[0], limit)
			if err != nil {
				return exitf(exitUsage, "%v", err)
			}
			c, err := cf.client()
			if err != nil {
				return err
			}
			ctx, cancel := timeout(cmd.Context())
			defer cancel()
			return deployArchive(ctx, cmd.OutOrStdout(), c, folder, m.Name, data)
		},
	}
	cf.register(cmd)
	cmd.Flags().StringVar(&folder, "folder", "", "folder to deploy into (required)")
	cmd.Flags().Int64Var(&limit, "max-bytes", catalog.DefaultMaxArchiveBytes, "refuse to upload an archive larger than this")
	return cmd
}

// deployArchive uploads a packed project as the next version of project
// name in folder and prints what the agent stored.
func deployArchive(ctx context.Context, out io.Writer, c *api.Client, folder, name string, data []byte) error {
	hash := project.Hash(data)
	v, err := c.Projects(folder).Deploy(ctx, name, hash, data)
	if err != nil {
		return apiErr(err)
	}
	fmt.Fprintf(out, "deployed %s/%s version %d (%d bytes, sha256 %s, %d packages)\n",
		folder, name, v.Version, len(data), hash[:12], len(v.Packages))
	return nil
}

// packProject packs a project directory and checks it as the agent will
// (the archive read back, the project loaded): the archive and its
// manifest, or deploy's problems.
func packProject(dir string, limit int64) ([]byte, *project.Manifest, error) {
	data, err := project.Pack(dir, limit)
	if err != nil {
		return nil, nil, err
	}
	files, err := project.ReadFiles(data, 0)
	if err != nil {
		return nil, nil, err
	}
	m, err := project.Load(files)
	if err != nil {
		return nil, nil, fmt.Errorf("invalid project %s:\n%w", filepath.Clean(dir), err)
	}
	return data, m, nil
}
