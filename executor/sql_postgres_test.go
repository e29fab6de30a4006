//go:build unix

package executor

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
)

// startPostgres starts a throw-away PostgreSQL server from the machine's
// Debian package (apt-get install postgresql; .ci/run installs it) on a
// free loopback port and returns that port. The server's files live in a
// temporary directory; the server is stopped when the test ends. As root,
// initdb and the server run as the postgres user, since PostgreSQL refuses
// to run as root.
func startPostgres(t *testing.T) int {
	t.Helper()
	if testing.Short() {
		t.Skip("PostgreSQL integration test: skipped with -short")
	}
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
	var as []string // command prefix that runs a program as the server's owner
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
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off", port, dir)
	run("pg_ctl", "-D", data, "-o", opts, "-l", filepath.Join(dir, "log"), "-w", "start")
	t.Cleanup(func() { run("pg_ctl", "-D", data, "-m", "immediate", "stop") })
	return port
}

// TestRun_PostgreSQL runs the sql task against a real PostgreSQL server:
// `?` markers become $n, values are bound by the driver (an injection
// attempt stays data), and every result mode works.
func TestRun_PostgreSQL(t *testing.T) {
	port := startPostgres(t)
	res, rec := runSrc(t, fmt.Sprintf(`name: pg
connections:
  db: {driver: postgres, host: 127.0.0.1, port: "%d", user: scaleout, database: postgres, options: {sslmode: disable}}
`, port)+sqlCoreTasks, nil, Options{WorkDir: t.TempDir()})
	if res.Status != StatusSucceeded {
		t.Fatalf("Run = %+v\n%s", res, rec)
	}
	if got := itemLines(rec, "check"); !slices.Equal(got, []string{"it's ?"}) {
		t.Errorf("check printed %q\n%s", got, rec)
	}
}
