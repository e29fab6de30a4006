package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/scaleout/scaleout/catalog"
	"github.com/scaleout/scaleout/catalog/pkgspec"
	"github.com/scaleout/scaleout/catalog/project"
	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"
)

func newValidateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "validate FILE|DIR",
		Short: "Check packages (or a project directory) offline",
		Long: `Check package files without an agent and print every problem as file:line.

FILE is one package. DIR is a project directory (project.yaml and
packages/*.yaml: package tasks must name a package of the project, and sql
tasks a connection of the package or of project.yaml) or, without
project.yaml, a directory of package files (*.yaml, *.yml).

Exit codes: 0 every package is valid; 2 a problem was found.`,
		Example: `  scaleout validate testdata/hello.yaml
  scaleout validate testdata/projects/etl`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runValidate(cmd.OutOrStdout(), args[0])
		},
	}
}

func runValidate(out io.Writer, target string) error {
	fi, err := os.Stat(target)
	if err != nil {
		return exitf(exitUsage, "%v", err)
	}
	var problems []string
	checked := 0
	if !fi.IsDir() {
		checked = 1
		_, problems = validatePackage(target, nil, fileConnections(target))
	} else {
		checked, problems = validateDir(target)
	}
	for _, p := range problems {
		fmt.Fprintln(out, p)
	}
	if len(problems) > 0 {
		return exitf(exitUsage, "%s: %d problems in %s", target, len(problems), plural(checked, "package"))
	}
	fmt.Fprintf(out, "%s: %s valid\n", target, plural(checked, "package"))
	return nil
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// validatePackage parses one package file. With a project (packages and
// connections non-nil) it also checks the package and connection names it
// uses against the project.
func validatePackage(file string, packages, connections []string) (*pkgspec.Package, []string) {
	pkg, err := pkgspec.ParseFile(file)
	var ve *pkgspec.ValidationError
	switch {
	case errors.As(err, &ve):
		out := make([]string, len(ve.Problems))
		for i, p := range ve.Problems {
			out[i] = p.String()
		}
		return nil, out
	case err != nil:
		return nil, []string{fmt.Sprintf("%s: %v", file, err)}
	}
	return pkg, projectUses(file, pkg, packages, connections)
}

// projectUses checks the connections and packages pkg uses against those
// of its project (nil: not checked). A package outside a project is given
// no project connections (an empty list), since run submits it alone.
func projectUses(file string, pkg *pkgspec.Package, packages, connections []string) []string {
	var out []string
	if connections != nil {
		project := connections
		if len(connections) == 0 {
			project = nil // submitted alone: only the package's own connections
		}
		for _, p := range pkg.UndeclaredConnections(file, project) {
			out = append(out, p.String())
		}
	}
	if packages != nil {
		var walk func([]*pkgspec.Task)
		walk = func(ts []*pkgspec.Task) {
			for _, t := range ts {
				if t.Package != nil && !slices.Contains(packages, t.Package.Name) {
					out = append(out, pkgspec.Problem{File: file, Line: t.Line, Msg: fmt.Sprintf("task %q runs package %q, but the project has no packages/%s.yaml", t.Name, t.Package.Name, t.Package.Name)}.String())
				}
				if b := t.Body(); b != nil {
					walk(b.Tasks)
				}
			}
		}
		walk(pkg.Tasks)
	}
	return out
}

// validateDir checks a project directory, or a directory of packages.
func validateDir(dir string) (int, []string) {
	projFile := filepath.Join(dir, "project.yaml")
	if _, err := os.Stat(projFile); err != nil {
		var files []string
		for _, pat := range []string{"*.yaml", "*.yml"} {
			m, _ := filepath.Glob(filepath.Join(dir, pat))
			files = append(files, m...)
		}
		slices.Sort(files)
		var problems []string
		for _, f := range files {
			_, p := validatePackage(f, nil, []string{})
			problems = append(problems, p...)
		}
		if len(files) == 0 {
			problems = append(problems, dir+": no project.yaml and no *.yaml package files")
		}
		return len(files), problems
	}
	conns, _ := projectConnections(projFile)
	problems := projectProblems(dir)
	files, _ := filepath.Glob(filepath.Join(dir, "packages", "*.yaml"))
	slices.Sort(files)
	names := make([]string, len(files))
	for i, f := range files {
		names[i] = strings.TrimSuffix(filepath.Base(f), ".yaml")
	}
	// The package problems are in projectProblems already (deploy's own
	// check); here only the checks deploy leaves to run time are added.
	for _, f := range files {
		if pkg, err := pkgspec.ParseFile(f); err == nil {
			problems = append(problems, projectUses(f, pkg, names, conns)...)
		}
	}
	return len(files), problems
}

// projectProblems checks a project directory exactly as deploy does (pack,
// read the archive back, load the project) and returns deploy's problems,
// one per line, with the project's paths made relative to the current
// directory (dir/packages/x.yaml:3: ...).
func projectProblems(dir string) []string {
	data, err := project.Pack(dir, catalog.DefaultMaxArchiveBytes)
	if err != nil {
		return []string{err.Error()}
	}
	files, err := project.ReadFiles(data, 0)
	if err != nil {
		return []string{fmt.Sprintf("%s: %v", dir, err)}
	}
	if _, err = project.Load(files); err == nil {
		return nil
	}
	var out []string
	for _, line := range strings.Split(err.Error(), "\n") {
		if line == "" {
			continue
		}
		name, _, _ := strings.Cut(line, ":")
		if _, ok := files[name]; ok {
			line = filepath.Join(dir, filepath.FromSlash(name)) + line[len(name):]
		}
		out = append(out, line)
	}
	return out
}

// fileConnections returns the connections a single package file may use
// besides its own: those of its project when it is packages/NAME.yaml of a
// project directory, else none (run submits it alone).
func fileConnections(file string) []string {
	dir := filepath.Dir(file)
	if filepath.Base(dir) == project.PackagesDir {
		if _, err := os.Stat(filepath.Join(dir, "..", project.ManifestFile)); err == nil {
			conns, _ := projectConnections(filepath.Join(dir, "..", project.ManifestFile))
			return conns
		}
	}
	return []string{}
}

// projectConnections reads the connection names of project.yaml. The rest
// of the file (name, parameters...) belongs to the catalog's project format;
// here it only has to be a YAML mapping.
func projectConnections(file string) ([]string, []string) {
	src, err := os.ReadFile(file)
	if err != nil {
		return []string{}, []string{fmt.Sprintf("%s: %v", file, err)}
	}
	var doc struct {
		Connections map[string]yaml.Node `yaml:"connections"`
	}
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return []string{}, []string{fmt.Sprintf("%s: %v", file, err)}
	}
	names := []string{}
	for n := range doc.Connections {
		names = append(names, n)
	}
	return names, nil
}
