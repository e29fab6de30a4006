//go:build unix

package main

import (
	"database/sql"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"
)

// startPostgresE2E starts a throw-away PostgreSQL server from Debian's
// package on a free loopback port, as executor's TestRun_PostgreSQL does
// (a copy: test helpers do not cross packages). It skips without one.
func startPostgresE2E(t *testing.T) int {
	t.Helper()
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(bins) == 0 {
		t.Skip("no PostgreSQL server installed (apt-get install postgresql)")
	}
	slices.Sort(bins)
	bin := filepath.Dir(bins[len(bins)-1])
	dir, err := os.MkdirTemp("", "scaleout-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	var as []string
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Skipf("running as root and no postgres user to run the server as: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
		as = []string{"runuser", "-u", "postgres", "--"}
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	run := func(name string, args ...string) {
		t.Helper()
		argv := append(append(slices.Clone(as), filepath.Join(bin, name)), args...)
		if out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	data := filepath.Join(dir, "data")
	run("initdb", "-D", data, "-U", "scaleout", "--auth=trust", "--no-sync")
	run("pg_ctl", "-D", data, "-o", fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off", port, dir), "-l", filepath.Join(dir, "log"), "-w", "start")
	t.Cleanup(func() { run("pg_ctl", "-D", data, "-m", "immediate", "stop") })
	return port
}

// TestE2E_DataFlowSample deploys testdata/projects/dataflow and runs its
// data flow through an agent: orders CSV, customers looked up in SQLite,
// derived columns, a split and an aggregate bulk-loaded into a real
// PostgreSQL, bad rows redirected. It checks the table, the row counts
// and the summary in the execution's messages.
func TestE2E_DataFlowSample(t *testing.T) {
	port := startPostgresE2E(t)
	a := startAgent(t, t.TempDir())
	for _, args := range [][]string{{"folders", "create", "F"}, {"deploy", "testdata/projects/dataflow", "--folder", "F"}} {
		if r := cli(t, a.api, args...); r.code != 0 {
			t.Fatalf("%v: %d %s", args, r.code, r.stderr)
		}
	}
	r := cli(t, a.api, "run", "F/dataflow/load_orders", "--param", "pg_port="+strconv.Itoa(port), "--wait")
	if r.code != 0 {
		t.Fatalf("run: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"loaded 6 orders; 9 rows written", "running -> succeeded"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
	logs := cli(t, a.api, "executions", "logs", strconv.FormatUint(parseOutID(t, r), 10))
	for _, want := range []string{"data flow summary", "orders               flat_file_source                  -  output 9, error 3", "customer             lookup                            9  match 7, no_match 2"} {
		if !strings.Contains(logs.stdout, want) {
			t.Errorf("logs lack %q:\n%s", want, logs.stdout)
		}
	}
	db, err := sql.Open("pgx", fmt.Sprintf("postgres://scaleout@127.0.0.1:%d/postgres?sslmode=disable", port))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	var revenue string
	if err := db.QueryRow(`SELECT count(*), sum(revenue)::text FROM sales_by_country`).Scan(&n, &revenue); err != nil || n != 3 || revenue != "1375.98" {
		t.Errorf("sales_by_country: %d rows, revenue %s, %v; want 3 and 1375.98", n, revenue, err)
	}
}
