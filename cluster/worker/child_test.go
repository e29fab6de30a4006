package worker

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/scaleout/scaleout/api"
)

// TestJob_Options turns a leased task into executor options as the child
// does: a deployed package is read from the extracted project, project
// parameters become the tasks' environment, connections are opened with
// their secrets masked; an inline package is parsed from the task.
func TestJob_Options(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "packages"), 0o755); err != nil {
		t.Fatal(err)
	}
	src := "name: main\ntasks:\n  - name: a\n    exec: {command: [/bin/true]}\n"
	if err := os.WriteFile(filepath.Join(dir, "packages", "main.yaml"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	job := Job{Task: api.Task{ID: 1, Attempt: 1, PackageName: "main", PackageFile: "packages/main.yaml", ArchiveHash: strings.Repeat("a", 64),
		ProjectParams: map[string]string{"region": "emea", "pw": "s3cret"}, Secrets: []string{"s3cret"}, LoggingLevel: "verbose",
		Connections: []api.Connection{{Name: "wh", Type: "postgres", Properties: map[string]string{"host": "db", "user": "u", "password": "pg-pass", "dbname": "d"}}}},
		WorkDir: dir, ProjectDir: dir, KillGraceMS: 1500}
	pkg, opts, err := job.options()
	if err != nil {
		t.Fatal(err)
	}
	if pkg.Name != "main" || opts.ProjectDir != dir || opts.LoggingLevel != "verbose" || opts.KillGrace.Milliseconds() != 1500 {
		t.Fatalf("package %q, options %+v", pkg.Name, opts)
	}
	if !slices.Contains(opts.Env, EnvProjectDir+"="+dir) || !slices.Contains(opts.Env, EnvProjectParamPrefix+"region=emea") {
		t.Fatalf("env lacks the project: %v", opts.Env[len(opts.Env)-3:])
	}
	if c, ok := opts.Connections["wh"]; !ok || c.Driver != "postgres" || !strings.Contains(c.DSN, "db") {
		t.Fatalf("connections %+v", opts.Connections)
	}
	if !slices.Contains(opts.Secrets, "s3cret") || !slices.Contains(opts.Secrets, "pg-pass") {
		t.Fatalf("secrets %q", opts.Secrets)
	}

	// A package path that leaves the project is refused.
	esc := job
	esc.PackageFile = "../outside.yaml"
	if _, _, err := esc.options(); err == nil || !strings.Contains(err.Error(), "invalid package path") {
		t.Fatalf("escaping path: %v", err)
	}
	// A connection of an unknown type fails the attempt, naming it.
	badConn := job
	badConn.Connections = []api.Connection{{Name: "x", Type: "oracle"}}
	if _, _, err := badConn.options(); err == nil || !strings.Contains(err.Error(), `connection "x"`) {
		t.Fatalf("bad connection: %v", err)
	}
	// Inline: the source travels in the task; no project environment,
	// but the execution's id and attempt.
	in := Job{Task: api.Task{ID: 2, Attempt: 3, PackageName: "main", PackageFile: "main.yaml", Package: src}, WorkDir: dir}
	pkg, opts, err = in.options()
	if err != nil || pkg.Name != "main" || opts.ExecutionID != 2 || opts.Attempt != 3 {
		t.Fatalf("inline: %v %+v", err, opts)
	}
	tail := opts.Env[len(opts.Env)-2:]
	if !slices.Equal(tail, []string{EnvExecutionID + "=2", EnvAttempt + "=3"}) || slices.ContainsFunc(opts.Env, func(s string) bool { return strings.HasPrefix(s, EnvProjectDir+"=") }) {
		t.Fatalf("inline env ends %q", tail)
	}
}
