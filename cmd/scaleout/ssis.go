package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/scaleout/scaleout/catalog/ssis"
	"github.com/scaleout/scaleout/catalog/ssis/convert"
	"github.com/spf13/cobra"
)

// ssisFlags are the options convert and import share.
type ssisFlags struct {
	project     string
	strict      bool
	verbose     bool
	connections []string
	params      []string
	substitutes []string
	password    string
}

func (f *ssisFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.project, "project", "", "name of the project (default: the SSIS project's name, or the package's)")
	cmd.Flags().BoolVar(&f.strict, "strict", false, "fail if any element is not converted, instead of importing packages that refuse to start")
	cmd.Flags().BoolVarP(&f.verbose, "verbose", "v", false, "list every converted element in the report, not only those that were not")
	cmd.Flags().StringArrayVar(&f.connections, "connection", nil, "NAME=DSN: replace connection manager NAME (sqlite:PATH, postgres://..., sqlserver://...); repeatable")
	cmd.Flags().StringArrayVarP(&f.params, "param", "p", nil, "NAME=VALUE: default of a project or package parameter; repeatable")
	cmd.Flags().StringVar(&f.password, "package-password", "", "decrypt the sensitive values of packages saved with EncryptSensitiveWithPassword (import sets them in the catalog)")
	cmd.Flags().StringArrayVar(&f.substitutes, "substitute", nil, `'\Package\Path=FILE.yaml': replace that element (a Script Task, say) with the native task or component body in FILE; repeatable`)
}

func splitKV(flag, s string) (string, string, error) {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return "", "", fmt.Errorf("--%s %q: want NAME=VALUE", flag, s)
	}
	return k, v, nil
}

// options turns the flags into convert.Options, reading substitute files.
func (f *ssisFlags) options() (convert.Options, error) {
	o := convert.Options{Name: f.project, Strict: f.strict, Connections: map[string]string{}, Params: map[string]string{}, Substitutes: map[string][]byte{}}
	for _, c := range f.connections {
		k, v, err := splitKV("connection", c)
		if err != nil {
			return o, err
		}
		o.Connections[k] = v
	}
	for _, p := range f.params {
		k, v, err := splitKV("param", p)
		if err != nil {
			return o, err
		}
		o.Params[k] = v
	}
	for _, s := range f.substitutes {
		i := strings.LastIndex(s, "=")
		if i <= 0 || !strings.HasPrefix(s, `\`) {
			return o, fmt.Errorf(`--substitute %q: want '\Package\Path=FILE.yaml'`, s)
		}
		data, err := os.ReadFile(s[i+1:])
		if err != nil {
			return o, fmt.Errorf("--substitute: %w", err)
		}
		o.Substitutes[s[:i]] = data
	}
	return o, nil
}

// convertSSIS reads and converts PATH, printing the report to out.
func convertSSIS(out io.Writer, path string, f *ssisFlags) (*convert.Result, error) {
	opts, err := f.options()
	if err != nil {
		return nil, exitf(exitUsage, "%v", err)
	}
	p, err := ssis.Load(path)
	if err != nil {
		return nil, exitf(exitUsage, "%v", err)
	}
	if f.password != "" {
		if err := p.Decrypt(f.password); err != nil {
			return nil, exitf(exitUsage, "%v", err)
		}
	}
	res, err := convert.Convert(p, opts)
	if res != nil {
		if werr := res.Report.Write(out, f.verbose); werr != nil {
			return nil, werr
		}
	}
	if err != nil {
		if errors.Is(err, convert.ErrStrict) {
			return nil, exitf(exitUsage, "%s: nothing written: %v", path, err)
		}
		return nil, exitf(exitUsage, "%s: %v", path, err)
	}
	return res, nil
}

// writeProject writes the converted files under dir.
func writeProject(dir string, files map[string][]byte) error {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		p := filepath.Join(dir, filepath.FromSlash(n))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, files[n], 0o644); err != nil {
			return err
		}
	}
	return nil
}

const ssisHelp = `PATH is an .ispac, an SSIS project folder (.dtproj, Project.params,
*.conmgr, *.dtsx) or a single .dtsx (PackageFormatVersion 8, 6 or 3).

Every package becomes packages/NAME.yaml (NAME: the .dtsx file name), the
project parameters and connection managers become project.yaml. The report
lists, per package, every element that was not converted, by its SSIS path
(\Package\Load\Script Task) and creation name. A package holding such an
element on its control flow is still converted, with an 'unsupported' task in
its place: it validates and deploys, but refuses to start, naming the
element. --strict fails instead. docs/import.md has the coverage table.

Connection managers for SQL Server (OLE DB, ADO.NET, ODBC) become go-mssqldb
DSNs; --connection NAME=DSN points one elsewhere (sqlite:PATH,
postgres://..., sqlserver://...). Sensitive values are never copied into the
project: they become sensitive parameters, listed under "supply:" in the
report. --package-password decrypts those saved with
EncryptSensitiveWithPassword; import then sets them in the catalog, which
encrypts them.`

func newConvertCmd() *cobra.Command {
	var (
		f   ssisFlags
		dir string
	)
	cmd := &cobra.Command{
		Use:   "convert PATH -o DIR",
		Short: "Convert SSIS packages (.ispac, project folder, .dtsx) into a native project directory",
		Long: `Convert SSIS packages into a scaleout project directory for review, and print
the conversion report. Nothing is deployed: 'scaleout deploy DIR' or
'scaleout import PATH' does that.

` + ssisHelp + `

DIR must not exist or be empty.
Exit codes: 0 converted (read the report: some packages may refuse to start);
2 unreadable input, bad flags, or --strict with elements not converted
(nothing is written).`,
		Example: `  scaleout convert testdata/ssis/etl -o /tmp/etl
  scaleout convert Sales.ispac -o sales --connection Warehouse=sqlite:/tmp/wh.db --strict`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if dir == "" {
				return exitf(exitUsage, "-o DIR is required")
			}
			if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
				return exitf(exitUsage, "%s is not empty; give a new directory", dir)
			}
			res, err := convertSSIS(cmd.OutOrStdout(), args[0], &f)
			if err != nil {
				return err
			}
			if err := writeProject(dir, res.Files); err != nil {
				return exitf(exitFailed, "%v", err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "\nwrote %s: project.yaml and %d packages\n", dir, len(res.Files)-1)
			return nil
		},
	}
	f.register(cmd)
	cmd.Flags().StringVarP(&dir, "output", "o", "", "directory to write the project into (required)")
	return cmd
}
