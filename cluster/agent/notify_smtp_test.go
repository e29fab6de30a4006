package agent

import (
	"bufio"
	"context"
	"net"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeSMTP is an SMTP server on 127.0.0.1 that accepts mail (or refuses
// recipients containing "refused") and keeps what it got.
type fakeSMTP struct {
	ln   net.Listener
	mu   sync.Mutex
	from []string
	rcpt []string
	data []string
	cmds []string
}

func newFakeSMTP(t *testing.T) *fakeSMTP {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeSMTP{ln: ln}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go f.serve(c)
		}
	}()
	return f
}

func (f *fakeSMTP) serve(c net.Conn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	r := textproto.NewReader(bufio.NewReader(c))
	say := func(s string) { _, _ = c.Write([]byte(s + "\r\n")) }
	say("220 fake ESMTP")
	for {
		line, err := r.ReadLine()
		if err != nil {
			return
		}
		f.mu.Lock()
		f.cmds = append(f.cmds, line)
		f.mu.Unlock()
		verb := strings.ToUpper(strings.SplitN(line, " ", 2)[0])
		switch verb {
		case "EHLO", "HELO":
			say("250-fake greets you")
			say("250 8BITMIME")
		case "MAIL":
			f.mu.Lock()
			f.from = append(f.from, line)
			f.mu.Unlock()
			say("250 ok")
		case "RCPT":
			if strings.Contains(line, "refused") {
				say("550 no such user")
				continue
			}
			f.mu.Lock()
			f.rcpt = append(f.rcpt, line)
			f.mu.Unlock()
			say("250 ok")
		case "DATA":
			say("354 go on")
			lines, err := r.ReadDotLines()
			if err != nil {
				return
			}
			f.mu.Lock()
			f.data = append(f.data, strings.Join(lines, "\n"))
			f.mu.Unlock()
			say("250 queued")
		case "QUIT":
			say("221 bye")
			return
		default:
			say("502 not implemented")
		}
	}
}

// TestNotifier_Mail: a notification mailed through an SMTP server on
// 127.0.0.1 reaches every recipient with its subject and JSON body; a
// refused recipient and a missing server are errors.
func TestNotifier_Mail(t *testing.T) {
	srv := newFakeSMTP(t)
	n := notifier{smtp: SMTPConfig{Addr: srv.ln.Addr().String(), From: "scaleout@example.com"}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	body := []byte(`{"event":"execution.failed","execution":7}` + "\n")
	if err := n.Mail(ctx, []string{"ops@example.com", "dba@example.com"}, "scaleout: execution 7 (load) failed", body); err != nil {
		t.Fatal(err)
	}
	srv.mu.Lock()
	if len(srv.from) != 1 || !strings.Contains(srv.from[0], "<scaleout@example.com>") || len(srv.rcpt) != 2 ||
		!strings.Contains(srv.rcpt[0], "<ops@example.com>") || !strings.Contains(srv.rcpt[1], "<dba@example.com>") || len(srv.data) != 1 {
		t.Fatalf("server saw from %q rcpt %q data %d", srv.from, srv.rcpt, len(srv.data))
	}
	msg := srv.data[0]
	srv.mu.Unlock()
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
