package main

import (
	"fmt"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/scaleout/scaleout/api"
	"github.com/spf13/cobra"
)

// noValue is the default of --value, telling "not given" from "".
const noValue = "\x00unset"

func newProjectsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "projects", Aliases: []string{"project"}, Short: "List, show, version, restore and delete deployed projects; bind parameters and environments"}
	var (
		pkg, value, variable string
		clear, remove        bool
	)
	setValue := inFolder("FOLDER/PROJECT", "set-value FOLDER/PROJECT PARAM", "Set a server-side parameter value: a literal (--value) or an environment variable (--variable)", 2, func(x *cmdCtx, folder, name string) error {
		req := &api.SetValueRequest{Package: pkg, Name: x.args[1], Variable: variable, Clear: clear}
		if value != noValue {
			req.Value = &value
		}
		return x.c.Projects(folder).SetValue(x.ctx, name, req)
	})
	setValue.Flags().StringVar(&pkg, "package", "", "the parameter belongs to this package (default: a project parameter)")
	setValue.Flags().StringVar(&value, "value", noValue, "literal value (sealed if the parameter is sensitive)")
	setValue.Flags().StringVar(&variable, "variable", "", "name of the environment variable the parameter takes its value from")
	setValue.Flags().BoolVar(&clear, "clear", false, "remove the server-side value")
	refEnv := inFolder("FOLDER/PROJECT", "reference-env FOLDER/PROJECT ENVIRONMENT", "Let a project run with an environment: NAME (same folder) or FOLDER/NAME", 2, func(x *cmdCtx, folder, name string) error {
		return x.c.Projects(folder).Reference(x.ctx, name, x.args[1], remove)
	})
	refEnv.Flags().BoolVar(&remove, "remove", false, "remove the reference instead")
	cmd.AddCommand(
		listCmd("list FOLDER", "List the projects of a folder", 1,
			func(x *cmdCtx) ([]api.Project, error) { return x.c.Projects(x.args[0]).List(x.ctx) },
			"NAME\tVERSION\tUPDATED\tDESCRIPTION", func(p api.Project) string {
				return fmt.Sprintf("%s\t%d\t%s\t%s", p.Name, p.Version, p.UpdatedAt.Local().Format(time.DateTime), p.Description)
			}),
		inFolder("FOLDER/PROJECT", "show FOLDER/PROJECT", "Show a project: current version, parameters, values, environment references", 1, func(x *cmdCtx, folder, name string) error {
			p, err := x.c.Projects(folder).Info(x.ctx, name)
			if err != nil {
				return err
			}
			printProject(x, p)
			return nil
		}),
		listCmd("versions FOLDER/PROJECT", "List the kept versions of a project", 1,
			ofProject(func(x *cmdCtx, folder, name string) ([]api.ProjectVersion, error) {
				return x.c.Projects(folder).Versions(x.ctx, name)
			}),
			"VERSION\tCURRENT\tDEPLOYED\tDEPLOYER\tSIZE\tSHA256", func(v api.ProjectVersion) string {
				cur := ""
				if v.Current {
					cur = "*"
				}
				return fmt.Sprintf("%d\t%s\t%s\t%s\t%d\t%s", v.Version, cur, v.DeployedAt.Local().Format(time.DateTime), dash(v.Deployer), v.Size, v.Hash[:12])
			}),
		inFolder("FOLDER/PROJECT", "restore FOLDER/PROJECT VERSION", "Make an earlier version the current one", 2, func(x *cmdCtx, folder, name string) error {
			v, err := strconv.ParseUint(x.args[1], 10, 64)
			if err != nil || v == 0 {
				return exitf(exitUsage, "invalid version %q: want a positive integer", x.args[1])
			}
			if err := x.c.Projects(folder).Restore(x.ctx, name, v); err != nil {
				return err
			}
			fmt.Fprintf(x.out, "%s/%s: version %d is current\n", folder, name, v)
			return nil
		}),
		inFolder("FOLDER/PROJECT", "delete FOLDER/PROJECT", "Delete a project and all its versions", 1, func(x *cmdCtx, folder, name string) error {
			return x.c.Projects(folder).Delete(x.ctx, name)
		}),
		setValue, refEnv,
	)
	return cmd
}

func printParams(x *cmdCtx, indent string, ps []api.Param) {
	tw := tabwriter.NewWriter(x.out, 0, 4, 2, ' ', 0)
	for _, p := range ps {
		flags := ""
		if p.Required {
			flags += " required"
		}
		if p.Sensitive {
			flags += " sensitive"
		}
		fmt.Fprintf(tw, "%s%s\t%s\tdefault %s\t%s\t%s\n", indent, p.Name, p.Type, fmtDefault(p.Default), flags, p.Description)
	}
	_ = tw.Flush()
}

func printProject(x *cmdCtx, p *api.Project) {
	fmt.Fprintf(x.out, "Project      %s/%s\nDescription  %s\nVersion      %d\n", p.Folder, p.Name, dash(p.Description), p.Version)
	if v := p.Current; v != nil {
		fmt.Fprintf(x.out, "Deployed     %s by %s (sha256 %s)\n", v.DeployedAt.Local().Format(time.RFC3339), dash(v.Deployer), v.Hash[:12])
		if len(v.Parameters) > 0 {
			fmt.Fprintln(x.out, "\nProject parameters")
			printParams(x, "  ", v.Parameters)
		}
		fmt.Fprintln(x.out, "\nPackages")
		for _, pk := range v.Packages {
			entry := ""
			if !pk.EntryPoint {
				entry = " (not an entry point)"
			}
			fmt.Fprintf(x.out, "  %s%s  %s\n", pk.Name, entry, pk.File)
			printParams(x, "    ", pk.Parameters)
		}
		for _, c := range v.Connections {
			fmt.Fprintf(x.out, "\nConnection %s (%s) %v\n", c.Name, dash(c.Type), c.Properties)
		}
	}
	if len(p.Values) > 0 {
		fmt.Fprintln(x.out, "\nServer-side values")
		for _, v := range p.Values {
			owner := "project"
			if v.Package != "" {
				owner = "package " + v.Package
			}
			if v.Kind == "reference" {
				fmt.Fprintf(x.out, "  %s %s <- environment variable %s\n", owner, v.Name, v.Variable)
			} else {
				fmt.Fprintf(x.out, "  %s %s = %s\n", owner, v.Name, v.Value)
			}
		}
	}
	if len(p.References) > 0 {
		fmt.Fprintln(x.out, "\nEnvironment references")
		for _, r := range p.References {
			fmt.Fprintf(x.out, "  %s\n", r)
		}
	}
}

func newPackagesCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "packages", Aliases: []string{"package"}, Short: "List the packages of a project's current version"}
	cmd.AddCommand(listCmd("list FOLDER/PROJECT", "List the packages of the current version", 1,
		ofProject(func(x *cmdCtx, folder, name string) ([]api.Package, error) {
			return x.c.Projects(folder).Packages(x.ctx, name)
		}),
		"NAME\tENTRY POINT\tFILE\tPARAMETERS\tDESCRIPTION", func(p api.Package) string {
			return fmt.Sprintf("%s\t%t\t%s\t%d\t%s", p.Name, p.EntryPoint, p.File, len(p.Parameters), p.Description)
		}))
	return cmd
}
