package worker

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/scaleout/scaleout/api"
)

// ErrNoLog means the worker does not have the log of an attempt: it did not
// run it, or the log was removed to keep the newest ones (Config.KeepLogs).
// It matches fs.ErrNotExist, which is what the API handler looks for.
var ErrNoLog = fmt.Errorf("no log of this attempt on this worker: %w", fs.ErrNotExist)

// maxChildLine is the longest line the worker reads from a child whole. The
// child's messages are far shorter (an event's message is at most
// executor.MaxMessage bytes, JSON-escaped); a longer line is dropped with an
// error event rather than held.
const maxChildLine = 4 << 20

// readLines calls fn with every line of r (without its newline). A line
// of up to max bytes (with its newline) is passed whole; a longer one is
// not accumulated beyond max but passed to fn once with cut set and no
// content, the rest of it dropped. The reader's own buffer is 64 KiB at
// most, so a long-lived reader (a waiting package process's) holds little.
func readLines(r io.Reader, max int, fn func(line []byte, cut bool)) error {
	return readLinesBuf(r, max, min(max, 64<<10), fn)
}

// readLinesBuf is readLines with a read buffer of size bytes.
func readLinesBuf(r io.Reader, max, size int, fn func(line []byte, cut bool)) error {
	br := bufio.NewReaderSize(r, size)
	var long []byte // a line longer than the buffer, so far
	cut := false
	for {
		chunk, err := br.ReadSlice('\n')
		full := errors.Is(err, bufio.ErrBufferFull)
		switch {
		case cut:
			cut = full // dropped up to the end of the line
		case full && len(long)+len(chunk) >= max, !full && len(long)+len(chunk) > max:
			cut, long = full, long[:0]
			fn(nil, true)
		case full:
			long = append(long, chunk...)
		case len(long) > 0:
			line := append(long, chunk...)
			fn(line[:len(line)-len(trailingNewline(line))], false)
			if long = line[:0]; cap(long) > 256<<10 {
				long = nil // do not keep a rare long line's buffer
			}
		case len(chunk) > 0:
			fn(chunk[:len(chunk)-len(trailingNewline(chunk))], false)
		}
		if err != nil && !full {
			if errors.Is(err, io.EOF) || errors.Is(err, os.ErrClosed) {
				return nil
			}
			return err
		}
	}
}

func trailingNewline(b []byte) []byte {
	n := 0
	if len(b) > 0 && b[len(b)-1] == '\n' {
		n++
		if len(b) > 1 && b[len(b)-2] == '\r' {
			n++
		}
	}
	return b[len(b)-n:]
}

// attemptLog is the worker's own copy of an attempt's events, one text line
// each, in LogDir/ID-ATTEMPT.log. It keeps what the event cap keeps out of
// Raft. Its size is capped: when the file reaches half of max it is renamed
// to .log.1 (replacing the previous one) and a new file started, so the two
// hold at most max bytes and always the newest output.
type attemptLog struct {
	mu   sync.Mutex
	path string
	max  int64
	f    *os.File
	w    *bufio.Writer
	size int64
	err  error // the first write error; the log stops there
	rot  bool  // a .1 part was written
}

// rotated reports whether the log has a .1 part (false for a nil log).
func (l *attemptLog) rotated() bool {
	if l == nil {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.rot
}

func logName(id uint64, attempt int) string { return fmt.Sprintf("%d-%d.log", id, attempt) }

// openAttemptLog creates the log of an attempt. A log that cannot be
// created is reported once through the returned error and otherwise
// ignored: the events still go to the master.
func openAttemptLog(dir string, id uint64, attempt int, max int64) (*attemptLog, error) {
	l := &attemptLog{path: filepath.Join(dir, logName(id, attempt)), max: max}
	if err := l.open(); err != nil {
		l.err = err
		return l, err
	}
	return l, nil
}

func (l *attemptLog) open() error {
	f, err := os.OpenFile(l.path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	l.f, l.w, l.size = f, bufio.NewWriterSize(f, 32<<10), 0
	return nil
}

// write appends one event.
func (l *attemptLog) write(ev api.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil || l.f == nil {
		return
	}
	if l.size >= l.max/2 {
		if l.err = l.rotate(); l.err != nil {
			return
		}
	}
	var b strings.Builder
	b.WriteString(ev.Time.UTC().Format(time.RFC3339Nano))
	b.WriteByte(' ')
	b.WriteString(ev.Type)
	if ev.Task != "" {
		b.WriteString(" [")
		b.WriteString(ev.Task)
		b.WriteByte(']')
	}
	b.WriteByte(' ')
	b.WriteString(ev.Message)
	b.WriteByte('\n')
	n, err := l.w.WriteString(b.String())
	l.size += int64(n)
	l.err = err
}

func (l *attemptLog) rotate() error {
	if err := l.w.Flush(); err != nil {
		return err
	}
	if err := l.f.Close(); err != nil {
		return err
	}
	if err := os.Rename(l.path, l.path+".1"); err != nil {
		return err
	}
	l.rot = true
	return l.open()
}

// close flushes and closes the file.
func (l *attemptLog) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return
	}
	if l.err == nil {
		l.err = l.w.Flush()
	}
	_ = l.f.Close()
	l.f = nil
}

// AttemptLog opens the log of attempt n of execution id: the rotated part
// (if any) followed by the current one. size is their total length. The
// caller closes the reader. ErrNoLog when the worker has none.
func (w *Worker) AttemptLog(id uint64, attempt int) (rc io.ReadCloser, size int64, err error) {
	base := filepath.Join(w.cfg.LogDir, logName(id, attempt))
	var files []*os.File
	for _, p := range []string{base + ".1", base} {
		f, err := os.Open(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			closeAll(files)
			return nil, 0, err
		}
		fi, err := f.Stat()
		if err != nil {
			f.Close()
			closeAll(files)
			return nil, 0, err
		}
		size += fi.Size()
		files = append(files, f)
	}
	if len(files) == 0 {
		return nil, 0, fmt.Errorf("%w (execution %d attempt %d)", ErrNoLog, id, attempt)
	}
	rs := make([]io.Reader, len(files))
	for i, f := range files {
		rs[i] = f
	}
	return multiReadCloser{io.MultiReader(rs...), files}, size, nil
}

type multiReadCloser struct {
	io.Reader
	files []*os.File
}

func (m multiReadCloser) Close() error { closeAll(m.files); return nil }

func closeAll(fs []*os.File) {
	for _, f := range fs {
		f.Close()
	}
}

// endedLog is the log of an ended attempt; rotated says it has a .1 part.
type endedLog struct {
	name    string
	rotated bool
}

// pruneLogs records that the log of attempt name has ended and removes
// the oldest ended attempt logs beyond Config.KeepLogs, never the log of a
// running attempt. The log directory is listed once (the logs an earlier
// run of the agent left, oldest first); after that the worker knows the
// order in which logs end, so an attempt costs no directory listing.
func (w *Worker) pruneLogs(name string, rotated bool) {
	w.pruneMu.Lock()
	defer w.pruneMu.Unlock()
	if !w.logsListed {
		w.logsListed = true
		w.endedLogs = w.listEndedLogs(name)
	}
	w.endedLogs = append(w.endedLogs, endedLog{name, rotated})
	for len(w.endedLogs) > w.cfg.KeepLogs {
		p := filepath.Join(w.cfg.LogDir, w.endedLogs[0].name)
		if w.endedLogs[0].rotated {
			_ = os.Remove(p + ".1")
		}
		_ = os.Remove(p)
		w.endedLogs = w.endedLogs[1:]
	}
}

// listEndedLogs lists the attempt logs in LogDir that belong to no running
// attempt, oldest first, leaving out also.
func (w *Worker) listEndedLogs(also string) []endedLog {
	active := map[string]bool{also: true}
	for _, a := range w.attempts() {
		active[logName(a.task.ID, a.task.Attempt)] = true
	}
	ents, err := os.ReadDir(w.cfg.LogDir)
	if err != nil {
		return nil
	}
	type logFile struct {
		name string
		mod  time.Time
	}
	var logs []logFile
	parts := map[string]bool{}
	for _, e := range ents {
		if base, ok := strings.CutSuffix(e.Name(), ".1"); ok {
			parts[base] = true
		}
		if !strings.HasSuffix(e.Name(), ".log") || active[e.Name()] {
			continue
		}
		if fi, err := e.Info(); err == nil {
			logs = append(logs, logFile{e.Name(), fi.ModTime()})
		}
	}
	slices.SortFunc(logs, func(a, b logFile) int { return a.mod.Compare(b.mod) })
	out := make([]endedLog, len(logs))
	for i, l := range logs {
		out[i] = endedLog{l.name, parts[l.name]}
	}
	return out
}
