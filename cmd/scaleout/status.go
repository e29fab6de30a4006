package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newStatusCmd() *cobra.Command {
	cmd := clientCmd("status", "Show the agent's health and transport security (TLS, --insecure, gossip encryption)", 0, func(x *cmdCtx) error {
		h, err := x.c.Status().Health(x.ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(x.out, "status:            %s\ntls:               %t\ninsecure:          %t\ngossip encrypted:  %t\n", h.Status, h.TLS, h.Insecure, h.GossipEncrypted)
		return nil
	})
	cmd.Long = `Show the answering agent's health (its catalog store works) and its
transport security: tls (every TCP port speaks mutual TLS), insecure (a
non-dev agent started with --insecure: plain TCP anyone on the network can
use) and gossip encrypted (gossip_key).`
	return cmd
}
