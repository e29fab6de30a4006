package service

import (
	"errors"
	"fmt"
	"testing"
)

func TestClassify(t *testing.T) {
	kind := errors.New("invalid")
	cause := errors.New("cause")
	err := Classify(kind, fmt.Errorf("retries must not be negative: %w", cause))
	if err.Error() != "retries must not be negative: cause" {
		t.Fatalf("message changed: %q", err)
	}
	if !errors.Is(err, kind) || !errors.Is(err, cause) {
		t.Fatalf("%v does not match both its kind and its cause", err)
	}
	if wrapped := fmt.Errorf("execution 3: %w", err); !errors.Is(wrapped, kind) {
		t.Fatal("kind lost when wrapped again")
	}
	if Classify(kind, nil) != nil {
		t.Fatal("Classify(kind, nil) is not nil")
	}
}
