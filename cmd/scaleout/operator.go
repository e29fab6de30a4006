package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

func newOperatorCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "operator", Short: "Cluster operations: Raft peers, backups"}
	raftCmd := &cobra.Command{Use: "raft", Short: "Inspect and change the Raft configuration"}
	raftCmd.AddCommand(newListPeersCmd(), newRemovePeerCmd())
	cmd.AddCommand(raftCmd, newSnapshotCmd())
	return cmd
}

func newListPeersCmd() *cobra.Command {
	var cf clientFlags
	cmd := &cobra.Command{
		Use:   "list-peers",
		Short: "List the servers in the Raft configuration: id, address, voter or not, leader",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := cf.client()
			if err != nil {
				return err
			}
			ctx, cancel := timeout(cmd.Context())
			defer cancel()
			peers, err := c.Status().Peers(ctx)
			if err != nil {
				return apiErr(err)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tADDRESS\tSUFFRAGE\tLEADER")
			for _, p := range peers {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%t\n", p.ID, p.Address, p.Suffrage, p.Leader)
			}
			return tw.Flush()
		},
	}
	cf.register(cmd)
	return cmd
}

func newRemovePeerCmd() *cobra.Command {
	var cf clientFlags
	cmd := &cobra.Command{
		Use:   "remove-peer ID",
		Short: "Remove a server from the Raft configuration (for a server that is gone for good)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.client()
			if err != nil {
				return err
			}
			ctx, cancel := timeout(cmd.Context())
			defer cancel()
			if err := c.RemovePeer(ctx, args[0]); err != nil {
				return apiErr(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "removed raft peer %s\n", args[0])
			return nil
		},
	}
	cf.register(cmd)
	return cmd
}
