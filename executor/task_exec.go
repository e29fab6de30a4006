package executor

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/scaleout/scaleout/catalog/pkgspec"
	"github.com/scaleout/scaleout/internal/lattrace"
)

// drainTimeout (runner.drainTimeout outside tests) bounds the wait for a task's output pipes to close after its
// process group has been killed; only processes that left the group (with
// setsid, say) can hold them open that long.
const drainTimeout = 5 * time.Second

// maxCapture is the most standard output an exec task captures into a
// variable; more fails the task.
const maxCapture = 1 << 20

// errNotFound reports a program that is not in PATH.
var errNotFound = errors.New("command not found")

// execTask runs an exec task's process.
func (tc *taskCtx) execTask(ctx context.Context) taskOut {
	r := tc.pr.r
	e := tc.task.Exec
	if len(e.Command) == 0 || e.Command[0] == "" {
		return failed("exec task has no command")
	}
	argv := make([]string, len(e.Command))
	shown := make([]string, len(e.Command))
	for i, arg := range e.Command {
		var err error
		if argv[i], err = tc.expand(fmt.Sprintf("exec command[%d]", i), arg); err != nil {
			return failed("%v", err)
		}
		shown[i] = r.mask(argv[i])
	}
	if e.Arguments != "" {
		line, err := tc.expand("exec arguments", e.Arguments)
		if err != nil {
			return failed("%v", err)
		}
		for _, a := range pkgspec.SplitCommandLine(line) {
			argv = append(argv, a)
			shown = append(shown, r.mask(a))
		}
	}
	env := slices.Clip(r.opts.Env) // appends must not write into the shared base
	for _, k := range slices.Sorted(maps.Keys(e.Env)) {
		v, err := tc.expand("exec env "+k, e.Env[k])
		if err != nil {
			return failed("%v", err)
		}
		env = append(env, k+"="+v)
	}
	dir, err := tc.expand("exec dir", e.Dir)
	if err != nil {
		return failed("%v", err)
	}
	base := r.opts.ProjectDir
	if base == "" {
		base = r.opts.WorkDir
	}
	switch {
	case dir == "":
		dir = base
	case !filepath.IsAbs(dir) && base != "":
		dir = filepath.Join(base, dir)
	}
	if dir != "" {
		// Checked here because a failed chdir in the child is reported as
		// "fork/exec <program>: no such file or directory".
		if fi, err := os.Stat(dir); err != nil {
			return failed("working directory: %v", err)
		} else if !fi.IsDir() {
			return failed("working directory %s is not a directory", dir)
		}
	}
	msg := "exec " + quoteArgs(shown)
	if dir != "" {
		msg += " in " + dir
	}
	r.emit(EventInformation, tc.name(), msg)
	if !slices.Equal(argv, shown) {
		r.emit(EventWarning, tc.name(), "a sensitive value is on this command line, where every user of the machine can read it (ps, /proc): "+
			"hand it over through env (and from there on standard input) instead; docs/SECURITY.md")
	}

	path, err := lookPath(argv[0], env)
	if err != nil {
		return failed("%v", err)
	}
	if ctx.Err() != nil {
		return taskOut{state: stateCanceled}
	}
	var capture *capBuf
	if e.Capture != "" {
		capture = &capBuf{}
	}
	cmd := &exec.Cmd{Path: path, Args: argv, Env: env, Dir: dir}
	if e.Stdin != "" {
		in, err := tc.expand("exec stdin", e.Stdin)
		if err != nil {
			return failed("%v", err)
		}
		// A pipe of our own rather than a reader for exec: cmd.Wait would
		// wait for the copy, which blocks for good if a program leaves a
		// descendant holding its standard input without reading it. Our
		// end of the read side is closed once the task ended, which ends
		// a blocked write.
		inR, inW, err := os.Pipe()
		if err != nil {
			return failed("standard input: %v", err)
		}
		defer inR.Close()
		cmd.Stdin = inR
		go func() {
			io.WriteString(inW, in)
			inW.Close()
		}()
	}
	st, why, code := r.start(ctx, tc.name(), cmd, capture)
	out := taskOut{state: st, msg: why, result: code, info: map[string]any{"exit_code": code}}
	if code >= 0 {
		out.summary = fmt.Sprintf("exit code %d", code)
	}
	if st == stateFailed && code > 0 && slices.Contains(e.SuccessCodes, code) {
		out.state, out.msg = stateSucceeded, ""
	} else if st == stateSucceeded && len(e.SuccessCodes) > 0 && !slices.Contains(e.SuccessCodes, 0) {
		out.state, out.msg = stateFailed, fmt.Sprintf("exit status 0 is not one of success_codes %v", e.SuccessCodes)
	}
	if capture != nil && out.state == stateSucceeded {
		if capture.over {
			return failed("capture: standard output is over %d bytes", maxCapture)
		}
		s := strings.TrimRight(capture.String(), "\r\n")
		out.info["stdout"] = s
		if err := tc.set(e.Capture, s); err != nil {
			return failed("capture: %v", err)
		}
	}
	return out
}

// capBuf collects standard output up to maxCapture bytes.
type capBuf struct {
	mu   sync.Mutex
	b    bytes.Buffer
	over bool
}

// write appends p (part of a line, or its newline).
func (c *capBuf) write(p []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.over || c.b.Len()+len(p) > maxCapture {
		c.over = true
		return
	}
	c.b.Write(p)
}

func (c *capBuf) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.b.String()
}

// start starts cmd in its own process group, streams its output, and waits
// until the process is reaped, the rest of its group killed and its output
// drained.
// It returns the task state, the failure reason and the exit code (-1 if
// the process did not exit normally).
func (r *runner) start(ctx context.Context, task string, cmd *exec.Cmd, capture *capBuf) (taskState, string, int) {
	outR, outW, err := os.Pipe()
	if err != nil {
		return stateFailed, err.Error(), -1
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return stateFailed, err.Error(), -1
	}
	cmd.Stdout, cmd.Stderr = outW, errW
	setProcAttr(cmd)
	lattrace.Stamp(r.opts.ExecutionID, "x.fork")
	if err = r.mayStart(); err == nil {
		err = cmd.Start()
	}
	lattrace.Stamp(r.opts.ExecutionID, "x.started")
	outW.Close() // the child has its own copies
	errW.Close()
	closeReaders := func() {
		outR.Close()
		errR.Close()
	}
	if err != nil {
		closeReaders()
		return stateFailed, "cannot start: " + err.Error(), -1
	}
	pgid := cmd.Process.Pid // Setpgid with Pgid 0 makes the child lead a new group
	if r.opts.OnProcess != nil {
		r.opts.OnProcess(pgid, true)
	}
	var drained sync.WaitGroup
	drained.Add(2)
	go r.pump(&drained, outR, EventStdout, task, capture)
	go r.pump(&drained, errR, EventStderr, task, nil)

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
			lattrace.Stamp(r.opts.ExecutionID, "x.waited")
			break wait
		case <-ctxDone:
			canceled, ctxDone = true, nil
			r.emit(EventInformation, task, fmt.Sprintf("canceling: SIGTERM to process group %d, SIGKILL after %s", pgid, r.opts.KillGrace))
			if err := terminate(cmd, false); err != nil {
				r.emit(EventError, task, "SIGTERM: "+err.Error())
			}
			timer := time.NewTimer(r.opts.KillGrace)
			defer timer.Stop()
			killTimer = timer.C
		case <-killTimer:
			killTimer = nil
			r.emit(EventInformation, task, fmt.Sprintf("still running after %s: SIGKILL to process group %d", r.opts.KillGrace, pgid))
			if err := terminate(cmd, true); err != nil {
				r.emit(EventError, task, "SIGKILL: "+err.Error())
			}
		}
	}
	if cleanupGroup(pgid) && !canceled {
		r.emit(EventInformation, task, fmt.Sprintf("killed processes left in process group %d after the task exited", pgid))
	}
	finished := make(chan struct{})
	go func() {
		drained.Wait()
		close(finished)
	}()
	select {
	case <-finished:
	case <-time.After(r.drainTimeout):
		r.emit(EventInformation, task, "output still open after the process group was killed; closing it")
		closeReaders() // unblocks the readers
		<-finished
	}
	closeReaders()
	lattrace.Stamp(r.opts.ExecutionID, "x.drained")
	if r.opts.OnProcess != nil {
		r.opts.OnProcess(pgid, false)
	}
	code := cmd.ProcessState.ExitCode()
	switch {
	case canceled:
		return stateCanceled, "", code
	case waitErr != nil:
		return stateFailed, waitErr.Error(), code // "exit status 3", "signal: killed"
	}
	return stateSucceeded, "", code
}

// CutMarker ends the message of an output line that was longer than
// MaxMessage: the event keeps the line's first bytes (cut at a character
// boundary) so that with the marker it is at most MaxMessage bytes, the
// catalog's limit per event message, and the rest of the line is read and
// dropped.
const CutMarker = " [line cut: over 65536 bytes]"

// pump turns each line read from f into an event of type typ, reading in
// chunks of at most MaxMessage bytes so that no line is ever held whole: a
// longer line becomes one event of its first bytes followed by CutMarker
// (MaxMessage bytes in all), and the rest of it is dropped. The full output still goes to
// capture, if not nil (which has its own limit).
func (r *runner) pump(wg *sync.WaitGroup, f io.Reader, typ, task string, capture *capBuf) {
	defer wg.Done()
	br := pumpReaders.Get().(*bufio.Reader)
	br.Reset(f)
	defer func() { br.Reset(nil); pumpReaders.Put(br) }()
	cut := false // the current line was over MaxMessage and its first part sent
	for {
		chunk, err := br.ReadSlice('\n')
		full := errors.Is(err, bufio.ErrBufferFull)
		if capture != nil && len(chunk) > 0 {
			capture.write(chunk)
		}
		switch {
		case full && !cut:
			cut = true
			r.emit(typ, task, string(truncUTF8(chunk[:MaxMessage-len(CutMarker)]))+CutMarker)
		case full:
			// the middle of a cut line: dropped
		case cut:
			cut = false // the end of a cut line: dropped
		case len(chunk) > 0 || err == nil:
			line := bytes.TrimSuffix(chunk, []byte("\n"))
			line = bytes.TrimSuffix(line, []byte("\r"))
			if len(line) > MaxMessage {
				r.emit(typ, task, string(truncUTF8(line[:MaxMessage-len(CutMarker)]))+CutMarker)
				break
			}
			r.emit(typ, task, string(line))
		}
		if err != nil && !full {
			if capture != nil && len(chunk) > 0 && chunk[len(chunk)-1] != '\n' {
				capture.write([]byte{'\n'})
			}
			return // io.EOF, or the pipe was closed after drainTimeout
		}
	}
}

// pumpReaders keeps the readers of task output for the next task: each
// holds a buffer in which a line of MaxMessage bytes and its CRLF fit, and
// allocating (and zeroing) two of them per task was a tenth of a reused
// package process's CPU for a task that prints nothing.
var pumpReaders = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, MaxMessage+2) }}

// truncUTF8 drops an incomplete UTF-8 sequence at the end of b.
func truncUTF8(b []byte) []byte {
	for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax; i-- {
		if utf8.RuneStart(b[i]) {
			if !utf8.FullRune(b[i:]) {
				return b[:i]
			}
			return b
		}
	}
	return b
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
