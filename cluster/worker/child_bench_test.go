package worker

import (
	"io"
	"os"
	"testing"

	"github.com/scaleout/scaleout/api"
)

// BenchmarkChild_RunJob is the package runtime's own cost of one attempt of
// a package whose one task runs /bin/true, as a reused child spends it:
// decode options, parse, run, write the event lines (to io.Discard).
func BenchmarkChild_RunJob(b *testing.B) {
	if _, err := os.Stat("/bin/true"); err != nil {
		b.Skip("no /bin/true")
	}
	lw := newLineWriter(io.Discard)
	sigs := make(chan os.Signal)
	gone := make(chan struct{})
	dir := b.TempDir()
	job := &Job{Task: api.Task{ID: 1, Attempt: 1, PackageFile: "true.yaml",
		Package: "name: true\ntasks:\n  - name: true\n    exec: {command: [/bin/true]}\n"}, WorkDir: dir, KillGraceMS: 1000}
	b.ReportAllocs()
	for b.Loop() {
		if res, _ := runJob(job, lw, sigs, gone, newFence()); res.Status != "succeeded" {
			b.Fatalf("result %+v", res)
		}
	}
}
