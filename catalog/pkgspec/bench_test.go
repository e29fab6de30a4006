package pkgspec

import (
	"os"
	"testing"
)

// BenchmarkParse parses and validates packages (YAML, structure, expression
// compilation), which the master does on every submission it has not cached.
func BenchmarkParse(b *testing.B) {
	hello, err := os.ReadFile("testdata/hello.yaml")
	if err != nil {
		b.Fatal(err)
	}
	noop := []byte("name: noop\nvariables:\n  x: {type: int, value: 0}\ntasks:\n  - name: nop\n    set: {x: '1'}\n")
	for _, c := range []struct {
		name string
		src  []byte
	}{{"noop", noop}, {"hello", hello}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(c.src)))
			for b.Loop() {
				if _, err := Parse(c.name+".yaml", c.src); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkResolveParams checks and canonicalises parameter values.
func BenchmarkResolveParams(b *testing.B) {
	hello, err := os.ReadFile("testdata/hello.yaml")
	if err != nil {
		b.Fatal(err)
	}
	p, err := Parse("hello.yaml", hello)
	if err != nil {
		b.Fatal(err)
	}
	given := map[string]string{"who": "bench"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.ResolveParams(given); err != nil {
			b.Fatal(err)
		}
	}
}
