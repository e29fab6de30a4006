package convert

import (
	"fmt"
	"net/url"
	"sort"
	"strings"

	"github.com/scaleout/scaleout/catalog/ssis"
)

// parseConnString splits "Key=Value;Key2={va;lue}" into lower-cased keys.
func parseConnString(s string) map[string]string {
	out := map[string]string{}
	for len(s) > 0 {
		eq := strings.IndexByte(s, '=')
		if eq < 0 {
			break
		}
		key := strings.ToLower(strings.TrimSpace(s[:eq]))
		s = s[eq+1:]
		var val string
		switch {
		case strings.HasPrefix(strings.TrimSpace(s), "{"):
			s = strings.TrimSpace(s)[1:]
			end := strings.IndexByte(s, '}')
			if end < 0 {
				end = len(s) - 1
			}
			val, s = s[:end], s[end+1:]
			if i := strings.IndexByte(s, ';'); i >= 0 {
				s = s[i+1:]
			} else {
				s = ""
			}
		case strings.HasPrefix(strings.TrimSpace(s), `"`):
			s = strings.TrimSpace(s)[1:]
			end := strings.IndexByte(s, '"')
			if end < 0 {
				end = len(s)
			}
			val = s[:end]
			s = s[min(end+1, len(s)):]
			if i := strings.IndexByte(s, ';'); i >= 0 {
				s = s[i+1:]
			} else {
				s = ""
			}
		default:
			if i := strings.IndexByte(s, ';'); i >= 0 {
				val, s = s[:i], s[i+1:]
			} else {
				val, s = s, ""
			}
		}
		if key != "" {
			out[key] = strings.TrimSpace(val)
		}
	}
	return out
}

func first(m map[string]string, keys ...string) string {
	for _, k := range keys {
		if v, ok := m[k]; ok && v != "" {
			return v
		}
	}
	return ""
}

// sqlServerConn is a SQL Server connection read from an OLE DB, ADO.NET or
// ODBC connection string.
type sqlServerConn struct {
	host, instance, port, database, user, password string
	integrated                                     bool
	options                                        map[string]string
}

// parseSQLServer reads the connection string of cm; an error says why it
// is not SQL Server.
func parseSQLServer(cm *ssis.ConnectionManager) (*sqlServerConn, error) {
	kind := strings.ToUpper(cm.CreationName)
	m := parseConnString(cm.ConnectionString)
	switch {
	case kind == "OLEDB":
		prov := strings.ToUpper(m["provider"])
		if !(strings.HasPrefix(prov, "SQLNCLI") || strings.HasPrefix(prov, "MSOLEDBSQL") || strings.HasPrefix(prov, "SQLOLEDB")) {
			return nil, fmt.Errorf("OLE DB provider %q is not SQL Server's (SQLNCLI, MSOLEDBSQL, SQLOLEDB)", m["provider"])
		}
	case strings.HasPrefix(kind, "ADO.NET"):
		if !strings.Contains(kind, "SQLCLIENT") {
			return nil, fmt.Errorf("ADO.NET provider %q is not SqlClient", cm.CreationName)
		}
	case kind == "ODBC":
		if !strings.Contains(strings.ToUpper(m["driver"]), "SQL SERVER") {
			return nil, fmt.Errorf("ODBC driver %q is not a SQL Server driver", m["driver"])
		}
	default:
		return nil, fmt.Errorf("connection manager type %s is not a database connection", cm.CreationName)
	}
	c := &sqlServerConn{options: map[string]string{}}
	server := first(m, "data source", "server", "address", "addr", "network address")
	server = strings.TrimPrefix(strings.TrimPrefix(server, "tcp:"), "TCP:")
	if server == "" {
		return nil, fmt.Errorf("the connection string names no server (Data Source or Server)")
	}
	if i := strings.IndexByte(server, ','); i >= 0 {
		server, c.port = server[:i], strings.TrimSpace(server[i+1:])
	}
	if i := strings.IndexByte(server, '\\'); i >= 0 {
		server, c.instance = server[:i], server[i+1:]
	}
	if server == "." || strings.EqualFold(server, "(local)") {
		server = "localhost"
	}
	c.host = server
	c.database = first(m, "initial catalog", "database")
	c.user = first(m, "user id", "uid", "user")
	c.password = first(m, "password", "pwd")
	is := strings.ToLower(first(m, "integrated security", "trusted_connection"))
	c.integrated = is == "sspi" || is == "true" || is == "yes"
	if v := first(m, "application name", "app"); v != "" {
		c.options["app name"] = v
	}
	if v := first(m, "connect timeout", "connection timeout"); v != "" {
		c.options["connection timeout"] = v
	}
	if v := strings.ToLower(first(m, "encrypt", "use encryption for data")); v != "" {
		c.options["encrypt"] = map[string]string{"yes": "true", "no": "false", "mandatory": "true", "optional": "false"}[v]
		if c.options["encrypt"] == "" {
			c.options["encrypt"] = v
		}
	}
	if v := strings.ToLower(first(m, "trustservercertificate", "trust server certificate")); v != "" {
		c.options["TrustServerCertificate"] = map[string]string{"yes": "true", "no": "false"}[v]
		if c.options["TrustServerCertificate"] == "" {
			c.options["TrustServerCertificate"] = v
		}
	}
	return c, nil
}

// dsn is the go-mssqldb URL of the connection; password replaces the
// string's own (a ${project.X} reference for a sensitive one).
func (c *sqlServerConn) dsn(password string) string {
	u := url.URL{Scheme: "sqlserver", Host: c.host}
	if c.port != "" {
		u.Host += ":" + c.port
	}
	if c.instance != "" {
		u.Path = "/" + c.instance
	}
	if c.user != "" {
		if password != "" {
			u.User = url.UserPassword(c.user, password)
		} else {
			u.User = url.User(c.user)
		}
	}
	q := url.Values{}
	if c.database != "" {
		q.Set("database", c.database)
	}
	for k, v := range c.options {
		q.Set(k, v)
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// smtpDSN converts an SMTP connection manager's connection string
// (SmtpServer=host;UseWindowsAuthentication=False;EnableSsl=True;) into
// the DSN of an smtp connection. EnableSsl (STARTTLS in .NET) becomes
// tls=starttls; windows reports UseWindowsAuthentication, which has no
// counterpart (the DSN has no user).
func smtpDSN(cs string) (dsn string, windows bool, err error) {
	m := parseConnString(cs)
	host := first(m, "smtpserver")
	if host == "" {
		return "", false, fmt.Errorf("the connection string names no SmtpServer")
	}
	if strings.ContainsAny(host, "/?@ ") {
		return "", false, fmt.Errorf("SmtpServer %q is not a host name", host)
	}
	tls := "none"
	if isTrueS(m["enablessl"]) {
		tls = "starttls"
	}
	return "smtp://" + host + "?tls=" + tls, isTrueS(m["usewindowsauthentication"]), nil
}

// parseOverride reads --connection's DSN: sqlite:PATH, postgres://...,
// postgresql://... or sqlserver://...
func parseOverride(dsn string) (driver string, props map[string]string, err error) {
	switch {
	case strings.HasPrefix(dsn, "sqlite:"):
		p := strings.TrimPrefix(strings.TrimPrefix(dsn, "sqlite:"), "//")
		if p == "" {
			return "", nil, fmt.Errorf("sqlite: needs a database file, as sqlite:PATH")
		}
		return "sqlite", map[string]string{"path": p}, nil
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		return "postgres", map[string]string{"dsn": dsn}, nil
	case strings.HasPrefix(dsn, "sqlserver://"):
		return "sqlserver", map[string]string{"dsn": dsn}, nil
	case strings.HasPrefix(dsn, "smtp://"):
		return "smtp", map[string]string{"dsn": dsn}, nil
	}
	return "", nil, fmt.Errorf("DSN %q: want sqlite:PATH, postgres://..., postgresql://..., sqlserver://... or smtp://...", dsn)
}

// fields are the project connection properties of the connection, with
// password (a ${project.X} reference) as the password.
func (c *sqlServerConn) fields(password string) omap {
	out := omap{{"host", c.host}}
	if c.port != "" {
		out.set("port", c.port)
	}
	if c.database != "" {
		out.set("database", c.database)
	}
	if c.user != "" {
		out.set("user", c.user)
	}
	out.set("password", password)
	keys := make([]string, 0, len(c.options))
	for k := range c.options {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		out.set(k, c.options[k])
	}
	return out
}
