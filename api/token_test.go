package api

import (
	"net/http/httptest"
	"testing"
)

func TestRequestToken(t *testing.T) {
	for _, c := range []struct{ header, auth, want string }{
		{" tok ", "Bearer other", "tok"},
		{"", "Bearer  b1 ", "b1"},
		{"", "bearer b2", "b2"},
		{"", "Basic dXNlcg==", ""},
		{"", "Bearer", ""},
		{"", "", ""},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		if c.header != "" {
			r.Header.Set(TokenHeader, c.header)
		}
		if c.auth != "" {
			r.Header.Set("Authorization", c.auth)
		}
		if got := RequestToken(r); got != c.want {
			t.Errorf("header %q, authorization %q: got %q, want %q", c.header, c.auth, got, c.want)
		}
	}
}
