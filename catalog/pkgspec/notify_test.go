package pkgspec

import (
	"errors"
	"strings"
	"testing"
)

func TestParse_Notify(t *testing.T) {
	src := "name: a\nnotify:\n  webhook: https://hooks.example/x\n  on: [failure, success]\n  headers: {Authorization: Bearer t}\n" + okTasks
	pkg, err := Parse("p.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	n := pkg.Notify
	if n == nil || n.Webhook != "https://hooks.example/x" || strings.Join(n.On, ",") != "failure,success" || n.Headers["Authorization"] != "Bearer t" {
		t.Fatalf("notify %+v", n)
	}
	// on defaults to failure; a single string is a list of one.
	pkg, err = Parse("p.yaml", []byte("name: a\nnotify: {webhook: 'http://h/x'}\n"+okTasks))
	if err != nil || strings.Join(pkg.Notify.On, ",") != "failure" {
		t.Fatalf("default on: %+v %v", pkg, err)
	}
	pkg, err = Parse("p.yaml", []byte("name: a\nnotify: {webhook: 'http://h/x', on: completion}\n"+okTasks))
	if err != nil || strings.Join(pkg.Notify.On, ",") != "completion" {
		t.Fatalf("on as a string: %+v %v", pkg, err)
	}
	// E-mail alone, or with a webhook.
	pkg, err = Parse("p.yaml", []byte("name: a\nnotify: {email: [ops@example.com, dba@example.com]}\n"+okTasks))
	if err != nil || strings.Join(pkg.Notify.Email, ",") != "ops@example.com,dba@example.com" || pkg.Notify.Webhook != "" {
		t.Fatalf("email: %+v %v", pkg, err)
	}
}

func TestParse_NotifyProblems(t *testing.T) {
	for _, tc := range []struct{ notify, want string }{
		{"notify: {on: [failure]}", "notify needs a webhook URL or e-mail addresses"},
		{"notify: {email: 'Ops <ops@example.com>'}", `notify e-mail "Ops <ops@example.com>": want an address`},
		{"notify: {email: [not-an-address]}", `notify e-mail "not-an-address"`},
		{"notify: {email: [a@b.c], headers: {X: y}}", "notify headers go with a webhook"},
		{"notify: {webhook: 'ftp://h/x'}", "want an http:// or https:// URL"},
		{"notify: {webhook: 'https://u:pw@'}", "want an http:// or https:// URL"},
		{"notify: {webhook: 'http://h/x', on: [sometimes]}", `notify on "sometimes": want failure, success or completion`},
		{"notify: {webhook: 'http://h/x', headers: {'Bad Name': v}}", `notify header name "Bad Name" is not an HTTP header name`},
		{"notify: {webhook: 'http://h/x', headers: [a]}", "notify headers must be a mapping"},
		{"notify: {webhook: 'http://h/x', smtp: mail.example.com}", `unknown field "smtp" in package notify`},
		{"notify: [x]", "package notify must be a mapping"},
		{"notify: {webhook: 'http://h/" + strings.Repeat("x", MaxWebhookBytes) + "'}", "bytes (at most 2048)"},
	} {
		_, err := Parse("p.yaml", []byte("name: a\n"+tc.notify+"\n"+okTasks))
		var ve *ValidationError
		if !errors.As(err, &ve) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%.60s: got %v, want %q", tc.notify, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), ":pw@") {
			t.Errorf("%s: the password is in the error: %v", tc.notify, err)
		}
	}
}

func TestNotify_Wants(t *testing.T) {
	for _, tc := range []struct {
		on                string
		succeeded, failed bool
		want              bool
	}{
		{"failure", false, true, true},
		{"failure", true, false, false},
		{"failure", false, false, false}, // canceled
		{"success", true, false, true},
		{"success", false, true, false},
		{"completion", false, false, true},
		{"failure,success", true, false, true},
	} {
		n := &Notify{On: strings.Split(tc.on, ","), Webhook: "http://h"}
		if got := n.Wants(tc.succeeded, tc.failed); got != tc.want {
			t.Errorf("on %s succeeded=%t failed=%t: %t", tc.on, tc.succeeded, tc.failed, got)
		}
	}
	if (*Notify)(nil).Wants(false, true) {
		t.Error("a nil notify wants something")
	}
}
