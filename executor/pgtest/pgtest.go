package pgtest

import (
	"errors"
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

// Reasons a server cannot be started on this machine; New skips the test
// on them.
var (
	// ErrNotInstalled means no PostgreSQL server binaries were found.
	ErrNotInstalled = errors.New("no PostgreSQL server installed (apt-get install postgresql)")
	// ErrNoServerUser means the process runs as root and there is no
	// postgres user to run the server as.
	ErrNoServerUser = errors.New("running as root and no postgres user to run the server as")
)

// Server is a running throw-away PostgreSQL server. Its superuser is
// scaleout, with trust authentication on 127.0.0.1.
type Server struct {
	Port int    // the loopback TCP port it listens on
	Dir  string // its directory: data, log and the Unix socket

	binDir string
	data   string
	as     []string // command prefix that runs a program as the server's owner
}

// Start starts a server whose files live in dir (created if missing; it
// becomes world-readable and, as root, owned by the postgres user). Each
// setting ("name=value") is passed to the server as -c. The caller stops
// it with Stop.
func Start(dir string, settings ...string) (*Server, error) {
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(bins) == 0 {
		return nil, ErrNotInstalled
	}
	slices.Sort(bins)
	s := &Server{Dir: dir, binDir: filepath.Dir(bins[len(bins)-1]), data: filepath.Join(dir, "data")}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrNoServerUser, err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			return nil, err
		}
		s.as = []string{"runuser", "-u", "postgres", "--"}
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s.Port = ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	if err := s.run("initdb", "-D", s.data, "-U", "scaleout", "--auth=trust", "--no-sync"); err != nil {
		return nil, err
	}
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off", s.Port, dir)
	for _, kv := range settings {
		opts += " -c " + kv
	}
	if err := s.run("pg_ctl", "-D", s.data, "-o", opts, "-l", filepath.Join(dir, "log"), "-w", "start"); err != nil {
		return nil, err
	}
	return s, nil
}

// New starts a server for the test and stops it when the test ends. It
// skips the test with -short, without PostgreSQL binaries, and as root
// without a postgres user; any other failure fails the test.
func New(t testing.TB) *Server {
	t.Helper()
	if testing.Short() {
		t.Skip("PostgreSQL integration test: skipped with -short")
	}
	// Not t.TempDir: its parent is private to the test's user, and the
	// server may run as another one.
	dir, err := os.MkdirTemp("", "scaleout-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	s, err := Start(dir)
	if errors.Is(err, ErrNotInstalled) || errors.Is(err, ErrNoServerUser) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Fatal(err)
		}
	})
	return s
}

// URL is the pgx connection URL of the postgres database as scaleout.
func (s *Server) URL() string {
	return fmt.Sprintf("postgres://scaleout@127.0.0.1:%d/postgres?sslmode=disable", s.Port)
}

// Bin is the path of one of the server's programs (psql, pg_ctl, …).
func (s *Server) Bin(name string) string { return filepath.Join(s.binDir, name) }

// Stop stops the server at once (pg_ctl -m immediate); its files stay.
func (s *Server) Stop() error { return s.run("pg_ctl", "-D", s.data, "-m", "immediate", "stop") }

// run runs one of the server's programs as the server's owner.
func (s *Server) run(name string, args ...string) error {
	argv := append(append(slices.Clone(s.as), s.Bin(name)), args...)
	if out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput(); err != nil {
		return fmt.Errorf("%s %v: %v\n%s", name, args, err, out)
	}
	return nil
}
