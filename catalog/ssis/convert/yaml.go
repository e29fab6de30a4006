package convert

import (
	"bytes"

	"go.yaml.in/yaml/v3"
)

// kv is one entry of an ordered YAML mapping.
type kv struct {
	k string
	v any
}

// omap is a YAML mapping that keeps its order, so that the files read as
// the native format's examples do (name first, tasks last).
type omap []kv

func (m *omap) set(k string, v any) { *m = append(*m, kv{k, v}) }

// MarshalYAML writes the entries in order.
func (m omap) MarshalYAML() (any, error) {
	n := &yaml.Node{Kind: yaml.MappingNode}
	for _, e := range m {
		var kn, vn yaml.Node
		kn.SetString(e.k)
		if err := vn.Encode(e.v); err != nil {
			return nil, err
		}
		n.Content = append(n.Content, &kn, &vn)
	}
	return n, nil
}

func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
