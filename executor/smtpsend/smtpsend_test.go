package smtpsend

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/scaleout/scaleout/cluster/clustertest/nettest"
	"github.com/scaleout/scaleout/cluster/clustertest/smtptest"
)

func TestSend_DeliversToEveryRecipient(t *testing.T) {
	srv := smtptest.New(t)
	host, _, _ := net.SplitHostPort(srv.Addr())
	msg := []byte("Subject: hi\r\n\r\nbody line\r\n")
	err := Send(context.Background(), Server{Addr: srv.Addr(), Host: host}, "a@x", []string{"b@x", "c@x"}, msg)
	if err != nil {
		t.Fatal(err)
	}
	got := srv.Messages()
	if len(got) != 1 || got[0].From != "a@x" || strings.Join(got[0].To, ",") != "b@x,c@x" || !strings.Contains(got[0].Data, "body line") {
		t.Fatalf("delivered %+v", got)
	}
}

func TestSend_StartTLSRequiredButNotOffered(t *testing.T) {
	srv := smtptest.New(t) // offers no STARTTLS
	host, _, _ := net.SplitHostPort(srv.Addr())
	err := Send(context.Background(), Server{Addr: srv.Addr(), Host: host, TLS: TLSStartTLS}, "a@x", []string{"b@x"}, []byte("x\r\n"))
	if err == nil || !strings.Contains(err.Error(), "does not offer STARTTLS") {
		t.Fatalf("err = %v, want the missing STARTTLS named", err)
	}
	if n := len(srv.Messages()); n != 0 {
		t.Fatalf("%d messages delivered in clear", n)
	}
}

// A server that accepts the connection and never greets: canceling the
// context ends the dialogue instead of hanging on the read.
func TestSend_CancelEndsAHungDialogue(t *testing.T) {
	silent := nettest.Silent(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Send(ctx, Server{Addr: silent, Host: "127.0.0.1"}, "a@x", []string{"b@x"}, []byte("x\r\n"))
	}()
	cancel()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("a dialogue with a silent server succeeded")
		}
	case <-time.After(2 * time.Minute): // only a hang ends here
		t.Fatal("Send did not return after its context was canceled")
	}
}
