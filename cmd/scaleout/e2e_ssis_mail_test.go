package main

import (
	"strings"
	"testing"

	"github.com/scaleout/scaleout/cluster/clustertest/smtptest"
)

// TestE2E_SSISSendMail imports the corpus package Mailer.dtsx (a Send Mail
// task: message from a variable, a property expression on Subject, CC,
// high priority, an SMTP connection manager) with --connection pointing
// the SMTP connection at a server of this test, runs it through an agent
// and checks the mail the server got.
func TestE2E_SSISSendMail(t *testing.T) {
	srv := smtptest.New(t)
	ssisImportRun(t, "testdata/ssis/packages/Mailer.dtsx", "", "--strict",
		"--connection", "SMTP Connection Manager=smtp://"+srv.Addr()+"?tls=none")
	msgs := srv.Messages()
	if len(msgs) != 1 {
		t.Fatalf("%d mails, want 1: %+v", len(msgs), msgs)
	}
	m := msgs[0]
	if m.From != "etl@contoso.com" || strings.Join(m.To, ",") != "ops@contoso.com,dba@contoso.com,lead@contoso.com" {
		t.Errorf("envelope from %q to %q", m.From, m.To)
	}
	for _, want := range []string{"From: etl@contoso.com", "To: ops@contoso.com, dba@contoso.com", "Cc: lead@contoso.com",
		"Subject: Nightly load: 1250 rows", "X-Priority: 1", "\n\nThe nightly load has finished."} {
		if !strings.Contains(m.Data, want) {
			t.Errorf("mail lacks %q:\n%s", want, m.Data)
		}
	}
}
