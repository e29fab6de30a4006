package executor

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/scaleout/scaleout/catalog/pkgspec"
	"github.com/scaleout/scaleout/executor/smtpsend"
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

// Values of the tls option of an smtp DSN.
var smtpTLSModes = []string{smtpsend.TLSOpportunistic, smtpsend.TLSNone, smtpsend.TLSStartTLS, smtpsend.TLSImplicit}

// parseSMTP reads smtp://[user[:password]@]host[:port][?tls=MODE].
func parseSMTP(dsn string) (smtpsend.Server, error) {
	u, err := url.Parse(dsn)
	if err != nil || u.Scheme != "smtp" || u.Host == "" {
		return smtpsend.Server{}, errors.New("want smtp://[user[:password]@]host[:port][?tls=none|starttls|tls]")
	}
	s := smtpsend.Server{Host: u.Hostname(), TLS: u.Query().Get("tls")}
	port := u.Port()
	if port == "" {
		port = "25"
		if s.TLS == smtpsend.TLSImplicit {
			port = "465"
		}
	}
	s.Addr = net.JoinHostPort(s.Host, port)
	if u.User != nil {
		s.User = u.User.Username()
		s.Pass, _ = u.User.Password()
	}
	for k := range u.Query() {
		if k != "tls" {
			return smtpsend.Server{}, fmt.Errorf("unknown option %q (want tls)", k)
		}
	}
	if !slices.Contains(smtpTLSModes, s.TLS) {
		return smtpsend.Server{}, fmt.Errorf("tls=%q: want none, starttls or tls", s.TLS)
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
	if srv.Pass != "" {
		tc.pr.r.addSecret(srv.Pass)
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
	tc.pr.r.emit(EventInformation, tc.name(), fmt.Sprintf("mail to %d recipients through %s", len(rcpt), srv.Addr))
	if err := smtpsend.Send(sctx, srv, from[0], rcpt, msg); err != nil {
		if sctx.Err() != nil && ctx.Err() == nil {
			return failed("mail: no answer from %s within %s", srv.Addr, timeout)
		}
		return failed("mail through %s: %v", srv.Addr, err)
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
