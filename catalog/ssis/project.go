package ssis

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// Limits of an .ispac archive.
const (
	// MaxArchiveBytes caps the sum of the unpacked sizes of the files read
	// from an .ispac (a zip bomb stops here, whatever its headers claim).
	MaxArchiveBytes = 512 << 20
	// MaxArchiveFiles is the most entries of an .ispac.
	MaxArchiveFiles = 10_000
)

// Load reads PATH: an .ispac, a .dtsx, or a project folder (holding a
// .dtproj or at least one .dtsx).
func Load(p string) (*Project, error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, err
	}
	switch {
	case st.IsDir():
		return LoadFolder(p)
	case strings.EqualFold(filepath.Ext(p), ".ispac"):
		data, err := readLimited(p)
		if err != nil {
			return nil, err
		}
		return ReadISPAC(p, data)
	case strings.EqualFold(filepath.Ext(p), ".dtsx"):
		data, err := readLimited(p)
		if err != nil {
			return nil, err
		}
		pkg, err := ParsePackage(filepath.Base(p), data)
		if err != nil {
			return nil, err
		}
		readXMLConfigs([]*Package{pkg}, filepath.Dir(p))
		return &Project{Name: pkg.Name, Source: p, Packages: []*Package{pkg}}, nil
	}
	return nil, fmt.Errorf("%s: not an .ispac, a .dtsx or a project folder", p)
}

func readLimited(p string) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, int64(fileLimit)+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	if len(data) > fileLimit {
		return nil, fmt.Errorf("%s: file is larger than %d bytes: %w", p, fileLimit, ErrTooLarge)
	}
	return data, nil
}

// manifest is what a .dtproj or @Project.manifest says about a project.
type manifest struct {
	name        string
	packages    []string // file names in project order
	entryPoints map[string]bool
	connections []string
	protection  string
}

// parseManifest reads an <SSIS:Project> element (in @Project.manifest, or
// inside a .dtproj's DeploymentModelSpecificContent/Manifest).
func parseManifest(file string, n *Node) (*manifest, error) {
	if n.Name.Local == "Project" && n.child("DeploymentModelSpecificContent") != nil {
		dm := n.child("DeploymentModel")
		if dm != nil && strings.TrimSpace(dm.Text) == "Package" {
			return nil, fmt.Errorf("%s:%d: the project uses the package deployment model; convert it to the project deployment model in the designer, or import its .dtsx files one by one", file, dm.Line)
		}
		inner := n.child("DeploymentModelSpecificContent").child("Manifest")
		if inner == nil || inner.child("Project") == nil {
			return nil, fmt.Errorf("%s:%d: .dtproj has no DeploymentModelSpecificContent/Manifest/SSIS:Project", file, n.Line)
		}
		n = inner.child("Project")
	}
	if n.Name.Local != "Project" {
		return nil, fmt.Errorf("%s:%d: root element is <%s>, not <SSIS:Project>", file, n.Line, n.qname())
	}
	m := &manifest{entryPoints: map[string]bool{}, protection: n.get("ProtectionLevel")}
	for _, p := range n.path("Properties", "Property") {
		if name, _ := p.attr("Name"); name == "Name" {
			m.name = strings.TrimSpace(p.Text)
		}
	}
	for _, p := range n.path("Packages", "Package") {
		name := p.get("Name")
		m.packages = append(m.packages, name)
		ep, ok := p.attr("EntryPoint")
		m.entryPoints[name] = !ok || isTrue(ep)
	}
	for _, c := range n.path("ConnectionManagers", "ConnectionManager") {
		m.connections = append(m.connections, c.get("Name"))
	}
	return m, nil
}

// ParseParams reads Project.params.
func ParseParams(file string, data []byte) ([]*Parameter, error) {
	root, err := parseXML(file, decodeText(data))
	if err != nil {
		return nil, err
	}
	if root.Name.Local != "Parameters" {
		return nil, fmt.Errorf("%s:%d: root element is <%s>, not <SSIS:Parameters>", file, root.Line, root.qname())
	}
	var out []*Parameter
	for _, pn := range root.all("Parameter") {
		p := &Parameter{Name: pn.get("Name"), DataType: 18}
		if p.Name == "" {
			return nil, fmt.Errorf("%s:%d: parameter has no SSIS:Name", file, pn.Line)
		}
		for _, pr := range pn.path("Properties", "Property") {
			name, _ := pr.attr("Name")
			switch name {
			case "DataType":
				p.DataType = atoiDefault(pr.Text, 18)
			case "Value":
				p.Value, p.HasValue = pr.Text, true
				if isTrue(pr.get("Encrypted")) {
					p.Encrypted, p.HasValue, p.Value = true, false, ""
					p.enc, p.where = pr, fmt.Sprintf("%s:%d", file, pr.Line)
				}
			case "Sensitive":
				p.Sensitive = isTrue(pr.Text)
			case "Required":
				p.Required = isTrue(pr.Text)
			case "Description":
				p.Description = pr.Text
			}
		}
		out = append(out, p)
	}
	return out, nil
}

// files is a project's files by name (base names for folders; archive
// names, unescaped, for .ispac).
type files struct {
	names []string
	data  map[string][]byte
}

func (f *files) byExt(ext string) []string {
	var out []string
	for _, n := range f.names {
		if strings.EqualFold(path.Ext(n), ext) {
			out = append(out, n)
		}
	}
	return out
}

// LoadFolder reads an SSIS project folder.
func LoadFolder(dir string) (*Project, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	fs := &files{data: map[string][]byte{}}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		switch strings.ToLower(filepath.Ext(e.Name())) {
		case ".dtproj", ".params", ".conmgr", ".dtsx":
			data, err := readLimited(filepath.Join(dir, e.Name()))
			if err != nil {
				return nil, err
			}
			fs.names = append(fs.names, e.Name())
			fs.data[e.Name()] = data
		}
	}
	sort.Strings(fs.names)
	var m *manifest
	if projs := fs.byExt(".dtproj"); len(projs) > 1 {
		return nil, fmt.Errorf("%s: holds %d .dtproj files (%s); give the folder of one project", dir, len(projs), strings.Join(projs, ", "))
	} else if len(projs) == 1 {
		root, err := parseXML(projs[0], decodeText(fs.data[projs[0]]))
		if err != nil {
			return nil, err
		}
		if m, err = parseManifest(projs[0], root); err != nil {
			return nil, err
		}
		if m.name == "" {
			m.name = strings.TrimSuffix(projs[0], filepath.Ext(projs[0]))
		}
	}
	if m == nil && len(fs.byExt(".dtsx")) == 0 {
		return nil, fmt.Errorf("%s: not an SSIS project folder (no .dtproj and no .dtsx)", dir)
	}
	if m == nil {
		m = &manifest{name: filepath.Base(filepath.Clean(dir))}
	}
	pr, err := build(dir, m, fs)
	if err != nil {
		return nil, err
	}
	readXMLConfigs(pr.Packages, dir)
	return pr, nil
}

// ReadISPAC reads an .ispac archive (a zip); file names it in messages.
func ReadISPAC(file string, data []byte) (*Project, error) {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, fmt.Errorf("%s: not a readable .ispac (zip): %w", file, err)
	}
	if len(zr.File) > MaxArchiveFiles {
		return nil, fmt.Errorf("%s: %d entries, over the limit of %d: %w", file, len(zr.File), MaxArchiveFiles, ErrTooLarge)
	}
	fs := &files{data: map[string][]byte{}}
	var total int64
	var notes []string
	for _, f := range zr.File {
		name, err := url.PathUnescape(f.Name)
		if err != nil {
			name = f.Name
		}
		if strings.Contains(name, `\`) || strings.HasPrefix(name, "/") || path.Clean(name) != name || strings.HasPrefix(name, "../") || name == ".." {
			return nil, fmt.Errorf("%s: entry %q: path outside the archive or not clean (refused)", file, f.Name)
		}
		if f.FileInfo().IsDir() {
			continue
		}
		if strings.Contains(name, "/") {
			notes = append(notes, fmt.Sprintf("%s: entry %q ignored (not at the root of the archive)", file, name))
			continue
		}
		switch strings.ToLower(path.Ext(name)) {
		case ".dtsx", ".params", ".conmgr", ".manifest":
		default:
			if name != "[Content_Types].xml" {
				notes = append(notes, fmt.Sprintf("%s: entry %q ignored", file, name))
			}
			continue
		}
		if _, dup := fs.data[name]; dup {
			return nil, fmt.Errorf("%s: entry %q appears twice", file, name)
		}
		rc, err := f.Open()
		if err != nil {
			return nil, fmt.Errorf("%s: entry %q: %w", file, name, err)
		}
		limit := min(int64(fileLimit), archiveLimit-total)
		b, err := io.ReadAll(io.LimitReader(rc, limit+1))
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: entry %q: %w", file, name, err)
		}
		if int64(len(b)) > limit {
			if limit < int64(fileLimit) {
				return nil, fmt.Errorf("%s: entry %q: the archive unpacks to more than %d bytes: %w", file, name, archiveLimit, ErrTooLarge)
			}
			return nil, fmt.Errorf("%s: entry %q unpacks to more than %d bytes: %w", file, name, fileLimit, ErrTooLarge)
		}
		total += int64(len(b))
		fs.names = append(fs.names, name)
		fs.data[name] = b
	}
	sort.Strings(fs.names)
	mf, ok := fs.data["@Project.manifest"]
	if !ok {
		return nil, fmt.Errorf("%s: no @Project.manifest (not an .ispac)", file)
	}
	root, err := parseXML(file+"/@Project.manifest", decodeText(mf))
	if err != nil {
		return nil, err
	}
	m, err := parseManifest(file+"/@Project.manifest", root)
	if err != nil {
		return nil, err
	}
	if m.name == "" {
		m.name = strings.TrimSuffix(filepath.Base(file), filepath.Ext(file))
	}
	p, err := build(file, m, fs)
	if err != nil {
		return nil, err
	}
	p.Notes = append(notes, p.Notes...)
	return p, nil
}

// parseListed parses the files the manifest lists (every file with ext
// when it lists none), in order; a listed file that is missing is an error
// naming it.
func parseListed[T any](src string, fs *files, listed []string, ext, what string, parse func(name string, data []byte) (T, error)) ([]T, error) {
	if len(listed) == 0 {
		listed = fs.byExt(ext)
	}
	var out []T
	for _, name := range listed {
		data, ok := fs.data[name]
		if !ok {
			return nil, fmt.Errorf("%s: the project lists %s %q, which is missing", src, what, name)
		}
		v, err := parse(name, data)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// build assembles a project from its manifest and files.
func build(src string, m *manifest, fs *files) (*Project, error) {
	p := &Project{Name: m.name, Source: src}
	where := func(name string) string { return filepath.ToSlash(filepath.Join(filepath.Base(src), name)) }
	if data, ok := fs.data["Project.params"]; ok {
		params, err := ParseParams(where("Project.params"), data)
		if err != nil {
			return nil, err
		}
		p.Params = params
	}
	var err error
	p.Connections, err = parseListed(src, fs, m.connections, ".conmgr", "connection manager", func(name string, data []byte) (*ConnectionManager, error) {
		return ParseConnectionManager(where(name), data)
	})
	if err != nil {
		return nil, err
	}
	p.Packages, err = parseListed(src, fs, m.packages, ".dtsx", "package", func(name string, data []byte) (*Package, error) {
		pkg, err := ParsePackage(where(name), data)
		if err != nil {
			return nil, err
		}
		pkg.EntryPoint = true
		if ep, ok := m.entryPoints[name]; ok {
			pkg.EntryPoint = ep
		}
		return pkg, nil
	})
	if err != nil {
		return nil, err
	}
	if len(p.Packages) == 0 {
		return nil, errors.New(src + ": the project has no packages")
	}
	return p, nil
}
