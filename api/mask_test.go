package api

import (
	"strings"
	"testing"
)

func TestMaskURL(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"https://hooks.example/x?a=1", "https://hooks.example/x?a=1"},
		{"https://bob:s3cret@hooks.example/x", "https://bob:" + "%2A%2A%2A%2A%2A%2A" + "@hooks.example/x"},
		{"https://bob@hooks.example/x", "https://bob@hooks.example/x"},
		{"://not a url", "://not a url"},
		{"", ""},
	} {
		got := MaskURL(c.in)
		if got != c.want {
			t.Errorf("MaskURL(%q) = %q, want %q", c.in, got, c.want)
		}
		if c.in != c.want && (got == c.in || strings.Contains(got, "s3cret")) {
			t.Errorf("MaskURL(%q) = %q still shows the password", c.in, got)
		}
	}
}
