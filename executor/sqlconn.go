package executor

import (
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/scaleout/scaleout/catalog/pkgspec"

	// Database drivers of sql tasks: SQLite (pure Go), PostgreSQL, SQL Server.
	_ "github.com/jackc/pgx/v5/stdlib"
	_ "github.com/microsoft/go-mssqldb"
	_ "modernc.org/sqlite"
)

// driverNames maps a connection driver to its database/sql driver name.
var driverNames = map[string]string{
	pkgspec.DriverSQLite:    "sqlite",
	pkgspec.DriverPostgres:  "pgx",
	pkgspec.DriverSQLServer: "sqlserver",
}

// sqliteBusyTimeout is added to SQLite DSNs that set no busy_timeout, so
// that tasks writing the same file wait for each other instead of failing.
const sqliteBusyTimeout = "_pragma=busy_timeout(10000)"

// connection resolves the named connection: the package's own, else one
// given through Options. The DSN is built from templates in the package's
// environment; it never appears in events.
func (tc *taskCtx) connection(name string) (Connection, error) {
	if c := tc.pr.pkg.Connection(name); c != nil {
		dsn, err := tc.buildDSN(c)
		if err != nil {
			return Connection{}, fmt.Errorf("connection %q: %w", name, err)
		}
		return Connection{Driver: c.Driver, DSN: dsn}, nil
	}
	if c, ok := tc.pr.r.opts.Connections[name]; ok {
		return c, nil
	}
	return Connection{}, fmt.Errorf("unknown connection %q (declare it under connections: in the package or the project)", name)
}

// buildDSN evaluates a connection's templates and builds its DSN.
func (tc *taskCtx) buildDSN(c *pkgspec.Connection) (string, error) {
	ex := func(field, s string) (string, error) { return tc.expand("connection "+c.Name+" "+field, s) }
	if c.DSN != "" {
		dsn, err := ex("dsn", c.DSN)
		if err != nil {
			return "", err
		}
		if c.Driver == pkgspec.DriverSQLite {
			dsn = sqliteDSN(dsn, tc.pr.r.opts.WorkDir)
		}
		return dsn, nil
	}
	var f dsnFields
	for _, p := range []struct {
		dst *string
		src string
		nm  string
	}{{&f.host, c.Host, "host"}, {&f.port, c.Port, "port"}, {&f.database, c.Database, "database"}, {&f.user, c.User, "user"}, {&f.password, c.Password, "password"}} {
		v, err := ex(p.nm, p.src)
		if err != nil {
			return "", err
		}
		*p.dst = v
	}
	f.options = map[string]string{}
	for k, v := range c.Options {
		x, err := ex("options "+k, v)
		if err != nil {
			return "", err
		}
		f.options[k] = x
	}
	if f.password != "" {
		tc.pr.r.addSecret(f.password)
	}
	dsn, err := buildDSN(c.Driver, f)
	if err != nil {
		return "", err
	}
	if c.Driver == pkgspec.DriverSQLite {
		dsn = sqliteDSN(dsn, tc.pr.r.opts.WorkDir)
	}
	return dsn, nil
}

// dsnFields are the parts of a DSN built from fields.
type dsnFields struct {
	host, port, database, user, password string
	options                              map[string]string
}

// buildDSN builds a driver's DSN from fields, escaping each part, so a
// password with @, / or ? in it works.
func buildDSN(driver string, f dsnFields) (string, error) {
	q := url.Values{}
	keys := make([]string, 0, len(f.options))
	for k := range f.options {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		q.Add(k, f.options[k])
	}
	host := f.host
	if f.port != "" {
		if _, err := strconv.ParseUint(f.port, 10, 16); err != nil {
			return "", fmt.Errorf("port %q is not a port number", f.port)
		}
		host = net.JoinHostPort(f.host, f.port)
	}
	var user *url.Userinfo
	switch {
	case f.user != "" && f.password != "":
		user = url.UserPassword(f.user, f.password)
	case f.user != "":
		user = url.User(f.user)
	}
	switch driver {
	case pkgspec.DriverSQLite:
		if f.database == "" {
			return "", fmt.Errorf("sqlite needs a database file")
		}
		u := "file:" + f.database
		if len(q) > 0 {
			u += "?" + q.Encode()
		}
		return u, nil
	case pkgspec.DriverPostgres:
		if strings.HasPrefix(f.host, "/") { // a Unix socket directory
			q.Set("host", f.host)
			if f.port != "" {
				q.Set("port", f.port)
			}
			host = ""
		}
		u := url.URL{Scheme: "postgres", User: user, Host: host, RawQuery: q.Encode()}
		if f.database != "" {
			u.Path = "/" + f.database
		}
		return u.String(), nil
	case pkgspec.DriverSQLServer:
		if f.database != "" {
			q.Set("database", f.database)
		}
		u := url.URL{Scheme: "sqlserver", User: user, Host: host, RawQuery: q.Encode()}
		return u.String(), nil
	case pkgspec.DriverSMTP:
		u := url.URL{Scheme: "smtp", User: user, Host: host, RawQuery: q.Encode()}
		return u.String(), nil
	}
	return "", fmt.Errorf("unknown driver %q", driver)
}

// sqliteDSN makes a relative database file relative to dir and adds a
// busy timeout unless one is set.
func sqliteDSN(dsn, dir string) string {
	path, query, _ := strings.Cut(strings.TrimPrefix(dsn, "file:"), "?")
	if path != ":memory:" && !strings.HasPrefix(path, ":") && !filepath.IsAbs(path) && dir != "" {
		path = filepath.Join(dir, path)
	}
	if !strings.Contains(query, "busy_timeout") {
		if query != "" {
			query += "&"
		}
		query += sqliteBusyTimeout
	}
	return "file:" + path + "?" + query
}

// placeholders rewrites the "?" parameter markers of stmt into the
// driver's: $1, $2... for PostgreSQL, @p1, @p2... for SQL Server; SQLite
// takes "?" as it is. Markers inside quotes ('...', "...", [...] for SQL
// Server, $$...$$ for PostgreSQL) and comments are left alone. It returns
// the statement and the number of markers.
func placeholders(driver, stmt string) (string, int) {
	var b strings.Builder
	n := 0
	for i := 0; i < len(stmt); i++ {
		c := stmt[i]
		switch {
		case c == '\'' || c == '"' || (c == '[' && driver == pkgspec.DriverSQLServer) || c == '`':
			end := c
			if c == '[' {
				end = ']'
			}
			j := i + 1
			for j < len(stmt) && stmt[j] != end {
				j++
			}
			b.WriteString(stmt[i:min(j+1, len(stmt))])
			i = j
		case c == '-' && strings.HasPrefix(stmt[i:], "--"):
			j := strings.IndexByte(stmt[i:], '\n')
			if j < 0 {
				j = len(stmt) - i - 1
			}
			b.WriteString(stmt[i : i+j+1])
			i += j
		case c == '/' && strings.HasPrefix(stmt[i:], "/*"):
			i = copyThrough(&b, stmt, i, "*/")
		case c == '$' && driver == pkgspec.DriverPostgres && strings.HasPrefix(stmt[i:], "$$"):
			i = copyThrough(&b, stmt, i, "$$")
		case c == '?':
			n++
			switch driver {
			case pkgspec.DriverPostgres:
				fmt.Fprintf(&b, "$%d", n)
			case pkgspec.DriverSQLServer:
				fmt.Fprintf(&b, "@p%d", n)
			default:
				b.WriteByte('?')
			}
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), n
}

// copyThrough writes stmt from the two-character opener at i through the
// first close after it (to the end when there is none) and returns the
// index of the last byte written.
func copyThrough(b *strings.Builder, stmt string, i int, close string) int {
	end := len(stmt)
	if j := strings.Index(stmt[i+2:], close); j >= 0 {
		end = i + 2 + j + len(close)
	}
	b.WriteString(stmt[i:end])
	return end - 1
}

// db returns the execution's pool for a connection, opening it once.
func (r *runner) db(c Connection) (*sql.DB, error) {
	if c.Driver == pkgspec.DriverSMTP {
		return nil, errors.New("it is an smtp connection (only mail tasks use those)")
	}
	name, ok := driverNames[c.Driver]
	if !ok {
		return nil, fmt.Errorf("unknown driver %q (want one of: %s)", c.Driver, strings.Join(pkgspec.Drivers, ", "))
	}
	key := c.Driver + "\x00" + c.DSN
	r.mu.Lock()
	defer r.mu.Unlock()
	if db := r.dbs[key]; db != nil {
		return db, nil
	}
	db, err := sql.Open(name, c.DSN)
	if err != nil {
		return nil, err
	}
	if r.dbs == nil {
		r.dbs = map[string]*sql.DB{}
	}
	r.dbs[key] = db
	return db, nil
}

// closeDBs closes every pool the execution opened.
func (r *runner) closeDBs() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, db := range r.dbs {
		_ = db.Close()
		delete(r.dbs, k)
	}
}

// NewConnection builds a Connection from a driver and plain (already
// resolved) properties, as a project declares them: either "dsn", or
// "host", "port", "database" (alias "path"), "user", "password"; any other
// property is a driver option. A relative SQLite file is relative to
// workDir. It returns the values that must be masked (the password).
func NewConnection(driver string, props map[string]string, workDir string) (Connection, []string, error) {
	if !slices.Contains(pkgspec.Drivers, driver) {
		return Connection{}, nil, fmt.Errorf("unknown driver %q (want one of %s)", driver, strings.Join(pkgspec.Drivers, ", "))
	}
	var secrets []string
	if dsn := props["dsn"]; dsn != "" {
		if driver == pkgspec.DriverSQLite {
			dsn = sqliteDSN(dsn, workDir)
		}
		return Connection{Driver: driver, DSN: dsn}, nil, nil
	}
	f := dsnFields{options: map[string]string{}}
	for k, v := range props {
		switch k {
		case "host":
			f.host = v
		case "port":
			f.port = v
		case "database", "path":
			f.database = v
		case "user":
			f.user = v
		case "password":
			f.password = v
			if v != "" {
				secrets = append(secrets, v)
			}
		default:
			f.options[k] = v
		}
	}
	dsn, err := buildDSN(driver, f)
	if err != nil {
		return Connection{}, nil, err
	}
	if driver == pkgspec.DriverSQLite {
		dsn = sqliteDSN(dsn, workDir)
	}
	return Connection{Driver: driver, DSN: dsn}, secrets, nil
}
