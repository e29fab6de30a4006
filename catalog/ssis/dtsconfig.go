package ssis

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
)

// ConfigEntry is one <Configuration> of a .dtsConfig file: the property
// it sets (Path, such as \Package.Variables[User::X].Properties[Value])
// and the value.
type ConfigEntry struct {
	Path      string
	ValueType string
	Value     string
}

// readXMLConfigs reads, for each XML file configuration (type 1) of the
// packages, the .dtsConfig file of the same base name in dir (the
// configuration names a path on the author's machine). A file that is
// missing or unreadable leaves the configuration with FileErr set; the
// converter reports it.
func readXMLConfigs(pkgs []*Package, dir string) {
	for _, p := range pkgs {
		for _, c := range p.Configurations {
			if c.Type != "1" {
				continue
			}
			s := strings.ReplaceAll(strings.TrimSpace(c.String), `\`, "/")
			name := filepath.Base(s)
			if s == "" || name == "." || name == "/" {
				c.FileErr = "the configuration names no file"
				continue
			}
			data, err := readLimited(filepath.Join(dir, name))
			switch {
			case errors.Is(err, fs.ErrNotExist):
				c.FileErr = fmt.Sprintf("%s is not beside the package", name)
				continue
			case err != nil:
				c.FileErr = err.Error()
				continue
			}
			entries, err := ParseDTSConfig(name, data)
			if err != nil {
				c.FileErr = err.Error()
				continue
			}
			c.Entries = entries
		}
	}
}

// ParseDTSConfig reads a .dtsConfig file: <DTSConfiguration> holding
// <Configuration ConfiguredType="Property" Path="..." ValueType="...">
// <ConfiguredValue>...</ConfiguredValue></Configuration> elements.
func ParseDTSConfig(file string, data []byte) ([]ConfigEntry, error) {
	root, err := parseXML(file, decodeText(data))
	if err != nil {
		return nil, err
	}
	if root.Local() != "DTSConfiguration" {
		return nil, fmt.Errorf("%s:%d: <%s> is not a <DTSConfiguration>", file, root.Line, root.Local())
	}
	var out []ConfigEntry
	for _, c := range root.all("Configuration") {
		path, _ := c.attrOnly("Path")
		if path == "" {
			return nil, fmt.Errorf("%s:%d: configuration has no Path", file, c.Line)
		}
		vt, _ := c.attrOnly("ValueType")
		e := ConfigEntry{Path: path, ValueType: vt}
		if v := c.child("ConfiguredValue"); v != nil {
			e.Value = v.Text
		}
		out = append(out, e)
	}
	return out, nil
}
