package master

import (
	"errors"
	"fmt"
	"testing"

	"github.com/scaleout/scaleout/catalog"
)

// TestErrors_KindsKeepMessages: the master's request errors are
// catalog.ErrInvalid (the API answers 400) with the message unchanged.
func TestErrors_KindsKeepMessages(t *testing.T) {
	err := invalidf("archive size must be positive")
	if err.Error() != "archive size must be positive" || !errors.Is(err, catalog.ErrInvalid) {
		t.Fatalf("invalidf: %q", err)
	}
	wrapped := fmt.Errorf("%w: x takes variable %q", ErrSensitiveBinding, "v")
	if !errors.Is(wrapped, ErrSensitiveBinding) || !errors.Is(wrapped, catalog.ErrInvalid) {
		t.Fatalf("%v is not both ErrSensitiveBinding and catalog.ErrInvalid", wrapped)
	}
	if wrapped.Error() != `sensitive variable bound to a non-sensitive parameter: x takes variable "v"` {
		t.Fatalf("message changed: %q", wrapped)
	}
}
