//go:build unix

package executor

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/scaleout/scaleout/catalog/pkgspec/pkgspectest"
)

// sqlCoreTasks is the part of the sql test package that every driver runs:
// ? markers, a bound injection attempt, and the row_count, single_row and
// rowset modes, with connection db and parameter min (2).
const sqlCoreTasks = `parameters: {min: {type: int, default: 2}}
variables:
  total: {type: int}
  top: {}
  rows: {type: object}
tasks:
  - {name: create, sql: {connection: db, statement: "CREATE TABLE t (id INTEGER, name TEXT)"}}
  - name: load
    after: [create]
    result: total
    sql:
      connection: db
      statement: "INSERT INTO t VALUES (1, 'ann'), (2, ?), (3, 'it''s ?')"
      params: ["bob'); DROP TABLE t; --"]
      mode: row_count
  - name: report
    after: [{task: load, when: 'tasks.load.rows == 3 && vars.total == 3'}]
    sql:
      connection: db
      statement: "SELECT count(*) AS n, max(name) AS top FROM t WHERE id >= ?"
      params: ['${param.min}']
      mode: single_row
      into: [total, top]
  - name: all
    after: [report]
    result: rows
    sql: {connection: db, statement: "SELECT id, name FROM t ORDER BY id", mode: rowset}
  - name: check
    after: [{task: all, when: 'vars.total == 2 && len(vars.rows) == 3 && vars.rows[1].name == "bob''); DROP TABLE t; --"'}]
    exec: {command: [echo, '${vars.top}']}
`

func TestRun_SQLite(t *testing.T) {
	dir := t.TempDir()
	res, rec := runSrc(t, `name: sql
connections:
  db: {driver: sqlite, database: etl.db}
`+sqlCoreTasks+`  - name: each
    after: [check]
    foreach:
      var: row
      query: {connection: db, statement: "SELECT name FROM t WHERE id < ? ORDER BY id", params: ['${2 + 1}']}
      tasks:
        - {name: show, exec: {command: [echo, '${vars.row.name}']}}
`, nil, Options{WorkDir: dir})
	if res.Status != StatusSucceeded || res.Message != "6 tasks succeeded" {
		t.Fatalf("Run = %+v\n%s", res, rec)
	}
	if got := itemLines(rec, "check"); !slices.Equal(got, []string{"it's ?"}) {
		t.Errorf("check printed %q", got)
	}
	if got := itemLines(rec, "show"); !slices.Equal(got, []string{"ann", "bob'); DROP TABLE t; --"}) {
		t.Errorf("foreach query printed %q", got)
	}
	if !rec.has(EventPostExecute, "load", "succeeded in") || !rec.has(EventPostExecute, "load", "3 rows affected") {
		t.Errorf("load post_execute: %q", rec.messages(EventPostExecute, "load"))
	}
	if _, err := os.Stat(filepath.Join(dir, "etl.db")); err != nil {
		t.Errorf("database not in the work dir: %v", err)
	}
}

func TestRun_SQLErrors(t *testing.T) {
	tests := []struct{ name, task, msg string }{
		{"bad sql", `{name: q, sql: {connection: db, statement: "SELEKT 1"}}`, `syntax error`},
		{"params mismatch", `{name: q, sql: {connection: db, statement: "SELECT ?", params: [a, b]}}`, `the statement has 1 ? markers but 2 params are given`},
		{"no rows", `{name: q, sql: {connection: db, statement: "SELECT 1 WHERE 0", mode: single_row}}`, `single_row: the query returned no rows`},
		{"unknown connection", `{name: q, sql: {connection: other, statement: "SELECT 1"}}`, `unknown connection "other"`},
		{"missing file", `{name: q, sql: {connection: db, file: nope.sql}}`, `no such file`},
		{"file outside roots", `{name: q, sql: {connection: db, file: /etc/passwd}}`, `path is outside the allowed directories`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, rec := runSrc(t, "name: p\nconnections: {db: {driver: sqlite, dsn: 'file:x.db'}}\ntasks:\n  - "+tt.task+"\n", nil, Options{WorkDir: t.TempDir()})
			if res.Status != StatusFailed || !strings.Contains(res.Message, tt.msg) {
				t.Errorf("Run = %+v, want failed containing %q\n%s", res, tt.msg, rec)
			}
		})
	}
}

func TestRun_ProjectConnectionAndSQLFile(t *testing.T) {
	proj, work := t.TempDir(), t.TempDir()
	if err := os.MkdirAll(filepath.Join(proj, "sql"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(proj, "sql", "init.sql"), []byte("CREATE TABLE a (x);\nINSERT INTO a VALUES (1);\nINSERT INTO a VALUES (2);\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	res, rec := runSrc(t, `name: p
variables: {n: {type: int}}
tasks:
  - {name: init, sql: {connection: shared, file: sql/init.sql}}
  - {name: count, after: [init], result: n, sql: {connection: shared, statement: "SELECT count(*) FROM a", mode: single_row}}
`, nil, Options{WorkDir: work, ProjectDir: proj,
		Connections: map[string]Connection{"shared": {Driver: "sqlite", DSN: filepath.Join(work, "p.db")}}})
	if res.Status != StatusSucceeded {
		t.Fatalf("Run = %+v\n%s", res, rec)
	}
}

func TestRun_HTTP(t *testing.T) {
	var gotAuth, gotBody string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/data.csv":
			fmt.Fprint(w, "id,name\n1,ann\n")
		case "/post":
			gotAuth = r.Header.Get("Authorization")
			b, _ := io.ReadAll(r.Body)
			gotBody = string(b)
			w.WriteHeader(http.StatusCreated)
			fmt.Fprint(w, `{"ok":true}`)
		default:
			http.Error(w, "no such thing", http.StatusNotFound)
		}
	}))
	defer srv.Close()
	work := t.TempDir()
	res, rec := runSrc(t, `name: http
parameters:
  base: {}
  token: {default: tok-12345, sensitive: true}
variables: {resp: {}, code: {type: int}}
tasks:
  - {name: get, http: {url: '${param.base}/data.csv', output_file: '${sys.work_dir}/data.csv'}}
  - name: post
    result: code
    http:
      method: post
      url: '${param.base}/post'
      headers: {Authorization: 'Bearer ${param.token}'}
      body: '{"rows": ${1 + 1}}'
      expect_status: [201]
      output_var: resp
  - {name: check, after: [post], when: 'fromJSON(vars.resp).ok && vars.code == 201', exec: {command: ["true"]}}
  - {name: missing, http: {url: '${param.base}/nope'}}
`, map[string]string{"base": srv.URL}, Options{WorkDir: work})
	if res.Status != StatusFailed || !strings.Contains(res.Message, `task "missing" failed: http: status 404 Not Found, want 2xx: no such thing`) {
		t.Errorf("Run = %+v\n%s", res, rec)
	}
	if b, err := os.ReadFile(filepath.Join(work, "data.csv")); err != nil || string(b) != "id,name\n1,ann\n" {
		t.Errorf("output_file = %q, %v", b, err)
	}
	if gotAuth != "Bearer tok-12345" || gotBody != `{"rows": 2}` {
		t.Errorf("server got auth %q body %q", gotAuth, gotBody)
	}
	if rec.index(EventPreExecute, "check") < 0 {
		t.Errorf("check skipped\n%s", rec)
	}
	if strings.Contains(rec.String(), "tok-12345") {
		t.Errorf("token leaked into events")
	}
}

func TestRun_FileTask(t *testing.T) {
	work := t.TempDir()
	outside := t.TempDir()
	pkgspectest.WriteFiles(t, work, map[string]string{"in/a.txt": "a", "in/b.txt": "b", "in/c.log": "c"})
	pkgspectest.WriteFiles(t, outside, map[string]string{"x.txt": "x"})
	if err := os.Symlink(outside, filepath.Join(work, "escape")); err != nil {
		t.Fatal(err)
	}
	res, rec := runSrc(t, `name: files
variables: {n: {type: int}}
tasks:
  - {name: mk, file: {op: mkdir, path: out/archive}}
  - {name: cp, after: [mk], result: n, file: {op: copy, from: 'in/*.txt', to: out}}
  - {name: again, after: [mv], file: {op: copy, from: 'in/a.txt', to: out/archive}}
  - {name: mv, after: [cp], file: {op: move, from: 'out/*.txt', to: out/archive}}
  - {name: ren, after: [mv], file: {op: rename, from: in/c.log, to: in/c.old}}
  - {name: rm, after: [ren, {task: again, on: completion}], file: {op: delete, path: 'in/*.txt'}}
  - {name: escape, file: {op: copy, from: escape/x.txt, to: out}}
  - {name: abs, file: {op: delete, path: '`+outside+`/*'}}
  - {name: check, after: [rm], when: 'vars.n == 2', exec: {command: ["true"]}}
`, nil, Options{WorkDir: work})
	if res.Status != StatusFailed {
		t.Fatalf("Run = %+v\n%s", res, rec)
	}
	for task, msg := range map[string]string{
		"again":  "exists (set overwrite: true to replace it)",
		"escape": "path is outside the allowed directories",
		"abs":    "path is outside the allowed directories",
	} {
		if !rec.has(EventTaskFailed, task, msg) {
			t.Errorf("%s: no task_failed containing %q\n%s", task, msg, rec)
		}
	}
	for _, p := range []string{"out/archive/a.txt", "out/archive/b.txt", "in/c.old", filepath.Join(outside, "x.txt")} {
		if !filepath.IsAbs(p) {
			p = filepath.Join(work, p)
		}
		if _, err := os.Stat(p); err != nil {
			t.Errorf("want %s: %v", p, err)
		}
	}
	for _, p := range []string{"in/a.txt", "in/b.txt", "in/c.log", "out/a.txt", "out/x.txt"} {
		if _, err := os.Stat(filepath.Join(work, p)); err == nil {
			t.Errorf("%s should be gone", p)
		}
	}
	if rec.index(EventPreExecute, "check") < 0 {
		t.Errorf("check skipped\n%s", rec)
	}
	// allow_paths opens another directory, but only one the worker
	// permits (the agent's task_allow_paths): the package's word alone
	// fails it before any task runs, naming the entry and the setting.
	src := "name: p\nallow_paths: ['" + outside + "']\ntasks:\n  - {name: rm, file: {op: delete, path: '" + outside + "/*.txt'}}\n"
	res, rec = runSrc(t, src, nil, Options{WorkDir: work})
	if res.Status != StatusFailed || !strings.Contains(res.Message, "allow_paths entry "+outside+" is not permitted") || !strings.Contains(res.Message, "task_allow_paths") {
		t.Errorf("allow_paths without the worker's permission: %+v\n%s", res, rec)
	}
	if _, err := os.Stat(filepath.Join(outside, "x.txt")); err != nil {
		t.Errorf("the unpermitted package touched %s: %v", outside, err)
	}
	res, rec = runSrc(t, src, nil, Options{WorkDir: work, PermittedPaths: []string{filepath.Dir(outside)}})
	if res.Status != StatusSucceeded {
		t.Errorf("with allow_paths below a permitted root: %+v\n%s", res, rec)
	}
}

func TestRun_PackageTask(t *testing.T) {
	proj := t.TempDir()
	if err := os.MkdirAll(filepath.Join(proj, "packages"), 0o755); err != nil {
		t.Fatal(err)
	}
	child := `name: child
parameters: {n: {type: int}, pw: {sensitive: true}}
tasks:
  - {name: say, exec: {command: [echo, 'n=${param.n + 1} pw=${param.pw}']}}
  - {name: fail, when: 'param.n > 5', exec: {command: ["false"]}}
`
	if err := os.WriteFile(filepath.Join(proj, "packages", "child.yaml"), []byte(child), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(proj, "packages", "self.yaml"), []byte("name: self\ntasks:\n  - {name: again, package: {name: self}}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	res, rec := runSrc(t, `name: parent
tasks:
  - {name: run, package: {name: child, params: {n: '${1 + 1}', pw: 'secret-pw'}}}
  - {name: big, after: [run], package: {name: child, params: {n: '9', pw: 'secret-pw'}}}
  - {name: rec, package: {name: self}}
`, nil, Options{ProjectDir: proj, WorkDir: t.TempDir()})
	if res.Status != StatusFailed {
		t.Fatalf("Run = %+v\n%s", res, rec)
	}
	if got := rec.messages(EventStdout, "run/say"); !slices.Equal(got, []string{"n=3 pw=" + Masked}) {
		t.Errorf("child stdout = %q\n%s", got, rec)
	}
	if !rec.has(EventTaskFailed, "big", `package "child" failed: task "fail" failed: exit status 1`) {
		t.Errorf("no failure of big\n%s", rec)
	}
	if !rec.has(EventTaskFailed, "rec", "packages nested more than 8 deep") {
		t.Errorf("recursion not stopped\n%s", rec)
	}
}
