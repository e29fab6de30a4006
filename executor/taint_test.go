//go:build unix

package executor

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/scaleout/scaleout/catalog/pkgspec"
)

// Values derived from a sensitive parameter by expressions (templates,
// set, variable values and expressions, in both languages) are masked in
// every event and in the result, as the parameter itself is; a value
// derived from a derived value too.
func TestRun_SecretTaintThroughExpressions(t *testing.T) {
	const pw = "Hunter2Pass"
	derived := []string{"HUNTER2PASS", "hunter2pass-x", "ssaP2retnuH", "Hunter2", "HUNTER2PASS!!", "<hunter2pass-x>"}
	for _, tt := range []struct{ name, src string }{
		{"native", `name: p
parameters: {pw: {sensitive: true}}
variables:
  shout: {value: '${upper(param.pw)}'}
  lowx: {}
  rev: {}
  head: {}
  again: {expression: 'vars.shout + "!!"'}
  wrapped: {}
  n: {type: int}
tasks:
  - {name: s, set: {lowx: 'lower(param.pw) + "-x"', rev: 'join(reverse(split(param["pw"], "")), "")', head: 'param.pw[0:7]'}}
  - {name: w, after: [s], set: {wrapped: '"<" + vars.lowx + ">"'}}
  - {name: show, after: [w], exec: {command: [echo, '${vars.shout} ${vars.lowx} ${vars.rev} ${vars.head} ${vars.again} ${vars.wrapped}', '${upper(param.pw)}']}}
  - {name: fail, after: [show], set: {n: 'vars.lowx'}}
`},
		{"ssis", `name: p
expressions: ssis
parameters: {pw: {sensitive: true}}
variables:
  shout: {value: '${UPPER(@[$Package::pw])}'}
  lowx: {}
  rev: {}
  head: {}
  again: {expression: '@shout + "!!"'}
  wrapped: {}
tasks:
  - {name: s, set: {lowx: 'LOWER(@[$Package::pw]) + "-x"', rev: 'REVERSE(@[$Package::pw])', head: 'SUBSTRING(@[$Package::pw], 1, 7)'}}
  - {name: w, after: [s], set: {wrapped: '"<" + @lowx + ">"'}}
  - {name: show, after: [w], exec: {command: [echo, '${@shout + " " + @lowx + " " + @rev + " " + @head + " " + @again + " " + @wrapped}', '${UPPER(@[$Package::pw])}']}}
`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res, rec := runSrc(t, tt.src, map[string]string{"pw": pw}, Options{})
			out := strings.Join(rec.messages(EventStdout, "show"), "\n")
			if !strings.Contains(out, Masked) {
				t.Errorf("the task's output shows no masked value: %q\n%s", out, rec)
			}
			for _, e := range rec.all() {
				for _, s := range append([]string{pw}, derived...) {
					if strings.Contains(e.Message, s) {
						t.Errorf("event shows %q, derived from the sensitive value: %+v", s, e)
					}
				}
			}
			for _, s := range derived {
				if strings.Contains(res.Message, s) {
					t.Errorf("result shows %q: %s", s, res.Message)
				}
			}
		})
	}
}

// Values not derived from a secret are not masked.
func TestRun_SecretTaintLeavesOtherValues(t *testing.T) {
	_, rec := runSrc(t, `name: p
parameters: {pw: {sensitive: true}, who: {default: world}}
variables:
  hello: {value: '${upper(param.who)}'}
tasks:
  - {name: show, exec: {command: [echo, '${vars.hello} ${len(param.pw) > 3}']}}
`, map[string]string{"pw": "Hunter2Pass"}, Options{})
	if got := rec.messages(EventStdout, "show"); len(got) != 1 || got[0] != "WORLD true" {
		t.Errorf("stdout = %q\n%s", got, rec)
	}
}

// A sensitive value on an exec task's command line (where ps shows it)
// gets a warning; handed over through env, as testdata/secret-env.yaml
// (docs/SECURITY.md) does, it gets none and reaches the program.
func TestRun_SecretOnCommandLineWarns(t *testing.T) {
	res, rec := runSrc(t, `name: p
parameters: {pw: {sensitive: true}}
tasks:
  - {name: argv, exec: {command: [echo, '--password=${param.pw}']}}
`, map[string]string{"pw": "Hunter2Pass"}, Options{})
	if res.Status != StatusSucceeded || !rec.has(EventWarning, "argv", "a sensitive value is on this command line") {
		t.Errorf("no warning for a secret in argv: %+v\n%s", res, rec)
	}
	pkg, err := pkgspec.ParseFile("../testdata/secret-env.yaml")
	if err != nil {
		t.Fatal(err)
	}
	rec = &recorder{}
	res = Run(context.Background(), pkg, map[string]string{"db_password": "Hunter2Pass"}, Options{}, rec)
	if res.Status != StatusSucceeded || len(rec.of(EventWarning, "*")) > 0 ||
		!rec.has(EventStdout, "through-env", "the program got a password of 11 bytes") || !rec.has(EventStdout, "through-stdin", "11") || !rec.has(EventStdout, "through-shell", "11") {
		t.Errorf("testdata/secret-env.yaml: %+v\n%s", res, rec)
	}
}

// stdin is written to the program's standard input: whole when it is
// larger than a pipe's buffer, and without blocking the task when the
// program never reads it.
func TestRun_ExecStdin(t *testing.T) {
	res, rec := runSrc(t, `name: p
tasks:
  - {name: big, exec: {command: [wc, -c], stdin: '${repeat("x", 300000)}'}}
  - {name: unread, exec: {command: ["true"], stdin: '${repeat("y", 300000)}'}}
  - {name: none, exec: {command: [wc, -c]}}
`, nil, Options{})
	if res.Status != StatusSucceeded || !rec.has(EventStdout, "big", "300000") || !rec.has(EventStdout, "none", "0") {
		t.Errorf("Run = %+v\n%s", res, rec)
	}
}

// A loop that derives a new value from a secret on every pass would make
// the masking list grow without bound: past MaxDerivedSecrets the run's
// later messages are hidden rather than shown unmasked.
func TestRun_SecretTaintOverflowFailsClosed(t *testing.T) {
	res, rec := runSrc(t, `name: p
parameters: {pw: {sensitive: true}}
variables: {i: {type: int}, last: {}}
tasks:
  - name: loop
    for:
      init: {i: '0'}
      condition: 'vars.i < 1100'
      step: {i: 'vars.i + 1'}
      tasks:
        - {name: derive, set: {last: 'lower(param.pw) + string(vars.i)'}}
  - {name: show, after: [loop], exec: {command: [echo, '${vars.last}']}}
`, map[string]string{"pw": "Hunter2Pass"}, Options{})
	if res.Status != StatusSucceeded {
		t.Fatalf("Run = %+v", res)
	}
	if got := rec.messages(EventStdout, "show"); len(got) != 1 || got[0] != HiddenMessage {
		t.Errorf("stdout after the overflow = %q, want %q", got, HiddenMessage)
	}
	for _, e := range rec.all() {
		if strings.Contains(e.Message, "hunter2pass") {
			t.Fatalf("a derived value in clear: %+v", e)
		}
	}
}

// docs/SECURITY.md shows testdata/secret-env.yaml (less its comment
// header): the example the docs give is the one the tests run.
func TestDocs_SecretEnvExampleIsTestdata(t *testing.T) {
	doc, err := os.ReadFile("../docs/SECURITY.md")
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("../testdata/secret-env.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var body []string
	for _, l := range strings.Split(string(src), "\n") {
		if !strings.HasPrefix(l, "#") {
			body = append(body, l)
		}
	}
	if want := "```yaml\n" + strings.TrimLeft(strings.Join(body, "\n"), "\n") + "```"; !strings.Contains(string(doc), want) {
		t.Errorf("docs/SECURITY.md does not show testdata/secret-env.yaml as it is:\n%s", want)
	}
}
