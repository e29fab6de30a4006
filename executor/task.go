package executor

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/scaleout/scaleout/catalog/pkgspec"
)

// drainTimeout (runner.drainTimeout outside tests) bounds the wait for a task's output pipes to close after its
// process group has been killed; only processes that left the group (with
// setsid, say) can hold them open that long.
const drainTimeout = 5 * time.Second

// errNotFound reports a program that is not in PATH.
var errNotFound = errors.New("command not found")

// runTask runs one task and reports its pre_execute, task_failed and
// post_execute events.
func (r *runner) runTask(ctx context.Context, t *pkgspec.Task) outcome {
	start := time.Now()
	r.emit(EventPreExecute, t.Name, "started")
	o := outcome{task: t, state: stateFailed}
	switch {
	case t.Exec != nil:
		o.state, o.msg = r.execTask(ctx, t)
	default:
		o.msg = fmt.Sprintf("unsupported task type %q", t.Kind())
		r.emit(EventError, t.Name, o.msg)
	}
	took := roundDuration(time.Since(start))
	switch o.state {
	case stateSucceeded:
		r.emit(EventPostExecute, t.Name, fmt.Sprintf("succeeded in %s", took))
	case stateCanceled:
		r.emit(EventPostExecute, t.Name, fmt.Sprintf("canceled after %s", took))
	default:
		r.emit(EventTaskFailed, t.Name, o.msg)
		r.emit(EventPostExecute, t.Name, fmt.Sprintf("failed: %s in %s", o.msg, took))
	}
	return o
}

// execTask runs an exec task's process and returns its state and, on
// failure, the reason.
func (r *runner) execTask(ctx context.Context, t *pkgspec.Task) (taskState, string) {
	fail := func(format string, args ...any) (taskState, string) {
		msg := fmt.Sprintf(format, args...)
		r.emit(EventError, t.Name, msg)
		return stateFailed, msg
	}
	e := t.Exec
	if len(e.Command) == 0 || e.Command[0] == "" {
		return fail("exec task has no command")
	}
	argv := make([]string, len(e.Command))
	shown := make([]string, len(e.Command))
	for i, arg := range e.Command {
		var err error
		if argv[i], err = pkgspec.Interpolate(arg, r.values); err != nil {
			return fail("command[%d]: %v", i, err)
		}
		shown[i], _ = pkgspec.Interpolate(arg, r.shown)
	}
	env := slices.Clip(r.opts.Env) // appends must not write into the shared base
	keys := make([]string, 0, len(e.Env))
	for k := range e.Env {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v, err := pkgspec.Interpolate(e.Env[k], r.values)
		if err != nil {
			return fail("env %s: %v", k, err)
		}
		env = append(env, k+"="+v)
	}
	dir, err := pkgspec.Interpolate(e.Dir, r.values)
	if err != nil {
		return fail("dir: %v", err)
	}
	switch {
	case dir == "":
		dir = r.opts.WorkDir
	case !filepath.IsAbs(dir) && r.opts.WorkDir != "":
		dir = filepath.Join(r.opts.WorkDir, dir)
	}
	if dir != "" {
		// Checked here because a failed chdir in the child is reported as
		// "fork/exec <program>: no such file or directory".
		if fi, err := os.Stat(dir); err != nil {
			return fail("working directory: %v", err)
		} else if !fi.IsDir() {
			return fail("working directory %s is not a directory", dir)
		}
	}
	msg := "exec " + quoteArgs(shown)
	if dir != "" {
		msg += " in " + dir
	}
	r.emit(EventInformation, t.Name, msg)

	path, err := lookPath(argv[0], env)
	if err != nil {
		return fail("%v", err)
	}
	if ctx.Err() != nil {
		return stateCanceled, ""
	}
	return r.start(ctx, t, &exec.Cmd{Path: path, Args: argv, Env: env, Dir: dir})
}

// start starts cmd in its own process group, streams its output, and waits
// until the process is reaped, the rest of its group killed and its output
// drained.
func (r *runner) start(ctx context.Context, t *pkgspec.Task, cmd *exec.Cmd) (taskState, string) {
	outR, outW, err := os.Pipe()
	if err != nil {
		r.emit(EventError, t.Name, err.Error())
		return stateFailed, err.Error()
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		r.emit(EventError, t.Name, err.Error())
		return stateFailed, err.Error()
	}
	cmd.Stdout, cmd.Stderr = outW, errW
	setProcAttr(cmd)
	err = cmd.Start()
	outW.Close() // the child has its own copies
	errW.Close()
	closeReaders := func() {
		outR.Close()
		errR.Close()
	}
	if err != nil {
		closeReaders()
		msg := "cannot start: " + err.Error()
		r.emit(EventError, t.Name, msg)
		return stateFailed, msg
	}
	pgid := cmd.Process.Pid // Setpgid with Pgid 0 makes the child lead a new group
	if r.opts.OnProcess != nil {
		r.opts.OnProcess(pgid, true)
	}
	var drained sync.WaitGroup
	drained.Add(2)
	go r.pump(&drained, outR, EventStdout, t.Name)
	go r.pump(&drained, errR, EventStderr, t.Name)

	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	var waitErr error
	canceled := false
	ctxDone := ctx.Done()
	var killTimer <-chan time.Time
wait:
	for {
		select {
		case waitErr = <-waited:
			break wait
		case <-ctxDone:
			canceled, ctxDone = true, nil
			r.emit(EventInformation, t.Name, fmt.Sprintf("canceling: SIGTERM to process group %d, SIGKILL after %s", pgid, r.opts.KillGrace))
			if err := terminate(cmd, false); err != nil {
				r.emit(EventError, t.Name, "SIGTERM: "+err.Error())
			}
			timer := time.NewTimer(r.opts.KillGrace)
			defer timer.Stop()
			killTimer = timer.C
		case <-killTimer:
			killTimer = nil
			r.emit(EventInformation, t.Name, fmt.Sprintf("still running after %s: SIGKILL to process group %d", r.opts.KillGrace, pgid))
			if err := terminate(cmd, true); err != nil {
				r.emit(EventError, t.Name, "SIGKILL: "+err.Error())
			}
		}
	}
	if cleanupGroup(pgid) && !canceled {
		r.emit(EventInformation, t.Name, fmt.Sprintf("killed processes left in process group %d after the task exited", pgid))
	}
	finished := make(chan struct{})
	go func() {
		drained.Wait()
		close(finished)
	}()
	select {
	case <-finished:
	case <-time.After(r.drainTimeout):
		r.emit(EventInformation, t.Name, "output still open after the process group was killed; closing it")
		closeReaders() // unblocks the readers
		<-finished
	}
	closeReaders()
	if r.opts.OnProcess != nil {
		r.opts.OnProcess(pgid, false)
	}
	switch {
	case canceled:
		return stateCanceled, ""
	case waitErr != nil:
		return stateFailed, waitErr.Error() // "exit status 3", "signal: killed"
	}
	return stateSucceeded, ""
}

// pump turns each line read from f into an event of type typ. Lines longer
// than MaxMessage become several events.
func (r *runner) pump(wg *sync.WaitGroup, f io.Reader, typ, task string) {
	defer wg.Done()
	br := bufio.NewReaderSize(f, MaxMessage)
	split := false // the previous event was a MaxMessage chunk of a longer line
	for {
		line, err := br.ReadSlice('\n')
		full := errors.Is(err, bufio.ErrBufferFull)
		if !full {
			line = bytes.TrimSuffix(line, []byte("\n"))
			line = bytes.TrimSuffix(line, []byte("\r"))
		}
		// An empty rest after a split line is just its newline.
		if len(line) > 0 || (err == nil && !split) {
			r.emit(typ, task, string(line))
		}
		split = full
		if err != nil && !full {
			return // io.EOF, or the pipe was closed after drainTimeout
		}
	}
}

// lookPath finds file in the PATH of env (the last PATH entry wins, as in
// exec.Cmd). Names with a slash are returned as they are; relative and empty
// PATH directories are ignored, as exec.LookPath refuses them.
func lookPath(file string, env []string) (string, error) {
	if strings.Contains(file, "/") {
		return file, nil
	}
	pathEnv := ""
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			pathEnv = v
		}
	}
	for _, dir := range filepath.SplitList(pathEnv) {
		if !filepath.IsAbs(dir) {
			continue
		}
		p := filepath.Join(dir, file)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%w: %q is not in PATH (%s)", errNotFound, file, pathEnv)
}

// quoteArgs joins a command line for display, quoting arguments that need
// it.
func quoteArgs(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\n\"'\\$`;&|<>(){}*?[]#~") {
			a = strconv.Quote(a)
		}
		out[i] = a
	}
	return strings.Join(out, " ")
}
