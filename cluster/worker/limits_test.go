package worker

import (
	"testing"

	"github.com/scaleout/scaleout/catalog"
	"github.com/scaleout/scaleout/executor"
)

// TestOutputLinesFitAnEvent: the runtime cuts long output lines (with its
// marker) to what the catalog stores whole in one event message, so that
// no line is cut twice with two different notes.
func TestOutputLinesFitAnEvent(t *testing.T) {
	if executor.MaxMessage != catalog.MaxEventMessageBytes {
		t.Fatalf("executor.MaxMessage %d != catalog.MaxEventMessageBytes %d", executor.MaxMessage, catalog.MaxEventMessageBytes)
	}
}
