package main

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/scaleout/scaleout/api"
	"github.com/spf13/cobra"
)

func newMembersCmd() *cobra.Command {
	cmd := listCmd("members", "List every agent of the cluster as gossip sees it", 0,
		func(x *cmdCtx) ([]api.Member, error) { return x.c.Members(x.ctx) },
		"NAME\tADDRESS\tROLE\tSTATUS\tLEADER\tAPI\tLABELS", func(m api.Member) string {
			return fmt.Sprintf("%s\t%s\t%s\t%s\t%t\t%s\t%s", m.Name, m.Addr, m.Role, m.Status, m.Leader, dash(m.API), labelString(m.Labels))
		})
	cmd.Long = `List every agent the answering agent's gossip has seen: name, gossip address,
role (server or worker-only), status (alive, suspect, failed, left) and which
one is the leader (the Scale Out Master).`
	return cmd
}

func labelString(l map[string]string) string {
	if len(l) == 0 {
		return "-"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(l)) {
		parts = append(parts, k+"="+l[k])
	}
	return strings.Join(parts, ",")
}
