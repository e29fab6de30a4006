package executor

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/mail"
	"net/smtp"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/scaleout/scaleout/catalog/pkgspec"
)

// Bounds of a mail task: the body, each attachment and the whole message,
// the recipients, and the SMTP conversation when the task sets no timeout.
const (
	maxMailBody        = 1 << 20
	maxMailAttachment  = 10 << 20
	maxMailMessage     = 25 << 20
	maxMailRecipients  = 100
	defaultMailTimeout = time.Minute
)

// smtpServer is a parsed smtp connection DSN.
type smtpServer struct {
	addr, host string
	user, pass string
	tls        string // none, starttls, tls; "" is opportunistic STARTTLS
}

// Values of the tls option of an smtp DSN.
var smtpTLSModes = []string{"", "none", "starttls", "tls"}

// parseSMTP reads smtp://[user[:password]@]host[:port][?tls=MODE].
func parseSMTP(dsn string) (smtpServer, error) {
	u, err := url.Parse(dsn)
	if err != nil || u.Scheme != "smtp" || u.Host == "" {
		return smtpServer{}, errors.New("want smtp://[user[:password]@]host[:port][?tls=none|starttls|tls]")
	}
	s := smtpServer{host: u.Hostname(), tls: u.Query().Get("tls")}
	port := u.Port()
	if port == "" {
		port = "25"
		if s.tls == "tls" {
			port = "465"
		}
	}
	s.addr = net.JoinHostPort(s.host, port)
	if u.User != nil {
		s.user = u.User.Username()
		s.pass, _ = u.User.Password()
	}
	for k := range u.Query() {
		if k != "tls" {
			return smtpServer{}, fmt.Errorf("unknown option %q (want tls)", k)
		}
	}
	if !slices.Contains(smtpTLSModes, s.tls) {
		return smtpServer{}, fmt.Errorf("tls=%q: want none, starttls or tls", s.tls)
	}
	return s, nil
}

// addresses splits a list of addresses separated by ";" or "," and checks
// each one.
func addresses(field, list string) ([]string, error) {
	var out []string
	for _, a := range strings.FieldsFunc(list, func(r rune) bool { return r == ';' || r == ',' }) {
		a = strings.TrimSpace(a)
		if a == "" {
			continue
		}
		m, err := mail.ParseAddress(a)
		if err != nil {
			return nil, fmt.Errorf("mail %s: %q is not a mail address: %v", field, a, err)
		}
		out = append(out, m.Address)
	}
	return out, nil
}

// mailTask sends one mail. Its result is the number of recipients.
func (tc *taskCtx) mailTask(ctx context.Context) taskOut {
	m := tc.task.Mail
	conn, err := tc.connection(m.Connection)
	if err != nil {
		return failed("mail: %v", err)
	}
	if conn.Driver != pkgspec.DriverSMTP {
		return failed("mail: connection %q is a %s connection, not smtp", m.Connection, conn.Driver)
	}
	srv, err := parseSMTP(conn.DSN)
	if err != nil {
		return failed("mail: connection %q: %v", m.Connection, err)
	}
	if srv.pass != "" {
		tc.pr.r.addSecret(srv.pass)
	}
	text := map[string]string{}
	for _, f := range []struct{ name, tpl string }{{"from", m.From}, {"to", m.To}, {"cc", m.CC}, {"bcc", m.BCC}, {"subject", m.Subject}, {"body", m.Body}} {
		if text[f.name], err = tc.expand("mail "+f.name, f.tpl); err != nil {
			return failed("%v", err)
		}
	}
	from, err := addresses("from", text["from"])
	if err != nil {
		return failed("%v", err)
	}
	if len(from) != 1 {
		return failed("mail from: want one address, got %q", text["from"])
	}
	var rcpt []string
	heads := map[string][]string{}
	for _, f := range []string{"to", "cc", "bcc"} {
		as, err := addresses(f, text[f])
		if err != nil {
			return failed("%v", err)
		}
		heads[f] = as
		rcpt = append(rcpt, as...)
	}
	if len(rcpt) == 0 {
		return failed("mail: no recipient (to, cc and bcc are empty)")
	}
	if len(rcpt) > maxMailRecipients {
		return failed("mail: %d recipients; at most %d", len(rcpt), maxMailRecipients)
	}
	body := text["body"]
	if m.BodyFile != "" {
		p, err := tc.path("mail body_file", m.BodyFile)
		if err != nil {
			return failed("%v", err)
		}
		b, err := readBounded(p, maxMailBody)
		if err != nil {
			return failed("mail body_file: %v", err)
		}
		body = string(b)
	}
	if len(body) > maxMailBody {
		return failed("mail body: %d bytes; at most %d", len(body), maxMailBody)
	}
	var atts []attachment
	for i, a := range m.Attachments {
		p, err := tc.path(fmt.Sprintf("mail attachments[%d]", i), a)
		if err != nil {
			return failed("%v", err)
		}
		b, err := readBounded(p, maxMailAttachment)
		if err != nil {
			return failed("mail attachment: %v", err)
		}
		atts = append(atts, attachment{name: filepath.Base(p), data: b})
	}
	msg, err := mailBody(from[0], heads["to"], heads["cc"], text["subject"], body, m.Priority, atts, time.Now())
	if err != nil {
		return failed("mail: %v", err)
	}
	timeout := m.Timeout
	if timeout <= 0 {
		timeout = defaultMailTimeout
	}
	sctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	tc.pr.r.emit(EventInformation, tc.name(), fmt.Sprintf("mail to %d recipients through %s", len(rcpt), srv.addr))
	if err := sendSMTP(sctx, srv, from[0], rcpt, msg); err != nil {
		if sctx.Err() != nil && ctx.Err() == nil {
			return failed("mail: no answer from %s within %s", srv.addr, timeout)
		}
		return failed("mail through %s: %v", srv.addr, err)
	}
	return taskOut{state: stateSucceeded, result: len(rcpt), info: map[string]any{"recipients": len(rcpt), "bytes": len(msg)},
		summary: fmt.Sprintf("mailed %d recipients in %s", len(rcpt), roundDuration(time.Since(start)))}
}

// readBounded reads the file p, refusing one over max bytes.
func readBounded(p string, max int64) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s is over %d bytes", p, max)
	}
	return b, nil
}

type attachment struct {
	name string
	data []byte
}

// mailBody is an RFC 5322 message: a text/plain body, or a
// multipart/mixed one when there are attachments. Bcc is not a header.
func mailBody(from string, to, cc []string, subject, body, priority string, atts []attachment, now time.Time) ([]byte, error) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: %s\r\n", from)
	if len(to) > 0 {
		fmt.Fprintf(&b, "To: %s\r\n", strings.Join(to, ", "))
	}
	if len(cc) > 0 {
		fmt.Fprintf(&b, "Cc: %s\r\n", strings.Join(cc, ", "))
	}
	fmt.Fprintf(&b, "Subject: %s\r\n", mime.QEncoding.Encode("utf-8", strings.NewReplacer("\r", " ", "\n", " ").Replace(subject)))
	fmt.Fprintf(&b, "Date: %s\r\n", now.Format(time.RFC1123Z))
	switch priority {
	case pkgspec.PriorityHigh:
		b.WriteString("X-Priority: 1\r\nImportance: high\r\n")
	case pkgspec.PriorityLow:
		b.WriteString("X-Priority: 5\r\nImportance: low\r\n")
	}
	b.WriteString("MIME-Version: 1.0\r\nUser-Agent: scaleout\r\n")
	text := strings.ReplaceAll(strings.ReplaceAll(body, "\r\n", "\n"), "\n", "\r\n")
	if len(atts) == 0 {
		b.WriteString("Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n")
		b.WriteString(text)
		b.WriteString("\r\n")
		return b.Bytes(), nil
	}
	var rnd [12]byte
	_, _ = rand.Read(rnd[:])
	boundary := "scaleout-" + base64.RawURLEncoding.EncodeToString(rnd[:])
	fmt.Fprintf(&b, "Content-Type: multipart/mixed; boundary=%q\r\n\r\n", boundary)
	fmt.Fprintf(&b, "--%s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n%s\r\n", boundary, text)
	for _, a := range atts {
		ctype := mime.TypeByExtension(filepath.Ext(a.name))
		if ctype == "" {
			ctype = "application/octet-stream"
		}
		fmt.Fprintf(&b, "--%s\r\nContent-Type: %s\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=%q\r\n\r\n",
			boundary, ctype, mime.QEncoding.Encode("utf-8", a.name))
		enc := base64.StdEncoding.EncodeToString(a.data)
		for len(enc) > 76 {
			b.WriteString(enc[:76] + "\r\n")
			enc = enc[76:]
		}
		b.WriteString(enc + "\r\n")
		if b.Len() > maxMailMessage {
			return nil, fmt.Errorf("the message is over %d bytes", maxMailMessage)
		}
	}
	fmt.Fprintf(&b, "--%s--\r\n", boundary)
	return b.Bytes(), nil
}

// sendSMTP delivers msg under ctx's deadline: implicit TLS (tls=tls),
// STARTTLS required (starttls) or used when offered (""), or none; PLAIN
// authentication when the DSN has a user (net/smtp refuses it without
// TLS except to localhost).
func sendSMTP(ctx context.Context, s smtpServer, from string, to []string, msg []byte) error {
	var d net.Dialer
	var conn net.Conn
	var err error
	if s.tls == "tls" {
		conn, err = (&tls.Dialer{NetDialer: &d, Config: &tls.Config{ServerName: s.host}}).DialContext(ctx, "tcp", s.addr)
	} else {
		conn, err = d.DialContext(ctx, "tcp", s.addr)
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
	c, err := smtp.NewClient(conn, s.host)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Hello(mailHostname()); err != nil {
		return err
	}
	if s.tls == "" || s.tls == "starttls" {
		ok, _ := c.Extension("STARTTLS")
		switch {
		case ok:
			if err := c.StartTLS(&tls.Config{ServerName: s.host}); err != nil {
				return fmt.Errorf("STARTTLS: %w", err)
			}
		case s.tls == "starttls":
			return errors.New("the server does not offer STARTTLS (the connection says tls=starttls)")
		}
	}
	if s.user != "" {
		if err := c.Auth(smtp.PlainAuth("", s.user, s.pass, s.host)); err != nil {
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

func mailHostname() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "localhost"
	}
	return h
}
