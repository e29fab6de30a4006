package pkgspec

import (
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"slices"

	"go.yaml.in/yaml/v3"
)

// Notify says whom to tell when something ends: a package's execution (the
// package file's notify key) or a schedule's run (its --notify-* flags). It
// is the one definition of a notification: the parser makes it, the catalog
// freezes it into an execution's spec and a schedule, and the leader
// delivers it.
type Notify struct {
	// On: "failure", "success" and/or "completion".
	On []string `json:"on"`
	// Webhook is POSTed the JSON body; Email lists addresses the agents'
	// SMTP server mails it to. At least one of the two.
	Webhook string   `json:"webhook,omitempty"`
	Email   []string `json:"email,omitempty"`
	// Headers are sent with every delivery; the catalog seals their values.
	Headers map[string]string `json:"headers,omitempty"`
}

// NotifyOn are the outcomes a notification may be sent on.
var NotifyOn = []string{"failure", "success", "completion"}

// Limits of a notification.
const (
	MaxWebhookBytes = 2048
	MaxNotifyHeader = 64
	MaxNotifyEmail  = 32
)

// Wants reports whether an outcome is notified: completion wants every
// end, failure the failed ones, success the succeeded ones (an end that is
// neither, such as a cancel, is notified on completion only).
func (n *Notify) Wants(succeeded, failed bool) bool {
	if n == nil {
		return false
	}
	for _, o := range n.On {
		if o == "completion" || (o == "failure" && failed) || (o == "success" && succeeded) {
			return true
		}
	}
	return false
}

// Check reports the first rule n breaks: a webhook or e-mail addresses (at
// most MaxNotifyEmail, each as net/mail parses it, without a name), an
// http(s) webhook URL of at most MaxWebhookBytes, at least one known
// outcome, at most MaxNotifyHeader
// headers with names of 1 to 512 bytes. Header values are not checked here
// (the catalog seals them); a package file's header names must also be HTTP
// tokens (the parser checks that).
func (n *Notify) Check() error {
	if n.Webhook == "" && len(n.Email) == 0 {
		return errors.New("notify needs a webhook URL or e-mail addresses")
	}
	if len(n.Webhook) > MaxWebhookBytes {
		return fmt.Errorf("notify webhook is %d bytes (at most %d)", len(n.Webhook), MaxWebhookBytes)
	}
	if n.Webhook != "" {
		if u, err := url.Parse(n.Webhook); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("notify webhook %q: want an http:// or https:// URL", maskURLPassword(n.Webhook))
		}
	} else if len(n.Headers) > 0 {
		return errors.New("notify headers go with a webhook")
	}
	if len(n.Email) > MaxNotifyEmail {
		return fmt.Errorf("notify has %d e-mail addresses (at most %d)", len(n.Email), MaxNotifyEmail)
	}
	for _, a := range n.Email {
		if addr, err := mail.ParseAddress(a); err != nil || addr.Address != a || len(a) > 320 {
			return fmt.Errorf("notify e-mail %q: want an address such as ops@example.com", a)
		}
	}
	if len(n.On) == 0 {
		return errors.New("notify on: give at least one of failure, success, completion")
	}
	for _, o := range n.On {
		if !slices.Contains(NotifyOn, o) {
			return fmt.Errorf("notify on %q: want failure, success or completion", o)
		}
	}
	if len(n.Headers) > MaxNotifyHeader {
		return fmt.Errorf("notify has %d headers (at most %d)", len(n.Headers), MaxNotifyHeader)
	}
	for k := range n.Headers {
		if k == "" || len(k) > 512 {
			return fmt.Errorf("notify header name of %d bytes (want 1 to 512)", len(k))
		}
	}
	return nil
}

// httpToken reports whether s is a non-empty RFC 9110 token of at most
// 256 bytes (a header name).
func httpToken(s string) bool {
	if s == "" || len(s) > 256 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c < 0x80 && c > ' ' && c != 0x7f && !isSeparator(c):
		default:
			return false
		}
	}
	return true
}

func isSeparator(c byte) bool {
	switch c {
	case '(', ')', '<', '>', '@', ',', ';', ':', '\\', '"', '/', '[', ']', '?', '=', '{', '}':
		return true
	}
	return false
}

// maskURLPassword hides a URL's password in messages.
func maskURLPassword(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "******")
	}
	return u.String()
}

// notify decodes a package's notify key: webhook, email (a string or a
// list), on (a string or a list; default failure) and headers.
func (p *parser) notify(n *yaml.Node) *Notify {
	if !p.holds(n, yaml.MappingNode, "package notify must be a mapping with webhook or email, on and headers") {
		return nil
	}
	out := &Notify{}
	p.fields(n, "package notify", []string{"webhook", "email", "on", "headers"}, func(k, v *yaml.Node) {
		switch k.Value {
		case "webhook":
			out.Webhook = p.str(v, "notify webhook")
		case "email":
			out.Email = p.strList(v, "notify email")
		case "on":
			out.On = p.strList(v, "notify on")
		case "headers":
			out.Headers = map[string]string{}
			if !p.holds(v, yaml.MappingNode, "notify headers must be a mapping from header name to value") {
				return
			}
			for hk, hv := range pairs(v) {
				name := p.str(hk, "notify header name")
				if _, dup := out.Headers[name]; dup {
					p.addf(hk.Line, "notify sets header %q twice", name)
				}
				if !httpToken(name) {
					p.addf(hk.Line, "notify header name %q is not an HTTP header name", name)
				}
				out.Headers[name] = p.str(hv, "notify header "+name)
			}
		}
	})
	if len(out.On) == 0 {
		out.On = []string{"failure"}
	}
	if err := out.Check(); err != nil {
		p.addf(n.Line, "%v", err)
	}
	return out
}
