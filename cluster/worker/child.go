package worker

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/scaleout/scaleout/catalog/pkgspec"
	"github.com/scaleout/scaleout/executor"
)

// lineWriter writes Messages as JSON lines; safe for concurrent use.
type lineWriter struct {
	mu  sync.Mutex
	w   *bufio.Writer
	enc *json.Encoder
}

func newLineWriter(w io.Writer) *lineWriter {
	bw := bufio.NewWriterSize(w, 64<<10)
	return &lineWriter{w: bw, enc: json.NewEncoder(bw)}
}

func (l *lineWriter) write(m *Message) {
	l.mu.Lock()
	defer l.mu.Unlock()
	_ = l.enc.Encode(m)
	_ = l.w.Flush()
}

// Emit implements executor.Sink.
func (l *lineWriter) Emit(ev executor.Event) { l.write(&Message{Event: &ev}) }

// ChildMain is the body of the hidden `scaleout exec` command: it reads one
// Job from in, runs the package, writes Messages to out and returns the exit
// code (0 when a result was written). SIGTERM, SIGINT or EOF on in (the
// worker died) cancel the run: running tasks are stopped and the result is
// canceled.
func ChildMain(in io.Reader, out io.Writer) int {
	// Orphans of task process groups are reparented to this process, which
	// reaps them, instead of to a PID 1 that may not.
	if err := executor.SetSubreaper(); err != nil && !errors.Is(err, errors.ErrUnsupported) {
		fmt.Fprintf(os.Stderr, "scaleout exec: cannot become a child subreaper (orphaned task processes may linger): %v\n", err)
	}
	lw := newLineWriter(out)
	br := bufio.NewReader(in)
	line, err := br.ReadBytes('\n')
	if err != nil && len(line) == 0 {
		fmt.Fprintf(os.Stderr, "scaleout exec: reading job: %v\n", err)
		return 2
	}
	var job Job
	if err := json.Unmarshal(line, &job); err != nil {
		fmt.Fprintf(os.Stderr, "scaleout exec: decoding job: %v\n", err)
		return 2
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, stopSignals...)
	defer signal.Stop(sigs)
	go func() {
		select {
		case s := <-sigs:
			lw.Emit(executor.Event{Time: time.Now().UTC(), Type: "information", Message: "stop requested (" + s.String() + "): stopping running tasks"})
			cancel()
		case <-ctx.Done():
		}
	}()
	go func() {
		// Anything after the job line is ignored; EOF means the worker is gone.
		_, _ = io.Copy(io.Discard, br)
		cancel()
	}()

	pkg, opts, err := job.options()
	if err != nil {
		lw.Emit(executor.Event{Time: time.Now().UTC(), Type: "error", Message: err.Error()})
		lw.write(&Message{Result: &ChildResult{Status: "failed", Message: err.Error()}})
		return 0
	}
	opts.OnProcess = func(pgid int, running bool) { lw.write(&Message{Proc: &Proc{PGID: pgid, Running: running}}) }
	res := executor.Run(ctx, pkg, job.Params, opts, lw)
	lw.write(&Message{Result: &ChildResult{Status: string(res.Status), Message: res.Message}})
	return 0
}

// Environment variables a deployed package's tasks see.
const (
	// EnvProjectDir names the extracted project directory.
	EnvProjectDir = "SCALEOUT_PROJECT_DIR"
	// EnvProjectParamPrefix + NAME holds project parameter NAME.
	EnvProjectParamPrefix = "SCALEOUT_PROJECT_"
)

// options parses the job's package (inline, or read from the extracted
// project) and turns the rest of the job into executor options: the
// project's connections opened for the executor, the secrets to mask, and
// the tasks' environment.
func (job *Job) options() (*pkgspec.Package, executor.Options, error) {
	opts := executor.Options{
		WorkDir: job.WorkDir, ProjectDir: job.ProjectDir, LoggingLevel: job.LoggingLevel,
		KillGrace: time.Duration(job.KillGraceMS) * time.Millisecond,
		Secrets:   slices.Clone(job.Secrets),
	}
	src := []byte(job.Package)
	if job.ArchiveHash != "" {
		if job.ProjectDir == "" || !filepath.IsLocal(filepath.FromSlash(job.PackageFile)) {
			return nil, opts, fmt.Errorf("invalid package path %q in project", job.PackageFile)
		}
		var err error
		if src, err = os.ReadFile(filepath.Join(job.ProjectDir, filepath.FromSlash(job.PackageFile))); err != nil {
			return nil, opts, fmt.Errorf("package file: %w", err)
		}
		opts.Env = append(os.Environ(), EnvProjectDir+"="+job.ProjectDir)
		for _, k := range slices.Sorted(maps.Keys(job.ProjectParams)) {
			opts.Env = append(opts.Env, EnvProjectParamPrefix+k+"="+job.ProjectParams[k])
		}
	}
	pkg, err := pkgspec.Parse(job.PackageFile, src)
	if err != nil {
		return nil, opts, fmt.Errorf("invalid package: %w", err)
	}
	dir := job.ProjectDir
	if dir == "" {
		dir = job.WorkDir
	}
	for _, c := range job.Connections {
		conn, secrets, err := executor.NewConnection(c.Type, c.Properties, dir)
		if err != nil {
			return nil, opts, fmt.Errorf("connection %q: %w", c.Name, err)
		}
		if opts.Connections == nil {
			opts.Connections = map[string]executor.Connection{}
		}
		opts.Connections[c.Name] = conn
		opts.Secrets = append(opts.Secrets, secrets...)
	}
	return pkg, opts, nil
}
