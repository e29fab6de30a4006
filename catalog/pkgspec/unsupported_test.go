package pkgspec

import (
	"strings"
	"testing"
)

func TestParse_Unsupported(t *testing.T) {
	pkg, err := Parse("u.yaml", []byte(`name: u
tasks:
  - name: a
    unsupported: {element: '\Package\A', type: Microsoft.SendMailTask, reason: no SMTP}
  - name: s
    sequence:
      tasks:
        - {name: b, unsupported: {element: '\Package\S\B'}}
`))
	if err != nil {
		t.Fatal(err)
	}
	u := pkg.Unsupported()
	if len(u) != 2 || u[0].Name != "a" || u[1].Name != "b" {
		t.Fatalf("Unsupported() = %v", u)
	}
	if got := u[0].Unsupported.Message(); got != `\Package\A (Microsoft.SendMailTask): no SMTP` {
		t.Errorf("Message() = %q", got)
	}
	if u[0].Kind() != KindUnsupported {
		t.Errorf("Kind() = %q", u[0].Kind())
	}
	_, err = Parse("u.yaml", []byte("name: u\ntasks:\n  - name: a\n    unsupported: {type: X, colour: red}\n"))
	if err == nil || !strings.Contains(err.Error(), `unknown field "colour"`) || !strings.Contains(err.Error(), "has no element") {
		t.Errorf("want unknown field and missing element errors, got %v", err)
	}
}
