package convert

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scaleout/scaleout/catalog/pkgspec"
	"github.com/scaleout/scaleout/catalog/ssis"
)

const corpus = "../../../testdata/ssis"

func load(t testing.TB, p string) *ssis.Project {
	t.Helper()
	proj, err := ssis.Load(filepath.Join(corpus, p))
	if err != nil {
		t.Fatal(err)
	}
	return proj
}

func report(t *testing.T, r *Report) string {
	t.Helper()
	var buf bytes.Buffer
	if err := r.Write(&buf, true); err != nil {
		t.Fatal(err)
	}
	return squash(buf.String())
}

// squash collapses runs of spaces (the report's table padding).
func squash(s string) string {
	var b strings.Builder
	for _, line := range strings.Split(s, "\n") {
		b.WriteString(strings.Join(strings.Fields(line), " "))
		b.WriteByte('\n')
	}
	return b.String()
}

func pkgReport(t *testing.T, r *Report, name string) *PackageReport {
	t.Helper()
	for _, p := range r.Packages {
		if p.Name == name {
			return p
		}
	}
	t.Fatalf("no package %s in the report", name)
	return nil
}

// Every package of the corpus converts into a project that validates, and
// every element that is not converted is in the report with its path.
func TestConvert_Corpus(t *testing.T) {
	paths := []string{"etl", "sales", "Sales.ispac", "events"}
	singles, err := filepath.Glob(filepath.Join(corpus, "packages", "*.dtsx"))
	if err != nil || len(singles) < 10 {
		t.Fatalf("corpus: %v %v", singles, err)
	}
	for _, s := range singles {
		if filepath.Base(s) != "Vault.dtsx" { // encrypted as a whole: TestParsePackage_Errors
			paths = append(paths, filepath.Join("packages", filepath.Base(s)))
		}
	}
	for _, p := range paths {
		t.Run(p, func(t *testing.T) {
			res, err := Convert(load(t, p), Options{})
			if err != nil {
				t.Fatal(err)
			}
			for _, pr := range res.Report.Packages {
				src := res.Files[pr.File]
				pkg, err := pkgspec.Parse(pr.File, src)
				if err != nil {
					t.Fatalf("%s does not parse: %v", pr.File, err)
				}
				// The package refuses to start exactly when an element on its
				// control flow became an unsupported task, and each such task
				// is reported by its path.
				if pr.Refuses != (len(pkg.Unsupported()) > 0) {
					t.Errorf("%s: Refuses %v with %d unsupported tasks", pr.Name, pr.Refuses, len(pkg.Unsupported()))
				}
				for _, u := range pkg.Unsupported() {
					found := false
					for _, it := range pr.NotConverted {
						found = found || it.Path == u.Unsupported.Element
					}
					if !found {
						t.Errorf("%s: unsupported task %q (%s) is not in the report", pr.Name, u.Name, u.Unsupported.Element)
					}
				}
			}
		})
	}
}

func TestConvert_ETLReport(t *testing.T) {
	res, err := Convert(load(t, "etl"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	out := report(t, res.Report)
	for _, want := range []string{
		"project ETL (from ../../../testdata/ssis/etl): 6 packages, 5 ready to run, 1 refuse to start",
		`\Package\Tidy\Check Folder                        Microsoft.ScriptTask`,
		`\Package\Notify Microsoft.SendMailTask mail through Housekeeping_SMTP_Server`,
		`\Package.ConnectionManagers[SMTP Server] SMTP connection Housekeeping_SMTP_Server in project.yaml`,
		`\Package.EventHandlers[OnError] EventHandler on_error handler`,
		`\Package.Configurations[Folder from environment]  Configuration (environment variable)  package parameter ETL_FOLDER sets variable Folder: give it the environment variable's value`,
		`\Package\Purge Staging Microsoft.ExecuteSQLTask unsupported task: the property expression on SqlStatementSource: it reads @[$Project::Region], and project parameters reach packages only through connections`,
		"supply: project parameter ApiKey",
		"disabled: a no-op that succeeds, as SSIS treats a disabled task",
	} {
		if !strings.Contains(out, squash(want)[:len(squash(want))-1]) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	lf := string(res.Files["packages/LoadFiles.yaml"])
	for _, want := range []string{"mode: single_row", "into:\n        - FileCount", "files: C:/ETL/incoming/*.csv", "- ${param.BatchName}", "capture: Listing", "on: failure", "timeout: 60s"} {
		if !strings.Contains(lf, want) {
			t.Errorf("LoadFiles.yaml lacks %q:\n%s", want, lf)
		}
	}
	hk := string(res.Files["packages/Housekeeping.yaml"])
	for _, want := range []string{"mail:\n      connection: Housekeeping_SMTP_Server\n      from: etl@contoso.com\n      to: ops@contoso.com\n      subject: housekeeping done\n      body: ok"} {
		if !strings.Contains(hk, want) {
			t.Errorf("Housekeeping.yaml lacks %q:\n%s", want, hk)
		}
	}
	if pj := string(res.Files["project.yaml"]); !strings.Contains(pj, "type: smtp") || !strings.Contains(pj, "dsn: smtp://mail.contoso.com?tls=none") {
		t.Errorf("project.yaml lacks the smtp connection:\n%s", pj)
	}
	if !strings.Contains(string(res.Files["packages/Child.yaml"]), "entry_point: false") {
		t.Error("Child keeps EntryPoint=0 as entry_point: false")
	}
	if res.Manifest.Name != "ETL" || len(res.Manifest.Packages) != 6 {
		t.Errorf("manifest %+v", res.Manifest)
	}
}

func TestConvert_Strict(t *testing.T) {
	res, err := Convert(load(t, "etl"), Options{Strict: true})
	if !errors.Is(err, ErrStrict) || res == nil {
		t.Fatalf("strict: %v", err)
	}
	for _, want := range []string{`Housekeeping.dtsx: \Package\Purge Staging (Microsoft.ExecuteSQLTask)`, `\Package\Tidy\Check Folder (Microsoft.ScriptTask)`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("strict error lacks %q: %v", want, err)
		}
	}
	if _, err := Convert(load(t, "packages/Queue2008.dtsx"), Options{Strict: true}); err != nil {
		t.Errorf("a fully converted package under --strict: %v", err)
	}
}

func TestConvert_Substitute(t *testing.T) {
	body := []byte("derived_column:\n  input: All Customers\n  columns:\n    - {name: score, expression: 'len(name)', type: DT_I4}\n")
	res, err := Convert(load(t, "Sales.ispac"), Options{Substitutes: map[string][]byte{`\Package\Load Customers\Score`: body}})
	if err != nil {
		t.Fatal(err)
	}
	if pr := pkgReport(t, res.Report, "Load Customers"); pr.Refuses || len(pr.NotConverted) != 0 {
		t.Errorf("substituted: %+v", pr)
	}
	task := []byte("description: folder check, was a Script Task\nexec: {command: [test, -d, '${vars.Folder}']}\n")
	res, err = Convert(load(t, "etl"), Options{Substitutes: map[string][]byte{`\Package\Tidy\Check Folder`: task}})
	if err != nil {
		t.Fatal(err)
	}
	if hk := string(res.Files["packages/Housekeeping.yaml"]); !strings.Contains(hk, "command: [test, -d, '${vars.Folder}']") || !strings.Contains(hk, "description: folder check, was a Script Task") {
		t.Errorf("the substitute is not in the package:\n%s", res.Files["packages/Housekeeping.yaml"])
	}
	for _, tc := range []struct {
		subs map[string][]byte
		want string
	}{
		{map[string][]byte{`\Package\Nope`: task}, `--substitute \Package\Nope: no element of the project has that SSIS path`},
		{map[string][]byte{`\Package\Tidy\Check Folder`: []byte("name: x\nexec: {command: [a]}\n")}, `gives "name", which the conversion sets itself`},
		{map[string][]byte{`\Package\Tidy\Check Folder`: []byte("exec: {comand: [a]}\n")}, `does not validate after --substitute`},
	} {
		res, err := Convert(load(t, "etl"), Options{Substitutes: tc.subs})
		msg := ""
		if err != nil {
			msg = err.Error()
		} else {
			msg = report(t, res.Report)
		}
		if !strings.Contains(msg, tc.want) {
			t.Errorf("want %q in:\n%s", tc.want, msg)
		}
	}
}

func TestConvert_Overrides(t *testing.T) {
	res, err := Convert(load(t, "etl"), Options{Name: "etl2", Connections: map[string]string{"Warehouse": "postgres://u@db:5432/wh"}, Params: map[string]string{"Region": "APAC", "BatchName": "manual"}})
	if err != nil {
		t.Fatal(err)
	}
	man := string(res.Files["project.yaml"])
	for _, want := range []string{"name: etl2", "type: postgres", "dsn: postgres://u@db:5432/wh", "default: APAC"} {
		if !strings.Contains(man, want) {
			t.Errorf("project.yaml lacks %q:\n%s", want, man)
		}
	}
	if !strings.Contains(string(res.Files["packages/LoadFiles.yaml"]), "default: manual") {
		t.Error("--param BatchName did not set the package parameter's default")
	}
	for _, tc := range []struct {
		opts Options
		want string
	}{
		{Options{Connections: map[string]string{"Nope": "sqlite:x.db"}}, "--connection Nope: the project has no connection manager of that name"},
		{Options{Params: map[string]string{"Nope": "1"}}, "--param Nope: the project and its packages have no parameter of that name"},
		{Options{Name: "a|b"}, `project name "a|b"`},
	} {
		if _, err := Convert(load(t, "etl"), tc.opts); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.opts, err, tc.want)
		}
	}
	res, err = Convert(load(t, "etl"), Options{Connections: map[string]string{"Warehouse": "mysql://x"}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(report(t, res.Report), "want sqlite:PATH, postgres://") {
		t.Error("a bad --connection DSN is not reported")
	}
}

func TestParseSQLServer(t *testing.T) {
	for _, tc := range []struct {
		kind, cs string
		want     string // DSN, or the error's start with "!"
	}{
		{"OLEDB", "Data Source=sql01;Initial Catalog=DW;Provider=SQLNCLI11.1;Integrated Security=SSPI;", "sqlserver://sql01?database=DW"},
		{"OLEDB", "Provider=MSOLEDBSQL.1;Data Source=tcp:sql02,1444;User ID=etl;Password=p@ss;Initial Catalog=DW;Use Encryption for Data=True", "sqlserver://etl:p%40ss@sql02:1444?database=DW&encrypt=true"},
		{"OLEDB", `Data Source=.\SQLEXPRESS;Provider=SQLOLEDB;Initial Catalog=x`, "sqlserver://localhost/SQLEXPRESS?database=x"},
		{"ADO.NET:System.Data.SqlClient.SqlConnection, System.Data", "Server=db;Database=Sales;User Id=sa;Password={a;b}", "sqlserver://sa:a;b@db?database=Sales"},
		{"ODBC", "Driver={ODBC Driver 17 for SQL Server};Server=odbc1;Database=D;Trusted_Connection=yes", "sqlserver://odbc1?database=D"},
		{"OLEDB", "Provider=OraOLEDB.Oracle;Data Source=ORCL", "!OLE DB provider \"OraOLEDB.Oracle\" is not SQL Server's"},
		{"ODBC", "Driver={PostgreSQL Unicode};Server=pg", "!ODBC driver \"PostgreSQL Unicode\" is not a SQL Server driver"},
		{"ADO.NET:Oracle.ManagedDataAccess.Client.OracleConnection", "Data Source=x", "!ADO.NET provider"},
		{"OLEDB", "Provider=SQLNCLI11;Initial Catalog=x", "!the connection string names no server"},
	} {
		c, err := parseSQLServer(&ssis.ConnectionManager{CreationName: tc.kind, ConnectionString: tc.cs})
		switch {
		case strings.HasPrefix(tc.want, "!"):
			if err == nil || !strings.HasPrefix(err.Error(), tc.want[1:]) {
				t.Errorf("%s: error %v, want %q", tc.cs, err, tc.want[1:])
			}
		case err != nil:
			t.Errorf("%s: %v", tc.cs, err)
		default:
			if got := c.dsn(c.password); got != tc.want {
				t.Errorf("%s:\n got %s\nwant %s", tc.cs, got, tc.want)
			}
		}
	}
}

func TestSplitWindowsArgs(t *testing.T) {
	for in, want := range map[string]string{
		`-c "ls /tmp | wc -l"`:    `-c|ls /tmp | wc -l`,
		`a  b	c`:                  `a|b|c`,
		`"C:\Program Files\x" /q`: `C:\Program Files\x|/q`,
		`say \"hi\"`:              `say|"hi"`,
		`"a\\" b`:                 `a\|b`,
		``:                        ``,
		`"" x`:                    `|x`,
	} {
		if got := strings.Join(splitWindowsArgs(in), "|"); got != want {
			t.Errorf("splitWindowsArgs(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSelectColumns(t *testing.T) {
	for in, want := range map[string]string{
		"SELECT a, b FROM t": "a,b",
		"select t.a AS x, count(*) AS n, [Order Date] from t":  "x,n,Order Date",
		"SELECT region_code AS code, region_name FROM regions": "code,region_name",
		"SELECT coalesce(a, b) c, d FROM t":                    "c,d",
		"SELECT * FROM t":                                      "!the query selects *",
		"UPDATE t SET a = 1":                                   "!the statement is not a SELECT",
	} {
		cols, err := selectColumns(in)
		got := strings.Join(cols, ",")
		if err != nil {
			got = "!" + err.Error()
		}
		if !strings.HasPrefix(got, want) {
			t.Errorf("selectColumns(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSplitAssignment(t *testing.T) {
	for in, want := range map[string]string{
		`@[User::i] = 0`:                  `@[User::i]|0`,
		`@[User::s] = "a=b" + @[User::t]`: `@[User::s]|"a=b" + @[User::t]`,
		`@[User::b] = @[User::x] == 2`:    `@[User::b]|@[User::x] == 2`,
		`@[User::b] = @[User::x] >= 2`:    `@[User::b]|@[User::x] >= 2`,
		`@[User::x] == 2`:                 `!`,
	} {
		l, r, ok := splitAssignment(in)
		got := l + "|" + r
		if !ok {
			got = "!"
		}
		if got != want {
			t.Errorf("splitAssignment(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestWriteFiles_Deterministic(t *testing.T) {
	a, err := Convert(load(t, "Sales.ispac"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Convert(load(t, "sales"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range a.Files {
		if name == "project.yaml" {
			continue // names its source
		}
		other := b.Files[name]
		// The description names the source file, which differs.
		strip := func(s []byte) string {
			return strings.NewReplacer("Sales.ispac/", "", "sales/", "").Replace(string(s))
		}
		if strip(data) != strip(other) {
			t.Errorf("%s differs between the .ispac and the folder", name)
		}
	}
	_ = os.Stdout
}

// One expectation per single package of the corpus: what its conversion
// holds and what its report says.
func TestConvert_SinglePackages(t *testing.T) {
	for _, tc := range []struct {
		file    string
		refuses bool
		yaml    []string
		report  []string
	}{
		{"FileOps.dtsx", true, []string{"op: copy", "from: /srv/etl/inbox/today.csv", "to: /srv/etl/outbox", "op: rename", "to: ${vars.Renamed}", "path: /srv/etl/logs/*", "allow_paths:\n  - /srv/etl"},
			[]string{`\Package\Mirror Logs  Microsoft.FileSystemTask  unsupported task: file system operation "CopyDirectory" is not converted`}},
		{"ProcessCodes.dtsx", false, []string{"- 255", "success_codes:\n        - 3", "dir: /tmp", "capture: Out", "stdin: ${vars.Err}", "- C:\\Out\\archive.7z"},
			[]string{"StandardErrorVariable User::Err is not set", `runs the Windows program C:\Tools\7z.exe`}},
		{"Loops.dtsx", false, []string{"in: vars.Names", "Name: vars.Each_Name_item", "ssis_noop: \"true\""}, []string{"7 converted, 0 not converted; ready"}},
		{"Flow.dtsx", true, []string{"join: or", "on: failure", "on: completion", "ssis_noop", "force_result: success", "name: A\n    description: SSIS \\Package\\A (Microsoft.ExecuteProcess)\n    fail_package: true", "name: B\n    description: SSIS \\Package\\B (Microsoft.ExecuteProcess)\n    fail_parent: true"},
			[]string{`\Package\Forced Microsoft.ExecuteProcess exec`, "is 'expression or constraint' (EvalOp 4)"}},
		{"SqlVariants.dtsx", true, []string{"timeout: 30s", "statement: UPDATE t SET x = 1 WHERE note = 'why?' -- ? here too"},
			[]string{"result set type ResultSetType_XML is not converted", "parameter 0 has direction Output", "the statement comes from a Variable", `OLE DB provider "OraOLEDB.Oracle.1" is not SQL Server's`, `single-row result bindings must be by ordinal`}},
		{"ExternalChild.dtsx", true, nil, []string{`child package "Nowhere.dtsx" is not in the project`, "referenced through a connection (package deployment model)"}},
		{"Configs.dtsx", false, []string{`value: "2026-03-01T18:30:00Z"`, "ETL_RATIO:\n    type: float\n    default: \"0.25\"", "Ratio:\n    type: float\n    value: ${param.ETL_RATIO}", "Big:\n    type: int\n    value: ${param.Big}", "type: bool\n    value: \"true\""},
			[]string{`Configuration (XML file)  old-style package configuration (XML file C:\Config\etl.dtsConfig) not applied to \Package.Connections[Config DB].Properties[ConnectionString]`, "Configuration (SQL Server table)"}},
		{"Handlers.dtsx", false, []string{"handlers:\n  on_error:\n    - name: Log Package Error", "on_pre_execute:", "    handlers:\n      on_error:\n        - name: Log Task Error", "- ${sys.error_description}", "- ${sys.source_name}"},
			[]string{`\Package\Fail Here.EventHandlers[OnError] EventHandler on_error handler`}},
		{"MergeJoin.dtsx", false, []string{"merge_join:", "type: inner", "left_keys:\n              - customer_id", "right_keys:\n              - id", "op: count_distinct"}, []string{"11 converted, 0 not converted; ready"}},
		{"Legacy.dtsx", false, []string{"format: fixed_width", "skip_rows: 1", "encoding: windows-1252", "width: 5", "delimiter: '|'"}, []string{"format 6"}},
		{"Nightly6.dtsx", false, []string{"expressions: ssis", "sequence:\n      variables:\n        n:", "condition: '@[User::n] < @[User::limit]'", "when: LEN(@[User::acc]) > 0", "join: or"}, []string{"10 converted, 0 not converted; ready"}},
		{"RawRejects.dtsx", true, nil, []string{"the file's columns (Flat File Source Error Output Column, ErrorCode, ErrorColumn) are not exactly the input's columns in order (id, ErrorCode, ErrorColumn)"}},
		{"Stock2008.dtsx", !SSISExpressionsSupported, []string{"path: C:/Feeds/stock.csv", "- name: item\n                type: DT_STR(50,1252)", "input: Stock File",
			`expression: (DT_STR,60,1252)(UPPER(item) + ":" + (DT_WSTR,12)(qty * 2))`, "input: Make Label\n            path: C:/Feeds/stock_out.csv", "crlf: true"},
			[]string{"format 3, expressions: ssis) -> packages/Stock2008.yaml: 6 converted, 0 not converted; ready"}},
		{"OdbcCopy.dtsx", false, []string{"query: SELECT id, name FROM customers WHERE active = 1 ORDER BY id", "table: customers_copy\n            mapping:\n              customer_id: id\n              customer_name: name"},
			[]string{"Active Customers Microsoft.SSISODBCSrc sql_source on connection OdbcCopy_Stage_ODBC", "4 converted, 0 not converted; ready"}},
		{"Queue2008.dtsx", false, []string{"into:\n        - Pending", "on: failure"}, []string{"format 3"}},
		{"ThirdParty.dtsx", true, nil, []string{"CozyRoc.SSISPlus.ZipTask", "the task names no destination connection (DestinationConnectionName)"}},
		{"LookupModes.dtsx", false, []string{"cache: none\n            no_match: redirect", "cache: partial\n            cache_size: 5MiB\n            miss_cache_percent: 20"},
			[]string{`\Package\Enrich Orders\Customer Name Microsoft.Lookup lookup (cache none, per-row query from the reference query and the join)`, "10 converted, 0 not converted; ready"}},
		{"BulkLoad.dtsx", false, []string{"bulk_insert:\n      connection: BulkLoad_Staging\n      table: '[dbo].[orders_stage]'\n      path: C:/Feeds/orders_extract.txt\n      field_terminator: '|'\n      row_terminator: \"\\r\\n\"\n      first_row: 2\n      batch_size: 2\n      max_errors: 1\n      encoding: windows-1252\n      table_lock: true\n", "keep_nulls: true"},
			[]string{`\Package\Load Orders Microsoft.BulkInsertTask bulk_insert into [dbo].[orders_stage] on BulkLoad_Staging`, `warning: \Package\Load Returns: CodePage RAW (no conversion) is read as UTF-8`, `warning: \Package\Load Returns: insert triggers on [dbo].[returns_stage] run`}},
		{"BulkFormats.dtsx", true, nil, []string{`\Package\Load Orders Microsoft.BulkInsertTask unsupported task: the task reads its columns and terminators from a format file (C:\Feeds\orders.fmt)`, `\Package\Load Returns Microsoft.BulkInsertTask unsupported task: DataFileType DTSBulkInsert_DataFileType_Native (SQL Server's native binary format) is not converted`}},
		{"CommandRecordset.dtsx", false, []string{"sql_command:\n            input: Status Updates\n            connection: CommandRecordset_Orders_DB\n            statement: UPDATE orders SET status = ?, updated = updated + 1 WHERE id = ?\n            param_columns:\n              - status\n              - order_id",
			"recordset_destination:\n            input: Set Order Status\n            variable: Updated", "in: vars.Updated", `OrderId: vars.Audit_Each_Update_item["order_id"]`}, []string{"11 converted, 0 not converted; ready"}},
		{"FtpFetch.dtsx", true, nil, []string{`\Package\Fetch Price Lists Microsoft.FtpTask unsupported task: the FTP task receives /outbound/prices_*.csv from Partner FTP into D:\Inbox\partner; scaleout has no FTP client`, `\Package.ConnectionManagers[Partner FTP] FTP connection manager type FTP is not converted`}},
		{"Latin1.dtsx", false, []string{"encoding: windows-1252", "- name: name\n                type: DT_STR(6,1252)"}, []string{"5 converted, 0 not converted; ready"}},
		{"Split.dtsx", !SSISExpressionsSupported, []string{"expressions: ssis", "expression: qty * price", "condition: net >= 100", "default: Small", "delimiter: ;"}, nil},
	} {
		t.Run(tc.file, func(t *testing.T) {
			res, err := Convert(load(t, filepath.Join("packages", tc.file)), Options{})
			if err != nil {
				t.Fatal(err)
			}
			pr := res.Report.Packages[0]
			if pr.Refuses != tc.refuses {
				t.Errorf("Refuses = %v, want %v", pr.Refuses, tc.refuses)
			}
			src := string(res.Files[pr.File])
			for _, w := range tc.yaml {
				if !strings.Contains(src, w) {
					t.Errorf("%s lacks %q:\n%s", pr.File, w, src)
				}
			}
			out := report(t, res.Report)
			if tc.file == "Flow.dtsx" && strings.Contains(out, `failure constraint from \Package\B`) {
				t.Errorf("B has FailParentOnFailure, so its failure constraint is exact; the report warns:\n%s", out)
			}
			for _, w := range tc.report {
				if w = squash(w); !strings.Contains(out, w[:len(w)-1]) {
					t.Errorf("report lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

// An environment variable configuration that sets a package variable
// becomes a package parameter (as the SSIS project conversion wizard
// makes it) whose default --param sets, by the environment variable's
// name. An XML file configuration whose .dtsConfig file lies beside the
// package (testdata/ssis/packages/etl.dtsConfig) makes a parameter per
// package variable it sets, its default the file's value; its entry on a
// connection and the SQL Server configuration stay reported.
func TestConvert_ConfigurationParameter(t *testing.T) {
	res, err := Convert(load(t, filepath.Join("packages", "Configs.dtsx")), Options{Params: map[string]string{"ETL_RATIO": "0.5"}})
	if err != nil {
		t.Fatal(err)
	}
	pr := res.Report.Packages[0]
	src := string(res.Files[pr.File])
	for _, w := range []string{"parameters:\n  Big:\n    type: int\n    default: \"12345678901\"\n",
		"  ETL_RATIO:\n    type: float\n    default: \"0.5\"\n", "  Ratio:\n    type: float\n    value: ${param.ETL_RATIO}\n",
		"  Big:\n    type: int\n    value: ${param.Big}\n"} {
		if !strings.Contains(src, w) {
			t.Errorf("%s lacks %q:\n%s", pr.File, w, src)
		}
	}
	out := report(t, res.Report)
	for _, w := range []string{`\Package.Configurations[Ratio from environment] Configuration (environment variable) package parameter ETL_RATIO sets variable Ratio`,
		`\Package.Configurations[SQL table] Configuration (SQL Server table) old-style package configuration not applied`,
		`\Package.Configurations[XML file] Configuration (XML file) old-style package configuration (XML file C:\Config\etl.dtsConfig) not applied to \Package.Connections[Config DB].Properties[ConnectionString] (only a package variable's Value maps onto a parameter); give the values as parameters (--param) or edit the package; converted: package parameter Big sets variable Big`} {
		if !strings.Contains(out, w) {
			t.Errorf("report lacks %q:\n%s", w, out)
		}
	}
	if _, err := Convert(load(t, filepath.Join("packages", "Configs.dtsx")), Options{Params: map[string]string{"ETL_NOPE": "1"}}); err == nil || !strings.Contains(err.Error(), "--param ETL_NOPE") {
		t.Errorf("unknown --param: %v", err)
	}
}

// TestConvert_ExcelReported: an Excel connection manager has no native
// driver; the report names it and the Execute SQL task that uses it,
// which becomes an unsupported task, and the package refuses to start.
func TestConvert_ExcelReported(t *testing.T) {
	res, err := Convert(load(t, "packages/ExcelBudget.dtsx"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	out := report(t, res.Report)
	for _, want := range []string{
		`\Package.ConnectionManagers[Budget Workbook] EXCEL connection manager type EXCEL is not converted (tasks that use it are unsupported)`,
		`\Package\Create Budget Sheet Microsoft.ExecuteSQLTask unsupported task: connection manager Budget Workbook: connection manager type EXCEL is not converted`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	if pr := pkgReport(t, res.Report, "ExcelBudget"); !pr.Refuses || len(pr.NotConverted) != 2 {
		t.Errorf("ExcelBudget: refuses %v, %d not converted", pr.Refuses, len(pr.NotConverted))
	}
}
