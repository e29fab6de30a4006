package convert

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scaleout/scaleout/catalog/ssis"
)

// FuzzImport: any bytes as a .dtsx, .conmgr, Project.params or .ispac
// (kind modulo 4) are refused with an error or read, and what is read
// converts or is refused with an error; nothing panics, and a converted
// project is one that project.Load validated (Result.Manifest).
func FuzzImport(f *testing.F) {
	kinds := map[string]uint8{".dtsx": 0, ".conmgr": 1, ".params": 2, ".ispac": 3}
	filepath.WalkDir(corpus, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		k, ok := kinds[strings.ToLower(filepath.Ext(p))]
		if !ok {
			return nil
		}
		if data, err := os.ReadFile(p); err == nil {
			f.Add(k, data)
		}
		return nil
	})
	f.Add(uint8(0), []byte(`<?xml version="1.0"?><DTS:Executable xmlns:DTS="www.microsoft.com/SqlServer/Dts" DTS:ExecutableType="Microsoft.Package" DTS:ObjectName="P"><DTS:Executables/></DTS:Executable>`))
	f.Add(uint8(0), []byte(`<a><b><c>`))
	f.Add(uint8(3), []byte("PK\x03\x04"))
	f.Fuzz(func(t *testing.T, kind uint8, data []byte) {
		p := &ssis.Project{Name: "fuzz", Source: "fuzz"}
		switch kind % 4 {
		case 0:
			pkg, err := ssis.ParsePackage("P.dtsx", data)
			if err != nil {
				return
			}
			p.Packages = []*ssis.Package{pkg}
		case 1:
			cm, err := ssis.ParseConnectionManager("C.conmgr", data)
			if err != nil {
				return
			}
			p.Connections = []*ssis.ConnectionManager{cm}
		case 2:
			params, err := ssis.ParseParams("Project.params", data)
			if err != nil {
				return
			}
			p.Params = params
		case 3:
			var err error
			if p, err = ssis.ReadISPAC("F.ispac", data); err != nil {
				return
			}
		}
		res, err := Convert(p, Options{Name: "fuzz"})
		if err == nil && (res == nil || res.Manifest == nil) {
			t.Fatalf("Convert = %+v without an error or a validated manifest", res)
		}
	})
}
