//go:build unix

package executor

import (
	"fmt"
	"slices"
	"testing"

	"github.com/scaleout/scaleout/executor/pgtest"
)

// TestRun_PostgreSQL runs the sql task against a real PostgreSQL server:
// `?` markers become $n, values are bound by the driver (an injection
// attempt stays data), and every result mode works.
func TestRun_PostgreSQL(t *testing.T) {
	port := pgtest.New(t).Port
	rec := runOK(t, fmt.Sprintf(`name: pg
connections:
  db: {driver: postgres, host: 127.0.0.1, port: "%d", user: scaleout, database: postgres, options: {sslmode: disable}}
`, port)+sqlCoreTasks, nil, Options{WorkDir: t.TempDir()})
	if got := itemLines(rec, "check"); !slices.Equal(got, []string{"it's ?"}) {
		t.Errorf("check printed %q\n%s", got, rec)
	}
}
