package main

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/scaleout/scaleout/api"
	"github.com/spf13/cobra"
)

func newACLCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "acl",
		Short: "Access control: bootstrap, and tokens with roles and folder permissions",
		Long: `A cluster whose servers run with TLS (and without --insecure) requires a token
for every request from its first start; 'acl bootstrap' makes the first one.
A cluster of agents in --dev mode or with --insecure is open until 'acl
bootstrap' has run (as before ACLs existed). Bootstrap works once and prints
the management token (role admin): from then on every request needs a token
(--token or SCALEOUT_TOKEN), and the name of the token is recorded as who
deployed, ran or stopped what.

Roles (SSISDB's ssis_admin, ssis_cluster_executor, ssis_logreader):
  admin     everything: catalog, executions, workers, operator, acl, operations
  executor  read; run and stop executions (EXECUTE); MODIFY only where granted
  reader    read the catalog and executions (sensitive values are masked)
  worker    the worker protocol only: an agent's --acl-agent-token
--folder F:PERM[+PERM],... limits an executor or reader token to those
folders with those permissions (READ, MODIFY, EXECUTE).`,
	}
	token := &cobra.Command{Use: "token", Short: "Create, list, show and revoke ACL tokens"}
	var name, role string
	var folders []string
	create := clientCmd("create", "Create a token; its secret is printed once", 0, func(x *cmdCtx) error {
		fs, err := parseFolderGrants(folders)
		if err != nil {
			return err
		}
		t, err := x.c.ACL().CreateToken(x.ctx, &api.ACLTokenRequest{Name: name, Role: role, Folders: fs})
		if err != nil {
			return err
		}
		printToken(x, t)
		return nil
	})
	create.Flags().StringVar(&name, "name", "", "token name, recorded as the caller of what it does (required)")
	create.Flags().StringVar(&role, "role", "", "admin, executor, reader or worker (required)")
	create.Flags().StringSliceVar(&folders, "folder", nil, "FOLDER:PERM[+PERM] limits the token to these folders (READ, MODIFY, EXECUTE); repeat or comma-separate")
	token.AddCommand(create,
		listCmd("list", "List tokens (never their secrets)", 0,
			func(x *cmdCtx) ([]api.ACLToken, error) { return x.c.ACL().Tokens(x.ctx) },
			"NAME\tROLE\tFOLDERS\tACCESSOR ID\tCREATED", func(t api.ACLToken) string {
				return fmt.Sprintf("%s\t%s\t%s\t%s\t%s", t.Name, t.Role, folderString(t.Folders), t.AccessorID, t.CreatedAt.Format(time.RFC3339))
			}),
		clientCmd("show NAME|ACCESSOR", "Show a token (without its secret)", 1, func(x *cmdCtx) error {
			t, err := x.c.ACL().Token(x.ctx, x.args[0])
			if err != nil {
				return err
			}
			printToken(x, t)
			return nil
		}),
		clientCmd("revoke NAME|ACCESSOR", "Revoke a token: every agent refuses it as soon as it has applied the revoke", 1, func(x *cmdCtx) error {
			if err := x.c.ACL().Revoke(x.ctx, x.args[0]); err != nil {
				return err
			}
			fmt.Fprintf(x.out, "token %s: revoked\n", x.args[0])
			return nil
		}))
	cmd.AddCommand(clientCmd("bootstrap", "Switch ACLs on and print the management token (works once)", 0, func(x *cmdCtx) error {
		t, err := x.c.ACL().Bootstrap(x.ctx)
		if err != nil {
			return err
		}
		printToken(x, t)
		fmt.Fprintln(x.out, "ACLs are on: keep the secret; every request now needs a token (--token or SCALEOUT_TOKEN)")
		return nil
	}), token)
	return cmd
}

func printToken(x *cmdCtx, t *api.ACLToken) {
	fmt.Fprintf(x.out, "name:         %s\nrole:         %s\naccessor id:  %s\n", t.Name, t.Role, t.AccessorID)
	if t.SecretID != "" {
		fmt.Fprintf(x.out, "secret:       %s\n", t.SecretID)
	}
	if len(t.Folders) > 0 {
		fmt.Fprintf(x.out, "folders:      %s\n", folderString(t.Folders))
	}
	fmt.Fprintf(x.out, "created:      %s by %s\n", t.CreatedAt.Format(time.RFC3339), t.CreatedBy)
}

func folderString(fs map[string][]string) string {
	if len(fs) == 0 {
		return "all"
	}
	names := make([]string, 0, len(fs))
	for f := range fs {
		names = append(names, f)
	}
	sort.Strings(names)
	for i, f := range names {
		names[i] = f + ":" + strings.Join(fs[f], "+")
	}
	return strings.Join(names, ",")
}

// parseFolderGrants reads --folder FOLDER:PERM[+PERM] values.
func parseFolderGrants(vals []string) (map[string][]string, error) {
	if len(vals) == 0 {
		return nil, nil
	}
	out := map[string][]string{}
	for _, v := range vals {
		f, perms, ok := strings.Cut(v, ":")
		if !ok || f == "" || perms == "" {
			return nil, exitf(exitUsage, "--folder %q: want FOLDER:PERM[+PERM] (PERM: READ, MODIFY, EXECUTE)", v)
		}
		for _, p := range strings.Split(perms, "+") {
			out[f] = append(out[f], strings.ToUpper(strings.TrimSpace(p)))
		}
	}
	return out, nil
}

func newOperationsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "operations", Short: "The operations log: who changed what, and when (admin)"}
	var q api.OperationsQuery
	var since string
	list := listCmd("list", "List operations, oldest first (--type, --object, --caller, --since filter)", 0,
		func(x *cmdCtx) ([]api.Operation, error) {
			if since != "" {
				t, err := parseSince(since)
				if err != nil {
					return nil, err
				}
				q.Since = t
			}
			var out []api.Operation
			for {
				page, err := x.c.Operations(x.ctx, q)
				if err != nil {
					return nil, err
				}
				out = append(out, page.Operations...)
				if page.Next == 0 || (q.Limit > 0 && len(out) >= q.Limit) {
					return out, nil
				}
				q.After = page.Next
			}
		},
		"ID\tTIME\tTYPE\tOBJECT\tCALLER\tRESULT", func(o api.Operation) string {
			return fmt.Sprintf("%d\t%s\t%s\t%s\t%s\t%s", o.ID, o.Time.Format(time.RFC3339), o.Type, o.Object, o.Caller, o.Result)
		})
	list.Flags().StringVar(&q.Type, "type", "", "only this type (deploy_project, create_execution, stop_execution, create_token, ...)")
	list.Flags().StringVar(&q.Object, "object", "", "only this object or what is under it (FOLDER, FOLDER/PROJECT, 'execution 12', 'worker w1')")
	list.Flags().StringVar(&q.Caller, "caller", "", "only operations of this caller (a token's name)")
	list.Flags().StringVar(&since, "since", "", "only operations at or after this time: RFC 3339, or a duration ago such as 1h")
	list.Flags().IntVar(&q.Limit, "limit", 0, "at most this many per page (0: 100; max 1000)")
	cmd.AddCommand(list)
	return cmd
}

func parseSince(s string) (time.Time, error) {
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return time.Now().Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, exitf(exitUsage, "--since %q: want an RFC 3339 time (2026-01-02T15:04:05Z) or a duration such as 1h", s)
	}
	return t, nil
}

func newSettingsCmd() *cobra.Command {
	cmd := clientCmd("settings", "Show the cluster settings (auto_approve_workers, acl_required)", 0, func(x *cmdCtx) error {
		set, err := x.c.Operator().Settings(x.ctx)
		if err != nil {
			return err
		}
		names := make([]string, 0, len(set))
		for n := range set {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			fmt.Fprintf(x.out, "%s = %s\n", n, set[n])
		}
		return nil
	})
	cmd.AddCommand(clientCmd("set NAME VALUE", "Change a cluster setting (admin): auto_approve_workers true|false, acl_required true", 2, func(x *cmdCtx) error {
		if err := x.c.Operator().SetSetting(x.ctx, x.args[0], x.args[1]); err != nil {
			return err
		}
		fmt.Fprintf(x.out, "%s = %s\n", x.args[0], x.args[1])
		return nil
	}))
	return cmd
}
