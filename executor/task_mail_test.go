//go:build unix

package executor

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scaleout/scaleout/cluster/clustertest/smtptest"
)

// TestRun_Mail: a mail task sends one mail through the package's smtp
// connection (templates expanded; cc and bcc recipients; high priority;
// an attachment of the work directory), a refused recipient fails the
// task naming it, an attachment outside the allowed roots is refused
// before anything is sent, and a sql task cannot use an smtp connection.
func TestRun_Mail(t *testing.T) {
	srv := smtptest.New(t)
	work := t.TempDir()
	if err := os.WriteFile(filepath.Join(work, "report.csv"), []byte("id,total\n1,42\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	outside := filepath.Join(t.TempDir(), "secret.txt")
	if err := os.WriteFile(outside, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	res, rec := runSrc(t, `name: mailer
parameters:
  smtp: {}
  outside: {}
variables: {rows: {type: int, value: 42}}
connections:
  mailhost: {driver: smtp, dsn: '${param.smtp}'}
tasks:
  - name: send
    mail:
      connection: mailhost
      from: etl@example.com
      to: 'ops@example.com; dba@example.com'
      cc: boss@example.com
      bcc: audit@example.com
      subject: 'Load done: ${vars.rows} rows'
      body: "Rows loaded: ${vars.rows}\nBye."
      priority: high
      attachments: [report.csv]
  - {name: refused, after: [send], mail: {connection: mailhost, from: etl@example.com, to: refused@example.com, subject: s, body: b}}
  - {name: escape, after: [send], mail: {connection: mailhost, from: etl@example.com, to: ops@example.com, attachments: ['${param.outside}']}}
  - {name: sqlonsmtp, after: [send], sql: {connection: mailhost, statement: SELECT 1}}
`, map[string]string{"smtp": "smtp://" + srv.Addr() + "?tls=none", "outside": outside}, Options{WorkDir: work})
	if res.Status != StatusFailed {
		t.Fatalf("Run = %+v\n%s", res, rec)
	}
	msgs := srv.Messages()
	if len(msgs) != 1 {
		t.Fatalf("%d messages, want 1 (the refused one has no DATA): %+v\n%s", len(msgs), msgs, rec)
	}
	m := msgs[0]
	if m.From != "etl@example.com" || strings.Join(m.To, ",") != "ops@example.com,dba@example.com,boss@example.com,audit@example.com" {
		t.Errorf("envelope from %q to %q", m.From, m.To)
	}
	for _, want := range []string{"From: etl@example.com", "To: ops@example.com, dba@example.com", "Cc: boss@example.com",
		"Subject: Load done: 42 rows", "X-Priority: 1", "Rows loaded: 42\nBye.", `filename="report.csv"`, "aWQsdG90YWwKMSw0Mgo="} {
		if !strings.Contains(m.Data, want) {
			t.Errorf("message lacks %q:\n%s", want, m.Data)
		}
	}
	if strings.Contains(m.Data, "audit@example.com") {
		t.Errorf("bcc recipient in the headers:\n%s", m.Data)
	}
	for task, want := range map[string]string{
		"refused":   `recipient refused@example.com: 550 "no such user"`,
		"escape":    "mail attachments[0]",
		"sqlonsmtp": "only mail tasks use those",
	} {
		if !rec.has(EventError, task, want) {
			t.Errorf("task %s: no error with %q\n%s", task, want, rec)
		}
	}
}
