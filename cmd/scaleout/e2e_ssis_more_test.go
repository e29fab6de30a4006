package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/scaleout/scaleout/executor/sqltest"
	"golang.org/x/text/encoding/charmap"
)

// TestE2E_SSISMappedLoopsAndPropertyExpressions imports Mapped.dtsx (SSIS
// expressions) through a dev agent and runs it: a Foreach File loop maps
// the file's name without extension into a variable that an Expression
// Task and a property expression on an Execute SQL task's statement read;
// a Foreach Item loop maps each item into a variable that property
// expressions on an Execute Process task's Executable, Arguments and
// WorkingDirectory read. It checks the rows and files they produced.
func TestE2E_SSISMappedLoopsAndPropertyExpressions(t *testing.T) {
	root := t.TempDir()
	// The static paths, and the one inside an expression's string literal,
	// point at root.
	pkg := ssisPackage(t, "Mapped.dtsx", map[string]string{
		filepath.Join(root, "drop", "jan.csv"):      "1\n",
		filepath.Join(root, "drop", "feb.2026.csv"): "2\n",
		filepath.Join(root, "drop", "notes.txt"):    "not matched\n",
		filepath.Join(root, "out", "EMEA", ".keep"): "",
		filepath.Join(root, "out", "apac", ".keep"): "",
	}, `C:\Data\`, root+"/", `C:\\Data\\`, root+"/")
	dbPath := filepath.Join(root, "audit.db")
	ssisImportRun(t, pkg, "1 ready to run", "--strict", "--connection", "Audit DB=sqlite:"+dbPath)
	db := sqltest.Open(t, "sqlite", dbPath)
	got := sqltest.Strings(t, db, "SELECT what || '|' || region FROM audit ORDER BY rowid")
	want := []string{"file feb.2026|-", "file jan|-", "FEB.2026;JAN;|EMEA", "FEB.2026;JAN;|apac"}
	if !slices.Equal(got, want) {
		t.Errorf("audit = %q, want %q", got, want)
	}
	// Arguments from a property expression, split at run time: sh -c "pwd > emea_13.txt"
	// in the working directory from another.
	for region, file := range map[string]string{"EMEA": "emea_13.txt", "apac": "apac_13.txt"} {
		dir := filepath.Join(root, "out", region)
		b, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil || strings.TrimSpace(string(b)) != dir {
			t.Errorf("%s/%s = %q, %v; want the directory %s", region, file, b, err, dir)
		}
	}
}

// TestE2E_SSISPackagePassword imports Secrets.dtsx, saved with
// EncryptSensitiveWithPassword, with --package-password: the package
// parameter's decrypted value is set in the catalog (not in the archive)
// and the run binds it into the table. A wrong password deploys nothing.
func TestE2E_SSISPackagePassword(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), "vault.db")
	a := ssisAgent(t)
	pkg := "testdata/ssis/packages/Secrets.dtsx"
	bad := cli(t, a.api, "import", pkg, "--folder", "F", "--connection", "Vault DB=sqlite:"+dbPath, "--package-password", "nope")
	if bad.code != 2 || !strings.Contains(bad.stderr, "Secrets.dtsx:48: package parameter Token: the package password does not decrypt it") {
		t.Fatalf("wrong password: exit %d\n%s\n%s", bad.code, bad.stdout, bad.stderr)
	}
	if r := cli(t, a.api, "projects", "list", "F"); strings.Contains(r.stdout, "Secrets") {
		t.Fatalf("a wrong password deployed something:\n%s", r.stdout)
	}
	ssisImport(t, a, pkg, "set package parameter Secrets.Token (sensitive, decrypted with the package password)",
		"--connection", "Vault DB=sqlite:"+dbPath, "--package-password", "Contoso#2026")
	ssisRun(t, a, "F/Secrets/Secrets", 0)
	db := sqltest.Open(t, "sqlite", dbPath)
	if got := sqltest.Strings(t, db, "SELECT v FROM tokens"); !slices.Equal(got, []string{"tok-51&7"}) {
		t.Errorf("tokens = %q, want the decrypted value [tok-51&7]", got)
	}
}

// TestE2E_SSISFormat3DataFlow imports a format 3 (SSIS 2008) package whose
// Data Flow (2008 class IDs, numeric lineage ids, unnamed input columns,
// flat file columns without a wrapper) reads a flat file, derives a column
// with an SSIS expression and writes a flat file, and checks the file.
func TestE2E_SSISFormat3DataFlow(t *testing.T) {
	root := t.TempDir()
	pkg := ssisPackage(t, "Stock2008.dtsx", map[string]string{
		filepath.Join(root, "stock.csv"): "item,qty\r\nbolt,3\r\nnut,10\r\n",
	}, `C:\Feeds\`, root+"/")
	ssisImportRun(t, pkg, "format 3, expressions: ssis) -> packages/Stock2008.yaml: 6 converted, 0 not converted; ready")
	got, err := os.ReadFile(filepath.Join(root, "stock_out.csv"))
	if want := "item,qty,label\r\nbolt,3,BOLT:6\r\nnut,10,NUT:20\r\n"; err != nil || string(got) != want {
		t.Errorf("stock_out.csv = %q, %v; want %q", got, err, want)
	}
}

// TestE2E_SSISODBCSourceAndDestination imports OdbcCopy.dtsx, whose Data
// Flow reads an ODBC Source's SQL command and loads an ODBC Destination
// with renamed columns, with its ODBC connection pointed at SQLite, and
// checks the copied rows.
func TestE2E_SSISODBCSourceAndDestination(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), "stage.db")
	db := sqltest.Open(t, "sqlite", dbPath)
	for _, stmt := range []string{
		"CREATE TABLE customers (id INTEGER, name TEXT, active INTEGER)",
		"INSERT INTO customers VALUES (2, 'Bea', 1), (1, 'Al', 1), (3, 'Cy', 0)",
		"CREATE TABLE customers_copy (customer_id INTEGER, customer_name TEXT)",
	} {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatal(err)
		}
	}
	ssisImportRun(t, "testdata/ssis/packages/OdbcCopy.dtsx", "", "--strict", "--connection", "Stage ODBC=sqlite:"+dbPath)
	if got := sqltest.Strings(t, db, "SELECT customer_id || '|' || customer_name FROM customers_copy ORDER BY customer_id"); !slices.Equal(got, []string{"1|Al", "2|Bea"}) {
		t.Errorf("customers_copy = %q, want the two active customers", got)
	}
}

// TestE2E_SSISChildErrorReachesParentHandler imports the events project
// folder: Batch runs Step through an Execute Package task, Step's task
// fails with exit code 5, and Batch's package-level OnError handler logs
// System::SourceName, ErrorCode and ErrorDescription. The child's error
// must reach the parent's handler once (the Execute Package task failing
// because of it raises no second OnError).
func TestE2E_SSISChildErrorReachesParentHandler(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), "ops.db")
	a := ssisAgent(t)
	ssisImport(t, a, "testdata/ssis/events", "", "--strict", "--connection", "Log DB=sqlite:"+dbPath)
	ssisRun(t, a, "F/Events/Batch", 1) // Step fails
	db := sqltest.Open(t, "sqlite", dbPath)
	if got := sqltest.Strings(t, db, "SELECT source || '|' || code || '|' || descr FROM errors"); !slices.Equal(got, []string{"Run Step/Copy Feed|5|exit status 5"}) {
		t.Errorf("errors = %q, want the child's one error, logged by the parent's OnError handler", got)
	}
}

// TestE2E_SSISLatin1RoundTrip imports Latin1.dtsx, whose Flat File
// connection managers are code page 1252 and whose name column is
// DT_STR(6) of code page 1252, and copies a Windows-1252 file with
// six-character names (seven UTF-8 bytes and more): the output has the same
// bytes as the input.
func TestE2E_SSISLatin1RoundTrip(t *testing.T) {
	root := t.TempDir()
	in, err := charmap.Windows1252.NewEncoder().String("id,name\r\n1,Müller\r\n2,Señora\r\n3,€uro\r\n")
	if err != nil {
		t.Fatal(err)
	}
	pkg := ssisPackage(t, "Latin1.dtsx", map[string]string{filepath.Join(root, "names.txt"): in}, `C:\Data\`, root+"/")
	ssisImportRun(t, pkg, "5 converted, 0 not converted; ready", "--strict")
	if got, err := os.ReadFile(filepath.Join(root, "names_out.txt")); err != nil || string(got) != in {
		t.Errorf("names_out.txt = %q, %v; want %q", got, err, in)
	}
}
