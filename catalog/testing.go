package catalog

import (
	"path/filepath"
	"testing"
)

// TestStore returns a store in t.TempDir(), closed when the test ends.
func TestStore(t testing.TB) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "catalog.db"), Options{NoSync: true})
	if err != nil {
		t.Fatalf("open test store: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}
