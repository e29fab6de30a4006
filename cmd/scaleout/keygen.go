package main

import (
	"fmt"

	"github.com/scaleout/scaleout/catalog"
	"github.com/spf13/cobra"
)

func newKeygenCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "keygen",
		Short: "Print a new key for the agents' --encrypt-key (seals sensitive values)",
		Long: `Print a new random AES-256 key, base64-encoded. Give the same key to every
server (--encrypt-key, --encrypt-key-file or SCALEOUT_ENCRYPT_KEY): sensitive
values are sealed with it before they enter the Raft log.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintln(cmd.OutOrStdout(), catalog.GenerateKey())
			return nil
		},
	}
}
