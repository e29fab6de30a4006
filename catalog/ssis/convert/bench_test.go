package convert

import (
	"archive/zip"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scaleout/scaleout/catalog/ssis"
)

// ispac20 builds an .ispac of 20 packages from the corpus (the etl
// project's six, renamed and repeated) with its manifest, parameters and
// connection manager.
func ispac20(b *testing.B) []byte {
	b.Helper()
	dir := filepath.Join(corpus, "etl")
	src := []string{"LoadFiles", "Orders", "Cleanse", "Parent", "Housekeeping"}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	add := func(name string, data []byte) {
		w, err := zw.Create(name)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := w.Write(data); err != nil {
			b.Fatal(err)
		}
	}
	var pkgs strings.Builder
	for i := 0; i < 20; i++ {
		s := src[i%len(src)]
		name := fmt.Sprintf("%s%02d.dtsx", s, i)
		if s == "Parent" {
			// Parent runs Child.dtsx: keep that name once.
			name = "Child.dtsx"
			s = "Child"
			if strings.Contains(pkgs.String(), name) {
				s, name = "LoadFiles", fmt.Sprintf("LoadFiles%02d.dtsx", i)
			}
		}
		data, err := os.ReadFile(filepath.Join(dir, s+".dtsx"))
		if err != nil {
			b.Fatal(err)
		}
		add(name, data)
		fmt.Fprintf(&pkgs, `<SSIS:Package SSIS:Name="%s" SSIS:EntryPoint="1"/>`, name)
	}
	for _, f := range []string{"Project.params", "Warehouse.conmgr"} {
		data, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			b.Fatal(err)
		}
		add(f, data)
	}
	add("@Project.manifest", []byte(`<SSIS:Project xmlns:SSIS="www.microsoft.com/SqlServer/SSIS"><SSIS:Properties><SSIS:Property SSIS:Name="Name">Bench</SSIS:Property></SSIS:Properties><SSIS:Packages>`+
		pkgs.String()+`</SSIS:Packages><SSIS:ConnectionManagers><SSIS:ConnectionManager SSIS:Name="Warehouse.conmgr"/></SSIS:ConnectionManagers></SSIS:Project>`))
	if err := zw.Close(); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

// BenchmarkImportISPAC20 reads and converts an .ispac of 20 packages into
// a validated native project: the work of scaleout convert and, before
// the upload, of scaleout import.
func BenchmarkImportISPAC20(b *testing.B) {
	data := ispac20(b)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		p, err := ssis.ReadISPAC("bench.ispac", data)
		if err != nil {
			b.Fatal(err)
		}
		res, err := Convert(p, Options{})
		if err != nil {
			b.Fatal(err)
		}
		if len(res.Report.Packages) != 20 {
			b.Fatalf("%d packages", len(res.Report.Packages))
		}
	}
}
