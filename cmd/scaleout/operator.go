package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

func newOperatorCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "operator", Short: "Cluster operations: Raft peers, backups"}
	raftCmd := &cobra.Command{Use: "raft", Short: "Inspect and change the Raft configuration"}
	raftCmd.AddCommand(
		clientCmd("list-peers", "List the servers in the Raft configuration: id, address, voter or not, leader", 0, func(x *cmdCtx) error {
			peers, err := x.c.Status().Peers(x.ctx)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(x.out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tADDRESS\tSUFFRAGE\tLEADER")
			for _, p := range peers {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%t\n", p.ID, p.Address, p.Suffrage, p.Leader)
			}
			return tw.Flush()
		}),
		clientCmd("remove-peer ID", "Remove a server from the Raft configuration (for a server that is gone for good)", 1, func(x *cmdCtx) error {
			if err := x.c.RemovePeer(x.ctx, x.args[0]); err != nil {
				return err
			}
			fmt.Fprintf(x.out, "removed raft peer %s\n", x.args[0])
			return nil
		}))
	cmd.AddCommand(raftCmd, newSnapshotCmd())
	return cmd
}
