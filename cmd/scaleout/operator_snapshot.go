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
	save := transferCmd("save FILE", "Write a consistent snapshot of the catalog (every folder, project, environment, execution) to FILE", 1, func(x *cmdCtx) error {
		f, err := os.CreateTemp(".", ".snapshot-*")
		if err != nil {
			return exitf(exitFailed, "%v", err)
		}
		defer os.Remove(f.Name())
		err = x.c.Operator().SnapshotSave(context.WithoutCancel(x.ctx), f)
		if cerr := f.Close(); err == nil && cerr != nil {
			return exitf(exitFailed, "%v", cerr)
		}
		if err != nil {
			return err
		}
		if err := os.Rename(f.Name(), x.args[0]); err != nil {
			return exitf(exitFailed, "%v", err)
		}
		st, _ := os.Stat(x.args[0])
		fmt.Fprintf(x.out, "saved snapshot to %s (%d bytes)\n", x.args[0], st.Size())
		return nil
	})
	restore := transferCmd("restore FILE", "Replace the whole state of the cluster with a snapshot saved by 'snapshot save'", 1, func(x *cmdCtx) error {
		f, err := os.Open(x.args[0])
		if err != nil {
			return exitf(exitUsage, "%v", err)
		}
		defer f.Close()
		if err := x.c.Operator().SnapshotRestore(x.ctx, f); err != nil {
			return err
		}
		fmt.Fprintf(x.out, "restored snapshot %s\n", x.args[0])
		return nil
	})
	snap.AddCommand(save, restore)
	return snap
}
