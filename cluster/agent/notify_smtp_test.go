package agent

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/scaleout/scaleout/cluster/clustertest/smtptest"
)

// TestNotifier_Mail: a notification mailed through an SMTP server on
// 127.0.0.1 reaches every recipient with its subject and JSON body; a
// refused recipient and a missing server are errors.
func TestNotifier_Mail(t *testing.T) {
	srv := smtptest.New(t)
	n := notifier{smtp: SMTPConfig{Addr: srv.Addr(), From: "scaleout@example.com"}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	body := []byte(`{"event":"execution.failed","execution":7}` + "\n")
	if err := n.Mail(ctx, []string{"ops@example.com", "dba@example.com"}, "scaleout: execution 7 (load) failed", body); err != nil {
		t.Fatal(err)
	}
	msgs := srv.Messages()
	if len(msgs) != 1 || msgs[0].From != "scaleout@example.com" || len(msgs[0].To) != 2 ||
		msgs[0].To[0] != "ops@example.com" || msgs[0].To[1] != "dba@example.com" {
		t.Fatalf("server saw %+v", msgs)
	}
	msg := msgs[0].Data
	for _, want := range []string{"From: scaleout@example.com", "To: ops@example.com, dba@example.com",
		"Subject: scaleout: execution 7 (load) failed", "Content-Type: text/plain; charset=utf-8", `{"event":"execution.failed","execution":7}`} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q:\n%s", want, msg)
		}
	}
	if err := n.Mail(ctx, []string{"refused@example.com"}, "s", body); err == nil || !strings.Contains(err.Error(), "refused@example.com") {
		t.Fatalf("refused recipient: %v", err)
	}
	if err := (notifier{}).Mail(ctx, []string{"ops@example.com"}, "s", body); err == nil || !strings.Contains(err.Error(), "--smtp-addr") {
		t.Fatalf("no server: %v", err)
	}
}
