package main

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/scaleout/scaleout/api"
	"github.com/spf13/cobra"
)

func newKeyringCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "keyring",
		Short: "List and rotate the gossip encryption keys of every agent",
		Long: `Gossip is encrypted with the primary key of each agent's keyring and
accepted with any installed key. Each command acts on every alive agent (the
answering agent asks the others through their APIs) and prints each agent's
keyring afterwards, the primary key first; it exits 1 if an agent failed.
The keyring is kept in each agent's data dir, so a restart keeps it.

Rotation without downtime:
  scaleout keygen                            # NEW
  scaleout operator keyring install NEW      # every agent accepts NEW
  scaleout operator keyring use NEW          # every agent sends with NEW
  scaleout operator keyring remove OLD       # OLD is no longer accepted
Agents that were down during a step get it with the same command again
(each step is idempotent); update gossip_key in the configs for new agents.`,
	}
	row := func(n api.KeyringNode) string {
		if n.Error != "" {
			return fmt.Sprintf("%s\terror: %s", n.Node, n.Error)
		}
		return fmt.Sprintf("%s\t%s", n.Node, strings.Join(n.Keys, " "))
	}
	show := func(x *cmdCtx, nodes []api.KeyringNode) error {
		tw := tabwriter.NewWriter(x.out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NODE\tKEYS (PRIMARY FIRST)")
		failed := 0
		for _, n := range nodes {
			fmt.Fprintln(tw, row(n))
			if n.Error != "" {
				failed++
			}
		}
		tw.Flush()
		if failed > 0 {
			return exitf(exitFailed, "%d of %d agents failed", failed, len(nodes))
		}
		return nil
	}
	cmd.AddCommand(clientCmd("list", "List every agent's gossip keys", 0, func(x *cmdCtx) error {
		nodes, err := x.c.Operator().Keyring(x.ctx, false)
		if err != nil {
			return err
		}
		return show(x, nodes)
	}))
	for _, op := range []struct{ name, short string }{
		{"install", "Install a key on every agent (accepted, not yet used to send)"},
		{"use", "Make an installed key the primary on every agent (used to send)"},
		{"remove", "Remove a key that is not the primary from every agent"},
	} {
		cmd.AddCommand(clientCmd(op.name+" KEY", op.short, 1, func(x *cmdCtx) error {
			nodes, err := x.c.Operator().ChangeKeyring(x.ctx, op.name, x.args[0], false)
			if err != nil {
				return err
			}
			return show(x, nodes)
		}))
	}
	return cmd
}
