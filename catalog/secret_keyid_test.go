package catalog

import "testing"

func TestCipher_KeyID(t *testing.T) {
	k1, _ := ParseKey(GenerateKey())
	k2, _ := ParseKey(GenerateKey())
	a, _ := NewCipher(k1)
	b, _ := NewCipher(k1)
	c, _ := NewCipher(k2)
	if a.KeyID() == "" || a.KeyID() != b.KeyID() || a.KeyID() == c.KeyID() {
		t.Fatalf("key ids: same key %q %q, other key %q", a.KeyID(), b.KeyID(), c.KeyID())
	}
}
