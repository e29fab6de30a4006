package main

import (
	"context"
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

// newSnapshotCmd is `operator snapshot save|restore`: backups of the catalog.
func newSnapshotCmd() *cobra.Command {
	snap := &cobra.Command{Use: "snapshot", Short: "Save or restore a snapshot of the whole catalog"}
	var cf, rf clientFlags
	save := &cobra.Command{
		Use:   "save FILE",
		Short: "Write a consistent snapshot of the catalog (every folder, project, environment, execution) to FILE",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.client()
			if err != nil {
				return err
			}
			f, err := os.CreateTemp(".", ".snapshot-*")
			if err != nil {
				return exitf(exitFailed, "%v", err)
			}
			defer os.Remove(f.Name())
			err = c.Operator().SnapshotSave(context.WithoutCancel(cmd.Context()), f)
			if cerr := f.Close(); err == nil && cerr != nil {
				return exitf(exitFailed, "%v", cerr)
			}
			if err != nil {
				return apiErr(err)
			}
			if err := os.Rename(f.Name(), args[0]); err != nil {
				return exitf(exitFailed, "%v", err)
			}
			st, _ := os.Stat(args[0])
			fmt.Fprintf(cmd.OutOrStdout(), "saved snapshot to %s (%d bytes)\n", args[0], st.Size())
			return nil
		},
	}
	cf.register(save)
	restore := &cobra.Command{
		Use:   "restore FILE",
		Short: "Replace the whole state of the cluster with a snapshot saved by 'snapshot save'",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := rf.client()
			if err != nil {
				return err
			}
			f, err := os.Open(args[0])
			if err != nil {
				return exitf(exitUsage, "%v", err)
			}
			defer f.Close()
			if err := c.Operator().SnapshotRestore(cmd.Context(), f); err != nil {
				return apiErr(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "restored snapshot %s\n", args[0])
			return nil
		},
	}
	rf.register(restore)
	snap.AddCommand(save, restore)
	return snap
}
