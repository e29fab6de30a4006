package executor

import (
	"strings"
	"testing"
)

func TestNewConnection(t *testing.T) {
	c, secrets, err := NewConnection("postgres", map[string]string{"host": "db", "port": "5432", "database": "wh", "user": "etl", "password": "p@ss/word", "sslmode": "disable"}, "/w")
	if err != nil {
		t.Fatal(err)
	}
	if c.Driver != "postgres" || !strings.Contains(c.DSN, "p%40ss%2Fword") || !strings.Contains(c.DSN, "sslmode=disable") {
		t.Fatalf("postgres DSN %q", c.DSN)
	}
	if len(secrets) != 1 || secrets[0] != "p@ss/word" {
		t.Fatalf("secrets %v", secrets)
	}
	c, _, err = NewConnection("sqlite", map[string]string{"path": "wh.db"}, "/work/1-1")
	if err != nil || !strings.Contains(c.DSN, "/work/1-1/wh.db") {
		t.Fatalf("sqlite DSN %q %v", c.DSN, err)
	}
	if _, _, err := NewConnection("oracle", nil, ""); err == nil || !strings.Contains(err.Error(), "oracle") {
		t.Fatalf("unknown driver: %v", err)
	}
	if _, _, err := NewConnection("postgres", map[string]string{"host": "h", "port": "x"}, ""); err == nil {
		t.Fatal("bad port accepted")
	}
}
