package executor

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/scaleout/scaleout/catalog/pkgspec"
)

// A package holding an unsupported task anywhere refuses to start: no task
// runs, not even those before it, and the message names the element.
func TestRun_UnsupportedRefusesToStart(t *testing.T) {
	dir := t.TempDir()
	marker := filepath.Join(dir, "ran")
	pkg, err := pkgspec.Parse("u.yaml", []byte(`name: u
tasks:
  - name: first
    exec: {command: [touch, '`+marker+`']}
  - name: group
    after: [first]
    sequence:
      tasks:
        - name: script
          unsupported: {element: '\Package\Group\Script Task', type: Microsoft.ScriptTask, reason: needs .NET}
`))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var events []Event
	res := Run(context.Background(), pkg, nil, Options{WorkDir: dir}, SinkFunc(func(e Event) { mu.Lock(); events = append(events, e); mu.Unlock() }))
	if res.Status != StatusFailed {
		t.Fatalf("status %s, want failed", res.Status)
	}
	for _, want := range []string{`task "script" stands for \Package\Group\Script Task (Microsoft.ScriptTask): needs .NET`, "does not start"} {
		if !strings.Contains(res.Message, want) {
			t.Errorf("message %q lacks %q", res.Message, want)
		}
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("task first ran; a package with an unsupported task must not start")
	}
	for _, e := range events {
		if e.Type == EventPreExecute {
			t.Errorf("a task started: %+v", e)
		}
	}
}
