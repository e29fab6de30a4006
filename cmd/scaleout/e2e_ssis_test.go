package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/scaleout/scaleout/executor/sqltest"
)

// ssisProject copies testdata/ssis/etl into a temporary directory with
// its Windows paths (C:\ETL\...) pointed at root, as a user edits a
// project before moving it off Windows.
func ssisProject(t *testing.T, root string) string {
	t.Helper()
	src := "../../testdata/ssis/etl"
	dst := filepath.Join(t.TempDir(), "etl")
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	r := strings.NewReplacer(`C:\ETL\`, root+"/", `C:\ETL`, root)
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), []byte(r.Replace(string(data))), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

func writeFiles(t *testing.T, files map[string]string) {
	t.Helper()
	for p, body := range files {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// ssisPackage copies the corpus package testdata/ssis/packages/name into a
// temporary directory with its Windows paths rewritten by the old, new
// pairs oldnew (as a user edits a package before moving it off Windows),
// writes files beside it and returns the copy's path.
func ssisPackage(t *testing.T, name string, files map[string]string, oldnew ...string) string {
	t.Helper()
	src, err := os.ReadFile("../../testdata/ssis/packages/" + name)
	if err != nil {
		t.Fatal(err)
	}
	pkg := filepath.Join(t.TempDir(), name)
	all := map[string]string{pkg: strings.NewReplacer(oldnew...).Replace(string(src))}
	for p, body := range files {
		all[p] = body
	}
	writeFiles(t, all)
	return pkg
}

// ssisImport imports src into the agent's folder F with the further import
// arguments args and fails the test unless the import exits 0 with want
// ("" for anything) in its output.
func ssisImport(t *testing.T, a *agentProc, src, want string, args ...string) result {
	t.Helper()
	r := cli(t, a.api, append([]string{"import", src, "--folder", "F"}, args...)...)
	if r.code != 0 || !strings.Contains(r.stdout, want) {
		t.Fatalf("import %s: exit %d\n%s\n%s", src, r.code, r.stdout, r.stderr)
	}
	return r
}

// ssisRun runs the package path (folder/project/package) with --wait and
// the further run arguments args, and fails the test unless it exits
// wantCode.
func ssisRun(t *testing.T, a *agentProc, path string, wantCode int, args ...string) result {
	t.Helper()
	r := cli(t, a.api, append(append([]string{"run", path}, args...), "--wait")...)
	if r.code != wantCode {
		t.Fatalf("run %s: exit %d, want %d\n%s\n%s", path, r.code, wantCode, r.stdout, r.stderr)
	}
	return r
}

// ssisImportRun starts an agent (ssisAgent), imports the package file src
// into its folder F (ssisImport: want in the output) and runs it as
// F/NAME/NAME, NAME being src's file name without .dtsx, failing the test
// unless the run succeeds.
func ssisImportRun(t *testing.T, src, want string, args ...string) {
	t.Helper()
	a := ssisAgent(t)
	ssisImport(t, a, src, want, args...)
	name := strings.TrimSuffix(filepath.Base(src), ".dtsx")
	ssisRun(t, a, "F/"+name+"/"+name, 0)
}

// ssisAgent starts a dev agent with a folder F to import into. Imported
// packages get allow_paths for the absolute directories they use, here the
// test's temporary directories: the agent permits the test's own temporary
// root (the parent of every t.TempDir of the test) with --task-allow-paths.
func ssisAgent(t *testing.T) *agentProc {
	t.Helper()
	a := startAgent(t, t.TempDir(), "--task-allow-paths", filepath.Dir(t.TempDir()))
	mustCLI(t, a.api)("folders", "create", "F")
	return a
}

// TestE2E_SSISImport imports the SSIS project testdata/ssis/etl through a
// dev agent with its SQL Server connection pointed at SQLite, runs the
// converted packages and checks what they wrote: Execute SQL with
// parameters and a single-row result, a Foreach over files, File System
// tasks, Execute Process capturing its output, a Data Flow (flat file ->
// data conversion with error rows redirected -> row count -> multicast ->
// flat file and table), a parent-child Execute Package with a parameter
// binding, and a package with unsupported elements refusing to start.
func TestE2E_SSISImport(t *testing.T) {
	root := t.TempDir()
	proj := ssisProject(t, root)
	dbPath := filepath.Join(root, "wh.db")
	writeFiles(t, map[string]string{
		filepath.Join(root, "incoming", "a.csv"): "x\n",
		filepath.Join(root, "incoming", "b.csv"): "y\n",
		filepath.Join(root, "orders.csv"):        "id,customer,amount\n1,Ada,10.50\n2,Bob,abc\n3,\"Cy, Jr\",7\n",
		filepath.Join(root, "out", ".keep"):      "",
	})
	a := ssisAgent(t)

	strict := cli(t, a.api, "import", proj, "--folder", "F", "--connection", "Warehouse=sqlite:"+dbPath, "--strict")
	if strict.code != 2 || !strings.Contains(strict.stderr, `\Package\Tidy\Check Folder (Microsoft.ScriptTask)`) || !strings.Contains(strict.stderr, "nothing written") {
		t.Fatalf("import --strict: exit %d, want 2 naming the Script Task\n%s\n%s", strict.code, strict.stdout, strict.stderr)
	}
	if r := cli(t, a.api, "projects", "list", "F"); strings.Contains(r.stdout, "ETL") {
		t.Fatalf("--strict deployed something:\n%s", r.stdout)
	}

	imp := ssisImport(t, a, proj, "", "--connection", "Warehouse=sqlite:"+dbPath)
	for _, want := range []string{"6 packages, 5 ready to run, 1 refuse to start", `\Package\Purge Staging`, `\Package\Tidy\Check Folder`, "deployed F/ETL version 1", "supply: project parameter ApiKey"} {
		if !strings.Contains(imp.stdout, want) {
			t.Errorf("import output lacks %q:\n%s", want, imp.stdout)
		}
	}
	run := func(pkg string, wantCode int) result {
		t.Helper()
		return ssisRun(t, a, "F/ETL/"+pkg, wantCode, "--param", "ApiKey=s3cr3t")
	}
	run("LoadFiles", 0)
	run("Orders", 0)
	run("Parent", 0)
	run("Cleanse", 0)
	refused := run("Housekeeping", 1)
	if !strings.Contains(refused.stdout+refused.stderr, `task "Check Folder" stands for \Package\Tidy\Check Folder (Microsoft.ScriptTask)`) {
		t.Errorf("Housekeeping did not refuse naming its Script Task:\n%s\n%s", refused.stdout, refused.stderr)
	}

	db := sqltest.Open(t, "sqlite", dbPath)
	// LoadFiles: one row per file, moved to the archive, counted, listed.
	paths := sqltest.Strings(t, db, "SELECT path || '|' || batch FROM loaded_files ORDER BY path")
	want := []string{root + "/incoming/a.csv|nightly", root + "/incoming/b.csv|nightly"}
	if !slices.Equal(paths, want) {
		t.Errorf("loaded_files = %q, want %q", paths, want)
	}
	if got := sqltest.Strings(t, db, "SELECT files || '|' || listing FROM summary"); !slices.Equal(got, []string{"2|a.csv b.csv "}) {
		t.Errorf("summary = %q, want [2|a.csv b.csv ]", got)
	}
	// The failure path (Log Failure, after List Archive on failure) did not run.
	if got := sqltest.Strings(t, db, "SELECT count(*) FROM sqlite_master WHERE name = 'failures'"); !slices.Equal(got, []string{"0"}) {
		t.Errorf("the failure path ran: %q", got)
	}
	for _, f := range []string{"a.csv", "b.csv"} {
		if _, err := os.Stat(filepath.Join(root, "archive", f)); err != nil {
			t.Errorf("archive/%s: %v", f, err)
		}
		if _, err := os.Stat(filepath.Join(root, "incoming", f)); err == nil {
			t.Errorf("incoming/%s was not moved", f)
		}
	}
	// Orders: two good rows in the table and the output file, the bad one
	// in the rejects file, the row count recorded.
	if got := sqltest.Strings(t, db, "SELECT id || '|' || customer || '|' || amount FROM orders ORDER BY id"); !slices.Equal(got, []string{"1|Ada|10.5", "3|Cy, Jr|7"}) {
		t.Errorf("orders = %q", got)
	}
	if got := sqltest.Strings(t, db, "SELECT rows_loaded FROM runs"); !slices.Equal(got, []string{"2"}) {
		t.Errorf("runs = %q, want [2]", got)
	}
	out, err := os.ReadFile(filepath.Join(root, "out", "orders_out.csv"))
	if err != nil || string(out) != "id,customer,amount,amount_num\r\n1,Ada,10.50,10.50\r\n3,\"Cy, Jr\",7,7.00\r\n" {
		t.Errorf("orders_out.csv = %q, %v", out, err)
	}
	rej, err := os.ReadFile(filepath.Join(root, "out", "rejects.csv"))
	if err != nil || !strings.HasPrefix(string(rej), "id,customer,amount,ErrorCode,ErrorColumn,ErrorDescription\r\n2,Bob,abc,1,amount,") {
		t.Errorf("rejects.csv = %q, %v", rej, err)
	}
	// Cleanse (SSIS expressions): the For Loop ran 3 times, the Expression
	// Task summed 0+1+2, the precedence expression @[User::Total] > 2 held.
	if got := sqltest.Strings(t, db, "SELECT total || '|' || substr(stamp, 1, 4) FROM totals"); !slices.Equal(got, []string{"3|run-"}) {
		t.Errorf("totals = %q, want [3|run-]", got)
	}
	// Parent -> Child with the parameter binding.
	if got := sqltest.Strings(t, db, "SELECT label FROM child_runs"); !slices.Equal(got, []string{"from parent"}) {
		t.Errorf("child_runs = %q, want [from parent]", got)
	}
}

// TestE2E_SSISDataFlowExpressions imports one .dtsx whose Data Flow reads
// a flat file, derives a column with an SSIS expression and splits the
// rows on another into two flat files, and checks both files.
func TestE2E_SSISDataFlowExpressions(t *testing.T) {
	root := t.TempDir()
	pkg := ssisPackage(t, "Split.dtsx", map[string]string{
		filepath.Join(root, "orders.txt"): "id;qty;price\n1;2;60.00\n2;1;5.50\n3;10;10.00\n",
	}, `C:\Data\`, root+"/")
	ssisImportRun(t, pkg, "1 ready to run")
	for file, want := range map[string]string{
		"large.txt": "id;qty;price;net\n1;2;60.00;120.00\n3;10;10.00;100.00\n",
		"small.txt": "id;qty;price;net\n2;1;5.50;5.50\n",
	} {
		got, err := os.ReadFile(filepath.Join(root, file))
		if err != nil || string(got) != want {
			t.Errorf("%s = %q, %v; want %q", file, got, err, want)
		}
	}
}

// TestE2E_SSISFormat6 imports the format 6 Sales project folder with its
// ADO.NET connection pointed at SQLite and runs Extract (ADO.NET named
// parameters, a full result set walked by an ADO enumerator whose
// mappings name the SELECT's columns, a sequence with a completion
// constraint, Execute Process) and Summarise (ADO.NET source -> Sort ->
// Aggregate -> tab-delimited flat file).
func TestE2E_SSISFormat6(t *testing.T) {
	root := t.TempDir()
	dst := filepath.Join(t.TempDir(), "sales")
	entries, err := os.ReadDir("../../testdata/ssis/sales")
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join("../../testdata/ssis/sales", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		files[filepath.Join(dst, e.Name())] = strings.ReplaceAll(string(data), `D:\Exports\`, root+"/")
	}
	writeFiles(t, files)
	dbPath := filepath.Join(root, "sales.db")
	db := sqltest.Open(t, "sqlite", dbPath)
	for _, stmt := range []string{
		"CREATE TABLE regions (region_code TEXT, region_name TEXT, active INTEGER)",
		"INSERT INTO regions VALUES ('EU', 'Europe', 1), ('US', 'Americas', 1), ('XX', 'Closed', 0)",
		"CREATE TABLE staged (code TEXT, name TEXT)",
		"INSERT INTO staged VALUES ('old', 'row')",
		"CREATE TABLE sales (region TEXT, amount NUMERIC)",
		"INSERT INTO sales VALUES ('US', 10.5), ('EU', 2), ('US', 4.25), ('EU', 3.75), ('AP', 1)",
	} {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatal(err)
		}
	}
	a := ssisAgent(t)
	ssisImport(t, a, dst, "3 packages, 2 ready to run, 1 refuse to start", "--connection", "SalesDB=sqlite:"+dbPath, "--connection", "CRM=sqlite:"+dbPath)
	for _, pkg := range []string{"Extract", "Summarise"} {
		ssisRun(t, a, "F/Sales/"+pkg, 0, "--param", "ExportKey=k")
	}
	if got := sqltest.Strings(t, db, "SELECT code || '|' || name FROM staged ORDER BY code"); !slices.Equal(got, []string{"EU|Europe", "US|Americas"}) {
		t.Errorf("staged = %q, want the two active regions (and the old row deleted)", got)
	}
	sum, err := os.ReadFile(filepath.Join(root, "summary.txt"))
	if err != nil || string(sum) != "region\ttotal\tn\r\nAP\t1.00\t1\r\nEU\t5.75\t2\r\nUS\t14.75\t2\r\n" {
		t.Errorf("summary.txt = %q, %v", sum, err)
	}
}

// TestE2E_SSISEventHandlers imports a package whose failing task has an
// OnError handler, under a package-level OnError and OnPreExecute, and
// checks what the handlers wrote with System::SourceName, ErrorCode and
// ErrorDescription: the task's handler, then the package's (propagation).
func TestE2E_SSISEventHandlers(t *testing.T) {
	root := t.TempDir()
	dbPath := filepath.Join(root, "ops.db")
	a := ssisAgent(t)
	ssisImport(t, a, "testdata/ssis/packages/Handlers.dtsx", "", "--connection", "Log DB=sqlite:"+dbPath)
	ssisRun(t, a, "F/Handlers/Handlers", 1) // Fail Here fails
	db := sqltest.Open(t, "sqlite", dbPath)
	for _, table := range []string{"task_errors", "package_errors"} {
		got := sqltest.Strings(t, db, "SELECT source || '|' || code || '|' || descr FROM "+table)
		if len(got) != 1 || !strings.HasPrefix(got[0], "Fail Here|4|") || !strings.Contains(got[0], "exit") {
			t.Errorf("%s = %q, want one row from Fail Here with code 4", table, got)
		}
	}
	if got := sqltest.Strings(t, db, "SELECT source FROM starts WHERE source = 'Fail Here'"); len(got) != 1 {
		t.Errorf("starts = %q: the package's OnPreExecute handler did not run before Fail Here", got)
	}
}

// TestE2E_SSISDataFlowJoins runs two more converted Data Flows through an
// agent: sorted flat files merge-joined and aggregated (format 8), and a
// ragged right Windows-1252 file with a header row to skip, counted and
// written pipe-delimited (format 6).
func TestE2E_SSISDataFlowJoins(t *testing.T) {
	root := t.TempDir()
	files := map[string]string{
		filepath.Join(root, "customers.csv"): "id,name\n2,Bob\n1,Ada\n",
		filepath.Join(root, "orders.csv"):    "order_id,customer_id,amount\n10,1,5.00\n11,2,7.50\n12,1,2.50\n13,3,1.00\n",
		filepath.Join(root, "legacy.txt"):    "HEADER LINE\nAB01   12widget\nCD02    3gadget long label\n",
	}
	writeFiles(t, files)
	var pkgs []string
	for _, name := range []string{"MergeJoin.dtsx", "Legacy.dtsx"} {
		pkgs = append(pkgs, ssisPackage(t, name, nil, `C:\Data\`, root+"/"))
	}
	a := ssisAgent(t)
	for _, p := range pkgs {
		name := strings.TrimSuffix(filepath.Base(p), ".dtsx")
		ssisImport(t, a, p, "", "--strict")
		ssisRun(t, a, "F/"+name+"/"+name, 0)
	}
	for file, want := range map[string]string{
		"report.csv": "name,orders,total\nAda,2,7.50\nBob,1,7.50\n",
		"clean.csv":  "code|qty|label\nAB01|12|widget\nCD02|3|gadget long label\n",
	} {
		got, err := os.ReadFile(filepath.Join(root, file))
		if err != nil || string(got) != want {
			t.Errorf("%s = %q, %v; want %q", file, got, err, want)
		}
	}
}
