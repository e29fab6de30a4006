package main

import (
	"fmt"

	"github.com/scaleout/scaleout/api"
	"github.com/spf13/cobra"
)

func newOperatorCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "operator", Short: "Cluster operations: Raft peers, backups, the gossip keyring"}
	raftCmd := &cobra.Command{Use: "raft", Short: "Inspect and change the Raft configuration"}
	raftCmd.AddCommand(
		listCmd("list-peers", "List the servers in the Raft configuration: id, address, voter or not, leader", 0,
			func(x *cmdCtx) ([]api.Peer, error) { return x.c.Status().Peers(x.ctx) },
			"ID\tADDRESS\tSUFFRAGE\tLEADER", func(p api.Peer) string {
				return fmt.Sprintf("%s\t%s\t%s\t%t", p.ID, p.Address, p.Suffrage, p.Leader)
			}),
		clientCmd("remove-peer ID", "Remove a server from the Raft configuration (for a server that is gone for good)", 1, func(x *cmdCtx) error {
			if err := x.c.RemovePeer(x.ctx, x.args[0]); err != nil {
				return err
			}
			fmt.Fprintf(x.out, "removed raft peer %s\n", x.args[0])
			return nil
		}))
	cmd.AddCommand(raftCmd, newSnapshotCmd(), newKeyringCmd(), newSettingsCmd())
	return cmd
}
