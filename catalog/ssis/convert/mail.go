package convert

import (
	"fmt"
	"strings"

	"github.com/scaleout/scaleout/catalog/ssis"
)

// sendMail converts a Send Mail task into a mail task. Its SMTP connection
// manager is an smtp connection (see smtpDSN); the message comes from
// direct input, a variable or a file connection (MessageSourceType), and
// property expressions on its lines, subject, message and attachments
// become templates.
func (pc *pkgConv) sendMail(e *ssis.Executable) (omap, string, error) {
	d, err := data(e, "SendMailTaskData")
	if err != nil {
		return nil, "", err
	}
	ref := attr(d, "SMTPServer")
	if ref == "" {
		return nil, "", fmt.Errorf("the task names no SMTP connection manager (SMTPServer)")
	}
	ci, err := pc.conn(ref)
	if err != nil {
		return nil, "", err
	}
	if ci.native == "" {
		if ci.err != "" {
			return nil, "", fmt.Errorf("connection manager %s: %s", ci.cm.Name, ci.err)
		}
		return nil, "", fmt.Errorf("connection manager %s (%s) is not an SMTP connection", ci.cm.Name, ci.cm.CreationName)
	}
	if !strings.EqualFold(ci.cm.CreationName, "SMTP") && !strings.HasPrefix(pc.c.opts.Connections[ci.cm.Name], "smtp://") {
		return nil, "", fmt.Errorf("connection manager %s is a %s, not an SMTP connection", ci.cm.Name, ci.cm.CreationName)
	}
	body := omap{{"connection", ci.native}}
	// text is a literal of the package, or the template of the property
	// expression that replaces it.
	text := func(prop, val string) string {
		if x, ok := pc.propExpr(e, prop, false); ok {
			return x
		}
		return strings.ReplaceAll(val, "${", "$${")
	}
	for _, f := range []struct{ key, prop, attr string }{
		{"from", "FromLine", "From"}, {"to", "ToLine", "To"}, {"cc", "CCLine", "CC"}, {"bcc", "BCCLine", "BCC"}, {"subject", "Subject", "Subject"},
	} {
		if v := text(f.prop, attr(d, f.attr)); v != "" {
			body.set(f.key, v)
		}
	}
	src := attr(d, "MessageSource")
	switch typ := attr(d, "MessageSourceType"); typ {
	case "", "DirectInput":
		if v := text("MessageSource", src); v != "" {
			body.set("body", v)
		}
	case "Variable":
		if _, ok := e.Expressions["MessageSource"]; ok {
			body.set("body", text("MessageSource", ""))
			break
		}
		v, err := pc.tpl(src)
		if err != nil {
			return nil, "", fmt.Errorf("MessageSource: %w", err)
		}
		body.set("body", v)
	case "FileConnection":
		p, err := pc.filePath(src, "False")
		if err != nil {
			return nil, "", fmt.Errorf("MessageSource: %w", err)
		}
		body.set("body_file", p)
	default:
		return nil, "", fmt.Errorf("MessageSourceType %q is not one of DirectInput, Variable, FileConnection", typ)
	}
	switch pr := attr(d, "Priority"); pr {
	case "", "Normal":
	case "High", "Low":
		body.set("priority", strings.ToLower(pr))
	default:
		return nil, "", fmt.Errorf("Priority %q is not one of High, Normal, Low", pr)
	}
	var atts []any
	for _, a := range strings.Split(attr(d, "FileAttachments"), "|") {
		if a = strings.TrimSpace(a); a != "" {
			atts = append(atts, pc.filePathOf(a, false))
		}
	}
	if len(atts) > 0 {
		body.set("attachments", atts)
	}
	if text("FromLine", attr(d, "From")) == "" {
		return nil, "", fmt.Errorf("the task has no From")
	}
	return omap{{"mail", body}}, "mail through " + ci.native, nil
}
