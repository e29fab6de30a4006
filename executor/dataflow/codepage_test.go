package dataflow

import (
	"context"
	"strings"
	"testing"

	"github.com/scaleout/scaleout/catalog/pkgspec"
	"golang.org/x/text/encoding/charmap"
)

// A DT_STR column's length counts bytes of its code page: "Müller" is six
// bytes in 1252 and seven in UTF-8; a character the code page lacks does
// not convert.
func TestFromText_CodePages(t *testing.T) {
	for _, tc := range []struct {
		typ, in string
		code    int
	}{
		{"DT_STR(6,1252)", "Müller", 0},
		{"DT_STR(6)", "Müller", CodeTruncation},
		{"DT_STR(6,65001)", "Müller", CodeTruncation},
		{"DT_STR(5,1252)", "Müller", CodeTruncation},
		{"DT_STR(4,1252)", "€uro", 0}, // 0x80 in 1252
		{"DT_STR(4,28591)", "€uro", CodeConversion},
		{"DT_STR(10,1252)", "Ωmega", CodeConversion},
		{"DT_STR(10,20127)", "café", CodeConversion},
		{"DT_STR(0,1251)", "Привет", 0},
		{"DT_WSTR(6)", "Müller", 0},
	} {
		typ, err := pkgspec.ParseDataType(tc.typ)
		if err != nil {
			t.Fatal(err)
		}
		if _, code := fromText(tc.in, typ); code != tc.code {
			t.Errorf("fromText(%q, %s) code %d, want %d", tc.in, tc.typ, code, tc.code)
		}
	}
	if _, err := pkgspec.ParseDataType("DT_STR(10,932)"); err == nil || !strings.Contains(err.Error(), "code page 932 is not supported") {
		t.Errorf("DT_STR(10,932): %v", err)
	}
	typ, _ := pkgspec.ParseDataType("DT_STR(10,1252)")
	if got := codeText(CodeConversion, "Ωmega", typ); !strings.Contains(got, "code page 1252 has no such character") {
		t.Errorf("codeText = %q", got)
	}
}

// A Windows-1252 file whose DT_STR(6,1252) values are six characters
// (seven or more UTF-8 bytes) is read and written back byte for byte.
func TestRun_Latin1RoundTrip(t *testing.T) {
	dir := t.TempDir()
	in, err := charmap.Windows1252.NewEncoder().String("id,name\r\n1,Müller\r\n2,Señora\r\n3,€uro\r\n")
	if err != nil {
		t.Fatal(err)
	}
	write(t, dir, "names.txt", in)
	df := flow(t, `        - name: src
          flat_file_source:
            path: names.txt
            encoding: windows-1252
            columns:
              - {name: id, type: DT_I4}
              - {name: name, type: 'DT_STR(6,1252)'}
        - name: out
          flat_file_destination: {input: src, path: out.txt, encoding: windows-1252, crlf: true}
`)
	if _, err := Run(context.Background(), df, testEnv(t, dir)); err != nil {
		t.Fatal(err)
	}
	if got := read(t, dir, "out.txt"); got != in {
		t.Errorf("out.txt = %q, want %q", got, in)
	}
}
