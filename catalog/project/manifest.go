package project

import (
	"errors"
	"fmt"
	"maps"
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/scaleout/scaleout/catalog/pkgspec"
)

// Package is one validated package of a project.
type Package struct {
	Name        string
	File        string // path in the project, e.g. packages/load.yaml
	EntryPoint  bool
	Description string
	Parameters  []pkgspec.Parameter
	Notify      *pkgspec.Notify // the package's notify key (header values in clear)
	Source      []byte          // the package file as pkgspec.Parse accepts it
}

// Manifest is a validated project.
type Manifest struct {
	Name        string
	Description string
	Parameters  []pkgspec.Parameter
	Connections []pkgspec.ConnectionManager
	Packages    []Package
}

// Package returns the package called name, or nil.
func (m *Manifest) Package(name string) *Package {
	for i := range m.Packages {
		if m.Packages[i].Name == name {
			return &m.Packages[i]
		}
	}
	return nil
}

type yamlParam struct {
	Type        string  `yaml:"type"`
	Default     *string `yaml:"default"`
	Required    bool    `yaml:"required"`
	Sensitive   bool    `yaml:"sensitive"`
	Description string  `yaml:"description"`
}

type yamlConnection struct {
	Type        string            `yaml:"type"`
	Description string            `yaml:"description"`
	Properties  map[string]string `yaml:"properties"`
}

type yamlProject struct {
	Name        string                    `yaml:"name"`
	Description string                    `yaml:"description"`
	Parameters  map[string]yamlParam      `yaml:"parameters"`
	Connections map[string]yamlConnection `yaml:"connections"`
}

// sensitiveDefault is the rule that keeps secrets out of archives: the
// archive is stored as is (only values set through the API are sealed).
const sensitiveDefault = "sensitive parameter %q must not have a default (the project archive is not encrypted): give it a server-side value or bind it to a sensitive environment variable"

// Load validates the files of a project (from ReadFiles) and returns its
// manifest. Every problem is reported, one per line, with file:line where
// known.
func Load(files map[string][]byte) (*Manifest, error) {
	var errs []error
	src, ok := files[ManifestFile]
	if !ok {
		return nil, fmt.Errorf("%s is missing at the root of the project", ManifestFile)
	}
	m := &Manifest{}
	// A broken project.yaml does not hide the problems of the packages.
	yp, lines, err := decodeManifest(src)
	if err != nil {
		errs = append(errs, err)
	}
	m.Name, m.Description = yp.Name, yp.Description
	if err := pkgspec.ValidateName(yp.Name); err != nil {
		errs = append(errs, fmt.Errorf("%s: project name %q: %v", lines.at("name"), yp.Name, err))
	}
	if n := len(yp.Description); n > pkgspec.MaxDescriptionBytes {
		errs = append(errs, fmt.Errorf("%s: project description is %d bytes, over the limit of %d bytes", lines.at("description"), n, pkgspec.MaxDescriptionBytes))
	}
	if n := len(yp.Parameters); n > pkgspec.MaxParameters {
		errs = append(errs, fmt.Errorf("%s: project has %d parameters, over the limit of %d (pkgspec.MaxParameters)", lines.at("parameters"), n, pkgspec.MaxParameters))
		yp.Parameters = nil
	}
	if n := len(yp.Connections); n > pkgspec.MaxConnections {
		errs = append(errs, fmt.Errorf("%s: project has %d connections, over the limit of %d (pkgspec.MaxConnections)", lines.at("connections"), n, pkgspec.MaxConnections))
		yp.Connections = nil
	}
	for _, name := range sortedKeys(yp.Parameters) {
		p := yp.Parameters[name]
		pr := pkgspec.Parameter{Name: name, Type: p.Type, Default: p.Default, Required: p.Required || p.Default == nil, Sensitive: p.Sensitive, Description: p.Description}
		if pr.Type == "" {
			pr.Type = pkgspec.TypeString
		}
		if err := pkgspec.ValidateParamName(name); err != nil {
			errs = append(errs, fmt.Errorf("%s: project parameter %q: %v", lines.at("parameters", name), name, err))
		}
		if !slices.Contains(pkgspec.Types, pr.Type) {
			errs = append(errs, fmt.Errorf("%s: project parameter %q has unknown type %q (want one of: %s)", lines.at("parameters", name), name, pr.Type, strings.Join(pkgspec.Types, ", ")))
		} else if p.Default != nil {
			if p.Required {
				errs = append(errs, fmt.Errorf("%s: project parameter %q is required and has a default (choose one)", lines.at("parameters", name), name))
			}
			c, err := pkgspec.Canonical(pr.Type, *p.Default)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: project parameter %q default %q does not match type %s: %v", lines.at("parameters", name), name, *p.Default, pr.Type, err))
			}
			pr.Default = &c
		}
		if p.Sensitive && p.Default != nil {
			errs = append(errs, fmt.Errorf("%s: "+sensitiveDefault, lines.at("parameters", name), name))
		}
		m.Parameters = append(m.Parameters, pr)
	}
	for _, name := range sortedKeys(yp.Connections) {
		c := yp.Connections[name]
		if err := pkgspec.ValidateName(name); err != nil {
			errs = append(errs, fmt.Errorf("%s: connection %q: %v", lines.at("connections", name), name, err))
		}
		for _, k := range sortedKeys(c.Properties) {
			for _, ref := range projectRef.FindAllStringSubmatch(c.Properties[k], -1) {
				if _, ok := yp.Parameters[ref[1]]; !ok {
					errs = append(errs, fmt.Errorf("%s: connection %q property %s refers to ${project.%s}, which the project does not declare", lines.at("connections", name), name, k, ref[1]))
				}
			}
		}
		m.Connections = append(m.Connections, pkgspec.ConnectionManager{Name: name, Type: c.Type, Description: c.Description, Properties: c.Properties})
	}

	var pkgFiles []string
	for name := range files {
		if path.Dir(name) == PackagesDir && (strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml")) {
			pkgFiles = append(pkgFiles, name)
		}
	}
	slices.Sort(pkgFiles)
	if len(pkgFiles) == 0 {
		errs = append(errs, fmt.Errorf("the project has no packages (want %s/*.yaml)", PackagesDir))
	}
	seen := map[string]string{}
	for _, file := range pkgFiles {
		pkg, err := loadPackage(file, files[file])
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if other, dup := seen[pkg.Name]; dup {
			errs = append(errs, fmt.Errorf("%s: package name %q is also used by %s", file, pkg.Name, other))
			continue
		}
		seen[pkg.Name] = file
		m.Packages = append(m.Packages, *pkg)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return m, nil
}

// projectRef is a reference to a project parameter in a connection
// property, resolved when an execution is created.
var projectRef = regexp.MustCompile(`\$\{project\.([A-Za-z_][A-Za-z0-9_]*)\}`)

func loadPackage(file string, src []byte) (*Package, error) {
	spec, err := pkgspec.Parse(file, src)
	if err != nil {
		return nil, err
	}
	entry := spec.EntryPoint == nil || *spec.EntryPoint
	pkg := &Package{Name: spec.Name, File: file, EntryPoint: entry, Description: spec.Description, Notify: spec.Notify, Source: src}
	var errs []error
	for _, p := range spec.Parameters {
		if p.Sensitive && p.Default != nil {
			errs = append(errs, fmt.Errorf("%s:%d: "+sensitiveDefault, file, p.Line, p.Name))
		}
		typ := p.Type
		if typ == "" {
			typ = pkgspec.TypeString
		}
		q := *p
		q.Type, q.Line = typ, 0
		pkg.Parameters = append(pkg.Parameters, q)
	}
	return pkg, errors.Join(errs...)
}

func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}
