package convert

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scaleout/scaleout/catalog/ssis"
	"github.com/scaleout/scaleout/catalog/ssisexpr"
)

// Mapped.dtsx (SSIS expressions) converts whole: the Foreach loops'
// variable mappings become a set task reading the loop variable, and the
// property expressions become the fields they set.
func TestConvert_MappedLoopsAndPropertyExpressions(t *testing.T) {
	res, err := Convert(load(t, "packages/Mapped.dtsx"), Options{Strict: true})
	if err != nil {
		t.Fatal(err)
	}
	y := string(res.Files["packages/Mapped.yaml"])
	for _, want := range []string{
		"expressions: ssis",
		"var: Each_File_item",
		"max_errors: 2", // Each Region's MaximumErrorCount
		"Region: '@[User::Each_Region_item]'",
		`statement_expression: '"INSERT INTO audit (what, region) VALUES (''file " + @[User::FileStem] + "'', ''-'')"'`,
		"- ${@[User::Tool]}",
		`arguments: ${"-c \"pwd > " + LOWER(@[User::Region]) + "_" + (DT_WSTR, 4)LEN(@[User::Seen]) + ".txt\""}`,
		`dir: ${REPLACE("C:\\Data\\out\\" + @[User::Region], "\\", "/")}`,
	} {
		if !strings.Contains(y, want) {
			t.Errorf("Mapped.yaml lacks %s:\n%s", want, y)
		}
	}
	if strings.Contains(y, "cmd.exe") || strings.Contains(y, "file x") {
		t.Errorf("the static values the expressions replace are still there:\n%s", y)
	}
	pr := pkgReport(t, res.Report, "Mapped")
	if pr.Refuses || len(pr.NotConverted) != 0 {
		t.Errorf("Mapped: %+v", pr)
	}
}

// A property expression on a property no native field takes, or reading
// what the package cannot read, still makes its task unsupported, named
// in the report.
func TestConvert_PropertyExpressionsReported(t *testing.T) {
	src, err := os.ReadFile(filepath.Join(corpus, "packages", "Mapped.dtsx"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ from, to, want string }{
		{`DTS:Name="WorkingDirectory"`, `DTS:Name="TimeOut"`,
			`\Package\Each Region\Export Region Microsoft.ExecuteProcess unsupported task: property expressions on TimeOut are not converted (no native field takes them)`},
		{`DTS:Name="Executable">@[User::Tool]`, `DTS:Name="Executable">@[User::Nope]`,
			`\Package\Each Region\Export Region Microsoft.ExecuteProcess unsupported task: the property expression on Executable: it reads @[User::Nope], which the package does not declare`},
		{`+ @[User::FileStem] + "', '-')"`, `+ @[$Project::Env] + "', '-')"`,
			`\Package\Each File\Log File Microsoft.ExecuteSQLTask unsupported task: the property expression on SqlStatementSource: it reads @[$Project::Env], and project parameters reach packages only through connections`},
	} {
		p := filepath.Join(t.TempDir(), "Mapped.dtsx")
		if !strings.Contains(string(src), tc.from) {
			t.Fatalf("the corpus lacks %s", tc.from)
		}
		if err := os.WriteFile(p, []byte(strings.Replace(string(src), tc.from, tc.to, 1)), 0o644); err != nil {
			t.Fatal(err)
		}
		proj, err := ssis.Load(p)
		if err != nil {
			t.Fatal(err)
		}
		res, err := Convert(proj, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if out := report(t, res.Report); !strings.Contains(out, tc.want) || !strings.Contains(out, "REFUSES TO START") {
			t.Errorf("report lacks %q:\n%s", tc.want, out)
		}
	}
}

// ssisStem is the file name without its last extension, as .NET's
// GetFileNameWithoutExtension gives it for a Foreach File loop.
func TestSSISStem(t *testing.T) {
	for path, want := range map[string]string{
		"/in/jan.csv":       "jan",
		"/in/feb.2026.csv":  "feb.2026",
		`C:\in\README`:      "README",
		"/in/a..csv":        "a.",
		`D:\x\y/report.txt`: "report",
	} {
		val, err := ssisexpr.FromGo(path, ssisexpr.Type{})
		if err != nil {
			t.Fatal(err)
		}
		env := ssisexpr.Vars{Values: map[ssisexpr.Ref]ssisexpr.Value{{Namespace: "User", Name: "p"}: val}}
		e, err := ssisexpr.Parse(ssisStem("@[User::p]"))
		if err != nil {
			t.Fatal(err)
		}
		prog, err := e.Check(env)
		if err != nil {
			t.Fatal(err)
		}
		v, err := prog.Eval(env)
		if err != nil || v.Go() != want {
			t.Errorf("stem of %s = %v, %v; want %s", path, v.Go(), err, want)
		}
	}
}
