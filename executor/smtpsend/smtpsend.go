// Package smtpsend holds the one SMTP dialogue of scaleout: the mail task
// (executor) and the agent's notifications (cluster/agent) both send
// through Send. It depends on the standard library only.
package smtpsend

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/smtp"
	"os"
	"time"
)

// TLS modes of a Server.
const (
	// TLSOpportunistic uses STARTTLS when the server offers it.
	TLSOpportunistic = ""
	// TLSNone never encrypts.
	TLSNone = "none"
	// TLSStartTLS requires STARTTLS.
	TLSStartTLS = "starttls"
	// TLSImplicit connects with TLS from the first byte (port 465).
	TLSImplicit = "tls"
)

// Server is where and how a message is sent.
type Server struct {
	Addr string // host:port
	Host string // the name TLS verifies and PLAIN authenticates to
	User string // PLAIN authentication when set (net/smtp refuses it without TLS except to localhost)
	Pass string
	TLS  string // one of the TLS* modes
}

// Send delivers msg (a complete RFC 5322 message) from from to every
// address of to, under ctx's deadline: the connection's deadline follows
// ctx, and canceling ctx ends a dialogue that hangs.
func Send(ctx context.Context, s Server, from string, to []string, msg []byte) error {
	var d net.Dialer
	var conn net.Conn
	var err error
	if s.TLS == TLSImplicit {
		conn, err = (&tls.Dialer{NetDialer: &d, Config: &tls.Config{ServerName: s.Host}}).DialContext(ctx, "tcp", s.Addr)
	} else {
		conn, err = d.DialContext(ctx, "tcp", s.Addr)
	}
	if err != nil {
		return err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()
	c, err := smtp.NewClient(conn, s.Host)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Hello(Hostname()); err != nil {
		return err
	}
	if s.TLS == TLSOpportunistic || s.TLS == TLSStartTLS {
		ok, _ := c.Extension("STARTTLS")
		switch {
		case ok:
			if err := c.StartTLS(&tls.Config{ServerName: s.Host}); err != nil {
				return fmt.Errorf("STARTTLS: %w", err)
			}
		case s.TLS == TLSStartTLS:
			return errors.New("the server does not offer STARTTLS (the connection says tls=starttls)")
		}
	}
	if s.User != "" {
		if err := c.Auth(smtp.PlainAuth("", s.User, s.Pass, s.Host)); err != nil {
			return fmt.Errorf("authentication: %w", err)
		}
	}
	if err := c.Mail(from); err != nil {
		return fmt.Errorf("sender %s: %w", from, err)
	}
	for _, a := range to {
		if err := c.Rcpt(a); err != nil {
			return fmt.Errorf("recipient %s: %w", a, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(msg); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}

// Hostname is this machine's name for HELO and default sender addresses
// ("localhost" when it has none).
func Hostname() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "localhost"
	}
	return h
}
