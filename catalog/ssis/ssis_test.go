package ssis

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const corpus = "../../testdata/ssis"

func TestLoad_ProjectFolder(t *testing.T) {
	p, err := Load(filepath.Join(corpus, "etl"))
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "ETL" || len(p.Packages) != 6 || len(p.Params) != 3 || len(p.Connections) != 1 {
		t.Fatalf("project %q: %d packages, %d params, %d connections", p.Name, len(p.Packages), len(p.Params), len(p.Connections))
	}
	var names []string
	for _, pkg := range p.Packages {
		names = append(names, pkg.Name)
		if pkg.FormatVersion != 8 {
			t.Errorf("%s: format %d", pkg.Name, pkg.FormatVersion)
		}
	}
	if got := strings.Join(names, ","); got != "LoadFiles,Orders,Parent,Child,Cleanse,Housekeeping" {
		t.Errorf("packages in manifest order: %s", got)
	}
	if p.Packages[3].EntryPoint {
		t.Error("Child is not an entry point in the manifest")
	}
	wh := p.Connections[0]
	if wh.Name != "Warehouse" || wh.CreationName != "OLEDB" || !strings.Contains(wh.ConnectionString, "Initial Catalog=Warehouse") || !wh.Project {
		t.Errorf("Warehouse.conmgr: %+v", wh)
	}
	key := p.Params[1]
	if key.Name != "ApiKey" || !key.Sensitive || !key.Required || key.DataType != 18 {
		t.Errorf("ApiKey: %+v", key)
	}
	lf := p.Packages[0].Root
	each := lf.Children[2]
	if each.Path != `\Package\Each Incoming File` || each.CreationName != "STOCK:FOREACHLOOP" || each.Enumerator.CreationName != "Microsoft.ForEachFileEnumerator" ||
		len(each.VarMappings) != 1 || each.VarMappings[0].Variable != "User::FilePath" || len(each.Children) != 2 || len(each.Constraints) != 1 {
		t.Errorf("foreach: %+v", each)
	}
	last := lf.Constraints[len(lf.Constraints)-1]
	if last.From != `\Package\List Archive` || last.To != `\Package\Log Failure` || last.Value != 1 || !last.LogicalAnd {
		t.Errorf("failure constraint: %+v", last)
	}
	orders := p.Packages[1]
	df := orders.Root.Children[1].Pipeline
	if df == nil || len(df.Components) != 7 || len(df.Paths) != 6 {
		t.Fatalf("Orders data flow: %+v", df)
	}
	if c := df.Components[1]; c.ClassID != "Microsoft.DataConvert" || c.Outputs[1].IsError != true || c.Outputs[0].Columns[0].Props["SourceInputColumnLineageID"] == "" {
		t.Errorf("data conversion: %+v", c)
	}
	ff := orders.Connections[0].FlatFile
	if ff == nil || !ff.ColumnNamesInFirstDataRow || ff.TextQualifier != `"` || len(ff.Columns) != 3 || ff.Columns[0].Delimiter != "," || ff.Columns[2].Delimiter != "\r\n" {
		t.Errorf("flat file: %+v", ff)
	}
	house := p.Packages[5]
	if len(house.Configurations) != 1 || len(house.Root.EventHandlers) != 1 || house.Root.EventHandlers[0].Name != "OnError" {
		t.Errorf("Housekeeping configurations %d, handlers %+v", len(house.Configurations), house.Root.EventHandlers)
	}
	if !house.Root.Children[0].Children[1].Disabled {
		t.Error("Old Cleanup is disabled")
	}
}

// The .ispac holds the same files as the sales folder (format 6); both read
// the same.
func TestLoad_ISPACAndFormat6(t *testing.T) {
	zp, err := Load(filepath.Join(corpus, "Sales.ispac"))
	if err != nil {
		t.Fatal(err)
	}
	fp, err := Load(filepath.Join(corpus, "sales"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []*Project{zp, fp} {
		if p.Name != "Sales" || len(p.Packages) != 3 || len(p.Params) != 2 || len(p.Connections) != 1 {
			t.Fatalf("%s: %q %d packages %d params %d connections", p.Source, p.Name, len(p.Packages), len(p.Params), len(p.Connections))
		}
		if p.Packages[2].Name != "Load Customers" {
			t.Errorf("%s: third package %q (an escaped name in the zip)", p.Source, p.Packages[2].Name)
		}
		ex := p.Packages[0]
		if ex.FormatVersion != 6 || ex.ProtectionLevel != "EncryptSensitiveWithPassword" {
			t.Errorf("Extract: format %d, %s", ex.FormatVersion, ex.ProtectionLevel)
		}
		if c := ex.Root.Children[1]; c.CreationName != "Microsoft.ExecuteSQLTask" || !strings.Contains(c.RawCreation, "Version=11.0.0.0") {
			t.Errorf("format 6 creation name: %q from %q", c.CreationName, c.RawCreation)
		}
		if en := ex.Root.Children[2].Enumerator; en.CreationName != "Microsoft.ForEachADOEnumerator" {
			t.Errorf("enumerator %q", en.CreationName)
		}
		comps := p.Packages[1].Root.Children[0].Pipeline.Components
		if comps[0].ClassID != "Microsoft.ADONETSource" || comps[1].ClassID != "Microsoft.Sort" || comps[3].ClassID != "Microsoft.FlatFileDestination" {
			t.Errorf("format 6 class ids: %s %s %s", comps[0].ClassID, comps[1].ClassID, comps[3].ClassID)
		}
		if key := p.Params[1]; !key.Encrypted || key.HasValue {
			t.Errorf("ExportKey is encrypted: %+v", key)
		}
	}
}

func TestParsePackage_Format3(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(corpus, "packages", "Queue2008.dtsx"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := ParsePackage("Queue2008.dtsx", data)
	if err != nil {
		t.Fatal(err)
	}
	if p.FormatVersion != 3 || p.Name != "Queue2008" || len(p.Connections) != 1 || len(p.Root.Variables) != 1 || len(p.Root.Children) != 2 {
		t.Fatalf("format 3: %+v", p)
	}
	c := p.Root.Constraints[0]
	if c.From != `\Package\Count Pending` || c.To != `\Package\Mark Done` || c.Value != 1 {
		t.Errorf("constraint by IDREF: %+v", c)
	}
	if p.Connections[0].ConnectionString == "" || p.Root.Children[0].CreationName != "Microsoft.ExecuteSQLTask" {
		t.Errorf("properties as elements: %+v %+v", p.Connections[0], p.Root.Children[0])
	}
}

func TestParsePackage_Errors(t *testing.T) {
	good, err := os.ReadFile(filepath.Join(corpus, "etl", "LoadFiles.dtsx"))
	if err != nil {
		t.Fatal(err)
	}
	vault, err := os.ReadFile(filepath.Join(corpus, "packages", "Vault.dtsx"))
	if err != nil {
		t.Fatal(err)
	}
	dup := strings.Replace(string(good), `DTS:ObjectName="Make Archive Folder"`, `DTS:ObjectName="Create Table"`, 1)
	dangling := strings.Replace(string(good), `DTS:To="Package\Store Summary"`, `DTS:To="Package\Nowhere"`, 1)
	for _, tc := range []struct {
		name, src string
		want      []string
	}{
		{"truncated", string(good[:len(good)/2]), []string{"bad.dtsx", "XML", "opened at line"}},
		{"not xml", "hello", []string{"bad.dtsx", "XML"}},
		{"empty", "", []string{"bad.dtsx", "no XML element"}},
		{"not a package", `<?xml version="1.0"?><Project/>`, []string{"bad.dtsx:1", "not <DTS:Executable>"}},
		{"no format", `<DTS:Executable xmlns:DTS="www.microsoft.com/SqlServer/Dts" DTS:ObjectName="p"/>`, []string{"no PackageFormatVersion"}},
		{"format 2", `<DTS:Executable xmlns:DTS="www.microsoft.com/SqlServer/Dts" DTS:ObjectName="p"><DTS:Property DTS:Name="PackageFormatVersion">2</DTS:Property></DTS:Executable>`, []string{"PackageFormatVersion 2 is not supported"}},
		{"encrypted", string(vault), []string{"bad.dtsx:16", `package "Vault" is encrypted as a whole (EncryptAllWithPassword)`}},
		{"duplicate names", dup, []string{`\Package holds two executables named "Create Table"`}},
		{"dangling constraint", dangling, []string{`precedence constraint "Constraint 4" in \Package`, `Package\Nowhere`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParsePackage("bad.dtsx", []byte(tc.src))
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// A package of 50 MB (a variable list of that size) reads; one over
// MaxFileBytes is refused before parsing.
func TestParsePackage_Large(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("50 MB parse: not with -short or -race (a minute under the race detector)")
	}
	good, err := os.ReadFile(filepath.Join(corpus, "etl", "LoadFiles.dtsx"))
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(good, []byte("  <DTS:Executables>"))
	big := bytes.NewBuffer(nil)
	big.Write(good[:i])
	big.WriteString("  <DTS:Variables>\n")
	for n := 0; big.Len() < 50<<20; n++ {
		fmt.Fprintf(big, "    <DTS:Variable DTS:CreationName=\"\" DTS:DTSID=\"{%08X-0000-4000-8000-000000000000}\" DTS:Namespace=\"User\" DTS:ObjectName=\"V%d\"><DTS:VariableValue DTS:DataType=\"3\">%d</DTS:VariableValue></DTS:Variable>\n", n, n, n)
	}
	big.WriteString("  </DTS:Variables>\n")
	big.Write(good[i:])
	start := time.Now()
	p, err := ParsePackage("big.dtsx", big.Bytes())
	if err != nil || len(p.Root.Children) != 7 || len(p.Root.Variables) < 240_000 {
		t.Fatalf("50 MB package: %v (%d variables)", err, len(p.Root.Variables))
	}
	t.Logf("%d MB parsed in %s", big.Len()>>20, time.Since(start))
	defer func(old int) { fileLimit = old }(fileLimit)
	fileLimit = 1 << 20
	_, err = ParsePackage("big.dtsx", big.Bytes())
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "big.dtsx") {
		t.Errorf("over the limit: %v", err)
	}
}

func zipOf(t *testing.T, entries map[string][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, data := range entries {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestReadISPAC_Refuses(t *testing.T) {
	manifest := []byte(`<SSIS:Project xmlns:SSIS="www.microsoft.com/SqlServer/SSIS"><SSIS:Properties><SSIS:Property SSIS:Name="Name">P</SSIS:Property></SSIS:Properties><SSIS:Packages><SSIS:Package SSIS:Name="A.dtsx" SSIS:EntryPoint="1"/></SSIS:Packages></SSIS:Project>`)
	pkg, err := os.ReadFile(filepath.Join(corpus, "etl", "Parent.dtsx"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ReadISPAC("ok.ispac", zipOf(t, map[string][]byte{"@Project.manifest": manifest, "A.dtsx": pkg})); err != nil {
		t.Fatalf("a minimal .ispac: %v", err)
	}
	defer func(f int, a int64) { fileLimit, archiveLimit = f, a }(fileLimit, archiveLimit)
	fileLimit, archiveLimit = 1<<20, 3<<20
	zeros := bytes.Repeat([]byte{' '}, 2<<20) // compresses to a few KB
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"traversal", zipOf(t, map[string][]byte{"@Project.manifest": manifest, "../A.dtsx": pkg}), `entry "../A.dtsx": path outside the archive`},
		{"absolute", zipOf(t, map[string][]byte{"@Project.manifest": manifest, "/etc/A.dtsx": pkg}), `entry "/etc/A.dtsx": path outside the archive`},
		{"escaped traversal", zipOf(t, map[string][]byte{"@Project.manifest": manifest, "%2E%2E/A.dtsx": pkg}), "path outside the archive"},
		{"bomb entry", zipOf(t, map[string][]byte{"@Project.manifest": manifest, "A.dtsx": zeros}), `entry "A.dtsx" unpacks to more than 1048576 bytes`},
		{"bomb total", zipOf(t, map[string][]byte{"@Project.manifest": manifest, "A.dtsx": zeros[:900<<10], "B.dtsx": zeros[:900<<10], "C.dtsx": zeros[:900<<10], "D.dtsx": zeros[:900<<10]}), "the archive unpacks to more than 3145728 bytes"},
		{"no manifest", zipOf(t, map[string][]byte{"A.dtsx": pkg}), "no @Project.manifest"},
		{"missing package", zipOf(t, map[string][]byte{"@Project.manifest": manifest}), `lists package "A.dtsx", which is missing`},
		{"not a zip", []byte("PK\x03\x04 nope"), "not a readable .ispac"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadISPAC("bad.ispac", tc.data)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "bad.ispac") {
				t.Errorf("error %v, want one naming bad.ispac and %q", err, tc.want)
			}
		})
	}
}

func TestLoadFolder_Errors(t *testing.T) {
	dir := t.TempDir()
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "not an SSIS project folder") {
		t.Errorf("empty folder: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "x.dtproj"), []byte(`<Project><DeploymentModel>Package</DeploymentModel><DeploymentModelSpecificContent/></Project>`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "x.dtproj:1: the project uses the package deployment model") {
		t.Errorf("package deployment model: %v", err)
	}
	if _, err := Load(filepath.Join(dir, "nope.txt")); err == nil {
		t.Error("a missing path")
	}
}

func TestUnescapeSSIS(t *testing.T) {
	for in, want := range map[string]string{"_x002C_": ",", "_x000D__x000A_": "\r\n", "_x003C_none_x003E_": "<none>", "a_b": "a_b", "_x00zz_": "_x00zz_"} {
		if got := unescapeSSIS(in); got != want {
			t.Errorf("unescapeSSIS(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDecodeText_UTF16(t *testing.T) {
	src := "<a>é</a>"
	var b []byte
	b = append(b, 0xFF, 0xFE)
	for _, r := range src {
		b = append(b, byte(r), byte(r>>8))
	}
	if got := string(decodeText(b)); got != src {
		t.Errorf("decodeText = %q", got)
	}
}
