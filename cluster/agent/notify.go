package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/scaleout/scaleout/executor/smtpsend"
)

// SMTPConfig is the mail server notifications are sent through (SQL
// Server's Database Mail profile): the leader sends, so every server
// should have the same.
type SMTPConfig struct {
	// Addr is host:port of the SMTP server; empty: no mail is sent (a
	// notification with e-mail addresses records the failure).
	Addr string `yaml:"smtp_addr"`
	// From is the sender address (default scaleout@<host name>).
	From string `yaml:"smtp_from"`
	// Username and Password authenticate with PLAIN, which net/smtp
	// allows only over TLS (STARTTLS is used whenever the server offers
	// it) or to localhost.
	Username string `yaml:"smtp_username"`
	Password string `yaml:"smtp_password"`
}

// notifier delivers notifications (master.Notifier): a POST of the JSON
// body to a webhook, any 2xx answer being a delivery, and mails through
// the SMTP server.
type notifier struct {
	client *http.Client
	smtp   SMTPConfig
}

func (n notifier) Deliver(ctx context.Context, webhook string, headers map[string]string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, webhook, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "scaleout-notify")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := n.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("webhook answered %s", resp.Status)
	}
	return nil
}

// Mail sends one mail to every address: the subject, and the JSON body as
// a text/plain part.
func (n notifier) Mail(ctx context.Context, to []string, subject string, body []byte) error {
	if n.smtp.Addr == "" {
		return errors.New("no SMTP server configured (agent --smtp-addr)")
	}
	host, _, err := net.SplitHostPort(n.smtp.Addr)
	if err != nil {
		return fmt.Errorf("smtp address %q: %w", n.smtp.Addr, err)
	}
	from := n.smtp.From
	if from == "" {
		from = "scaleout@" + smtpsend.Hostname()
	}
	srv := smtpsend.Server{Addr: n.smtp.Addr, Host: host, User: n.smtp.Username, Pass: n.smtp.Password, TLS: smtpsend.TLSOpportunistic}
	return smtpsend.Send(ctx, srv, from, to, mailMessage(from, to, subject, body, time.Now()))
}

// mailMessage is an RFC 5322 message: headers, then the body with CRLF
// line ends.
func mailMessage(from string, to []string, subject string, body []byte, now time.Time) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: %s\r\n", from)
	fmt.Fprintf(&b, "To: %s\r\n", strings.Join(to, ", "))
	fmt.Fprintf(&b, "Subject: %s\r\n", mime.QEncoding.Encode("utf-8", subject))
	fmt.Fprintf(&b, "Date: %s\r\n", now.Format(time.RFC1123Z))
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\nUser-Agent: scaleout-notify\r\n\r\n")
	text := strings.ReplaceAll(strings.ReplaceAll(string(body), "\r\n", "\n"), "\n", "\r\n")
	b.WriteString(text)
	b.WriteString("\r\n")
	return b.Bytes()
}
