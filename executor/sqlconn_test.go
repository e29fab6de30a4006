package executor

import (
	"net/url"
	"testing"

	"github.com/scaleout/scaleout/catalog/pkgspec"
)

func TestPlaceholders(t *testing.T) {
	tests := []struct {
		driver, in, want string
		n                int
	}{
		{pkgspec.DriverSQLite, "SELECT ? , ?", "SELECT ? , ?", 2},
		{pkgspec.DriverPostgres, "SELECT a FROM t WHERE a = ? AND b = ?", "SELECT a FROM t WHERE a = $1 AND b = $2", 2},
		{pkgspec.DriverSQLServer, "SELECT a FROM t WHERE a = ? AND b = ?", "SELECT a FROM t WHERE a = @p1 AND b = @p2", 2},
		{pkgspec.DriverPostgres, `SELECT '?', "a?b", ? -- what?` + "\n" + `/* ? */ , ?`, `SELECT '?', "a?b", $1 -- what?` + "\n" + `/* ? */ , $2`, 2},
		{pkgspec.DriverPostgres, "SELECT $$ ? $$, ?", "SELECT $$ ? $$, $1", 1},
		{pkgspec.DriverSQLServer, "SELECT [a?], ?", "SELECT [a?], @p1", 1},
		{pkgspec.DriverPostgres, "SELECT 'it''s ?', ?", "SELECT 'it''s ?', $1", 1},
		{pkgspec.DriverPostgres, "SELECT 'unterminated ?", "SELECT 'unterminated ?", 0},
	}
	for _, tt := range tests {
		got, n := placeholders(tt.driver, tt.in)
		if got != tt.want || n != tt.n {
			t.Errorf("placeholders(%s, %q) = %q, %d; want %q, %d", tt.driver, tt.in, got, n, tt.want, tt.n)
		}
	}
}

func TestBuildDSN(t *testing.T) {
	tests := []struct {
		driver string
		f      dsnFields
		want   string
	}{
		{pkgspec.DriverPostgres, dsnFields{host: "db", port: "5432", database: "etl", user: "app", password: "p@ss/w?rd", options: map[string]string{"sslmode": "disable"}},
			"postgres://app:p%40ss%2Fw%3Frd@db:5432/etl?sslmode=disable"},
		{pkgspec.DriverPostgres, dsnFields{host: "/var/run/postgresql", database: "etl"}, "postgres:///etl?host=%2Fvar%2Frun%2Fpostgresql"},
		{pkgspec.DriverSQLServer, dsnFields{host: "sql1", port: "1433", database: "ETL", user: "sa", password: "Pa;ss"},
			"sqlserver://sa:Pa;ss@sql1:1433?database=ETL"},
		{pkgspec.DriverSQLite, dsnFields{database: "data/x.db", options: map[string]string{"_pragma": "journal_mode(wal)"}}, "file:data/x.db?_pragma=journal_mode%28wal%29"},
	}
	for _, tt := range tests {
		got, err := buildDSN(tt.driver, tt.f)
		if err != nil || got != tt.want {
			t.Errorf("buildDSN(%s) = %q, %v; want %q", tt.driver, got, err, tt.want)
		}
	}
	// The password survives the round trip through the URL parser drivers use.
	dsn, _ := buildDSN(pkgspec.DriverPostgres, dsnFields{host: "h", user: "u", password: "a:b@c/d?e#f%g"})
	if u, err := url.Parse(dsn); err != nil {
		t.Errorf("parse %q: %v", dsn, err)
	} else if pw, _ := u.User.Password(); pw != "a:b@c/d?e#f%g" {
		t.Errorf("password round trip = %q", pw)
	}
	if _, err := buildDSN(pkgspec.DriverPostgres, dsnFields{host: "h", port: "http"}); err == nil {
		t.Error("bad port accepted")
	}
}

func TestSQLiteDSN(t *testing.T) {
	tests := []struct{ in, want string }{
		{"x.db", "file:/w/x.db?" + sqliteBusyTimeout},
		{"file:x.db?mode=ro", "file:/w/x.db?mode=ro&" + sqliteBusyTimeout},
		{"/abs/x.db", "file:/abs/x.db?" + sqliteBusyTimeout},
		{":memory:", "file::memory:?" + sqliteBusyTimeout},
		{"file:x.db?_pragma=busy_timeout(1)", "file:/w/x.db?_pragma=busy_timeout(1)"},
	}
	for _, tt := range tests {
		if got := sqliteDSN(tt.in, "/w"); got != tt.want {
			t.Errorf("sqliteDSN(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
