package project

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"github.com/scaleout/scaleout/catalog/pkgspec"
	"go.yaml.in/yaml/v3"
)

// manifestLines finds the line of a key of project.yaml, for messages in the
// file:line form of package problems.
type manifestLines struct{ root *yaml.Node }

// at returns "project.yaml:LINE" for the key path (e.g. "parameters",
// "db"), or "project.yaml" when it is not found.
func (l manifestLines) at(keys ...string) string {
	n, line := l.root, 0
	for _, k := range keys {
		if n == nil || n.Kind != yaml.MappingNode {
			break
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == k {
				line, next = n.Content[i].Line, n.Content[i+1]
				break
			}
		}
		n = next
	}
	if line == 0 {
		return ManifestFile
	}
	return fmt.Sprintf("%s:%d", ManifestFile, line)
}

var yamlErrLine = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

var unknownField = regexp.MustCompile(`field (\S+) not found in`)

// yamlTypeNames names the manifest's Go types in messages.
var yamlTypeNames = strings.NewReplacer(
	"in type project.yamlProject", "in project.yaml (known: name, description, parameters, connections)",
	"in type project.yamlParam", "in a project parameter (known: type, default, required, sensitive, description)",
	"in type project.yamlConnection", "in a connection (known: type, description, properties)",
)

// decodeManifest decodes project.yaml strictly (unknown fields are errors)
// and reports every problem as project.yaml:LINE: message.
func decodeManifest(src []byte) (yamlProject, manifestLines, error) {
	var yp yamlProject
	if len(src) > pkgspec.MaxPackageBytes {
		return yp, manifestLines{}, fmt.Errorf("%s: file is %d bytes, over the limit of %d", ManifestFile, len(src), pkgspec.MaxPackageBytes)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(src, &root); err != nil {
		return yp, manifestLines{}, manifestYAMLError(err)
	}
	lines := manifestLines{}
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		lines.root = root.Content[0]
	}
	dec := yaml.NewDecoder(bytes.NewReader(src))
	dec.KnownFields(true)
	if err := dec.Decode(&yp); err != nil && !errors.Is(err, io.EOF) {
		return yp, lines, manifestYAMLError(err)
	}
	return yp, lines, nil
}

func manifestYAMLError(err error) error {
	var errs []error
	for _, msg := range strings.Split(err.Error(), "\n") {
		msg = strings.TrimSpace(msg)
		if msg == "" || msg == "yaml: unmarshal errors:" {
			continue
		}
		syntax := strings.HasPrefix(msg, "yaml: line ")
		msg = yamlTypeNames.Replace(unknownField.ReplaceAllString(msg, `unknown field "$1" in`))
		if m := yamlErrLine.FindStringSubmatch(msg); m != nil {
			line, _ := strconv.Atoi(m[1])
			if syntax {
				m[2] = "YAML syntax error: " + m[2]
			}
			errs = append(errs, fmt.Errorf("%s:%d: %s", ManifestFile, line, m[2]))
			continue
		}
		errs = append(errs, fmt.Errorf("%s: %s", ManifestFile, strings.TrimPrefix(msg, "yaml: ")))
	}
	return errors.Join(errs...)
}
