package main

import (
	"fmt"

	"github.com/scaleout/scaleout/catalog"
	"github.com/spf13/cobra"
)

func newKeygenCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "keygen",
		Short: "Print a new key for the agents' --encrypt-key (seals sensitive values) or --gossip-key",
		Long: `Print a new random AES-256 key, base64-encoded. It serves two different
purposes; use a different key for each:

  --encrypt-key (or --encrypt-key-file, SCALEOUT_ENCRYPT_KEY): the same key
    on every server; sensitive values are sealed with it before they enter
    the Raft log.
  --gossip-key: the same key on every agent; gossip is encrypted with it
    ('scaleout operator keyring' rotates it).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintln(cmd.OutOrStdout(), catalog.GenerateKey())
			return nil
		},
	}
}
