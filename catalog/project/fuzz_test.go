package project

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// tarGz builds an archive of the given entries (name ending in "/": a
// directory), in order, duplicates and all.
func tarGz(t testing.TB, entries ...[2]string) []byte {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, e := range entries {
		hdr := &tar.Header{Name: e[0], Mode: 0o644, Size: int64(len(e[1])), Typeflag: tar.TypeReg}
		if strings.HasSuffix(e[0], "/") {
			hdr.Typeflag, hdr.Size, hdr.Mode = tar.TypeDir, 0, 0o755
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(e[1])); err != nil {
			t.Fatal(err)
		}
	}
	tw.Close()
	gz.Close()
	return buf.Bytes()
}

const okManifest = "name: p\n"
const okPackage = "name: a\ntasks:\n  - {name: t, exec: {command: [\"true\"]}}\n"

func TestReadFiles_RefusesWhatCannotBeUnpacked(t *testing.T) {
	tests := []struct {
		name    string
		entries [][2]string
		want    string
	}{
		{"duplicate file", [][2]string{{"project.yaml", okManifest}, {"packages/a.yaml", okPackage}, {"packages/a.yaml", "name: b"}}, `has the path "packages/a.yaml" twice`},
		{"file then directory", [][2]string{{"x", "1"}, {"x/", ""}}, `has the path "x" twice`},
		{"directory then file", [][2]string{{"x/y", "1"}, {"x", "2"}}, `has the path "x" twice`},
		{"under a file", [][2]string{{"x", "1"}, {"x/y", "2"}}, `lies under the file "x"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := tarGz(t, tt.entries...)
			if _, err := ReadFiles(data, 0); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("ReadFiles: %v, want %q", err, tt.want)
			}
			if err := Unpack(bytes.NewReader(data), t.TempDir(), 0); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Unpack: %v, want %q", err, tt.want)
			}
		})
	}
	// Directories may repeat (tar tools write parents more than once).
	if _, err := ReadFiles(tarGz(t, [2]string{"d/", ""}, [2]string{"d/", ""}, [2]string{"d/f", "x"}), 0); err != nil {
		t.Fatalf("repeated directory refused: %v", err)
	}
}

func TestReadFiles_Limits(t *testing.T) {
	var many [][2]string
	for i := range MaxEntries + 1 {
		many = append(many, [2]string{fmt.Sprintf("f/%d", i), ""})
	}
	if _, err := ReadFiles(tarGz(t, many...), 0); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "entries") {
		t.Fatalf("too many entries: %v", err)
	}
	big := tarGz(t, [2]string{"a", strings.Repeat("z", 1000)}, [2]string{"b", strings.Repeat("z", 1000)})
	if _, err := ReadFiles(big, 1500); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("over the size limit: %v", err)
	}
}

// FuzzReadFilesLoad: any bytes as an archive (and any files in a project)
// are refused with an error or loaded; nothing panics, and a loaded project
// unpacks.
func FuzzReadFilesLoad(f *testing.F) {
	f.Add(tarGz(f, [2]string{"project.yaml", okManifest}, [2]string{"packages/a.yaml", okPackage}))
	f.Add(tarGz(f, [2]string{"project.yaml", "name: p\nparameters:\n  n: {type: int, defualt: 1}\nconnections:\n  db: {type: sqlite, properties: {database: '${project.n}'}}\n"}, [2]string{"packages/a.yaml", okPackage}))
	f.Add(tarGz(f, [2]string{"project.yaml", okManifest}, [2]string{"packages/a.yaml", okPackage}, [2]string{"packages/a.yaml", okPackage}))
	f.Add(tarGz(f, [2]string{"../x", "1"}))
	if data, err := Pack(filepath.Join("..", "..", "testdata", "projects", "etl"), 0); err == nil {
		f.Add(data)
	}
	f.Add([]byte("not gzip"))
	f.Fuzz(func(t *testing.T, data []byte) {
		files, err := ReadFiles(data, 1<<20)
		if err != nil {
			return
		}
		if _, err := Load(files); err != nil {
			return
		}
		if err := Unpack(bytes.NewReader(data), t.TempDir(), 1<<20); err != nil {
			t.Fatalf("a project that loads does not unpack: %v", err)
		}
	})
}

// FuzzLoad: project.yaml and one package from the fuzzer.
func FuzzLoad(f *testing.F) {
	f.Add([]byte(okManifest), []byte(okPackage))
	f.Add([]byte("name: p\nparameters:\n  s: {sensitive: true, default: x}\n"), []byte(okPackage))
	f.Add([]byte("name: [\n"), []byte("name: a\n"))
	if m, err := os.ReadFile(filepath.Join("..", "..", "testdata", "projects", "etl", ManifestFile)); err == nil {
		f.Add(m, []byte(okPackage))
	}
	f.Fuzz(func(t *testing.T, manifest, pkg []byte) {
		m, err := Load(map[string][]byte{ManifestFile: manifest, "packages/a.yaml": pkg})
		if err == nil && (m == nil || len(m.Packages) != 1) {
			t.Fatalf("Load = %+v without an error", m)
		}
		if err != nil && strings.TrimSpace(err.Error()) == "" {
			t.Fatal("empty error")
		}
	})
}
