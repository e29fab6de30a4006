package worker

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
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
	if err := executor.SetSubreaper(); err != nil {
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
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
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

	pkg, err := pkgspec.Parse(job.PackageFile, []byte(job.Package))
	if err != nil {
		lw.Emit(executor.Event{Time: time.Now().UTC(), Type: "error", Message: "invalid package: " + err.Error()})
		lw.write(&Message{Result: &ChildResult{Status: "failed", Message: "invalid package"}})
		return 0
	}
	opts := executor.Options{
		WorkDir:   job.WorkDir,
		KillGrace: time.Duration(job.KillGraceMS) * time.Millisecond,
		OnProcess: func(pgid int, running bool) { lw.write(&Message{Proc: &Proc{PGID: pgid, Running: running}}) },
	}
	opts.ProjectDir = job.ProjectDir
	opts.LoggingLevel = job.LoggingLevel
	opts.Secrets = job.Secrets
	opts.Connections = job.Connections
	res := executor.Run(ctx, pkg, job.Params, opts, lw)
	lw.write(&Message{Result: &ChildResult{Status: string(res.Status), Message: res.Message}})
	return 0
}
