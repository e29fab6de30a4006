package sqltest

import (
	"database/sql"
	"testing"
)

// Open opens the database dsn with driver, runs stmts on it in order and
// closes it when the test ends. A failure ends the test.
func Open(t testing.TB, driver, dsn string, stmts ...string) *sql.DB {
	t.Helper()
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	return db
}

// Strings runs q, which selects one column, and returns that column of
// every row as a string. A failure ends the test.
func Strings(t testing.TB, db *sql.DB, q string) []string {
	t.Helper()
	return Rows(t, db, q, func(rows *sql.Rows) (string, error) {
		var s string
		err := rows.Scan(&s)
		return s, err
	})
}

// Rows runs q and returns one string per row, made by scan (which calls
// rows.Scan and formats the columns). A failure ends the test.
func Rows(t testing.TB, db *sql.DB, q string, scan func(*sql.Rows) (string, error)) []string {
	t.Helper()
	rows, err := db.Query(q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		s, err := scan(rows)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return out
}
