package worker

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/scaleout/scaleout/api"
	"github.com/scaleout/scaleout/cluster/internal/failpoint"
)

// A result is saved in WorkDir/results before it is sent, and removed when
// the master has answered it (accepted, or refused as stale). An agent that
// dies in between (kill -9, OOM) finds it there when it starts again and
// delivers it then, instead of leaving the master to expire an attempt
// that completed and run the package again.
//
// The file is not fsync'd: it only has to outlive the agent process, which
// the page cache does. A machine that loses its page cache (power loss,
// kernel crash) is down for longer than a lease, and by then the master has
// expired the attempt and a saved result would be refused as stale anyway.

// savedResult is the content of a result file.
type savedResult struct {
	ID      uint64           `json:"id"`
	Attempt int              `json:"attempt"`
	Report  api.ResultReport `json:"report"`
}

// maxSavedResult bounds a result file read at start (the events of a report
// are bounded by Config.MaxBufferedBytes; this leaves room for the JSON).
const maxSavedResult = 64 << 20

func (w *Worker) resultsDir() string { return filepath.Join(w.cfg.WorkDir, "results") }

func resultName(id uint64, attempt int) string { return fmt.Sprintf("%d-%d.json", id, attempt) }

// saveResult writes rep for the attempt (a temporary file renamed into
// place, so that a crash never leaves half a result).
func (w *Worker) saveResult(id uint64, attempt int, rep *api.ResultReport) error {
	b, err := json.Marshal(savedResult{ID: id, Attempt: attempt, Report: *rep})
	if err != nil {
		return err
	}
	dir := w.resultsDir()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	name := filepath.Join(dir, resultName(id, attempt))
	tmp := name + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, name); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	failpoint.Hit("worker-result-saved")
	return nil
}

// forgetResult removes the saved result of an attempt the master answered.
func (w *Worker) forgetResult(id uint64, attempt int) {
	err := os.Remove(filepath.Join(w.resultsDir(), resultName(id, attempt)))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		w.logger.Warn("cannot remove a delivered result", "id", id, "attempt", attempt, "error", err)
	}
}

// savedResults reads the results an earlier run of the agent saved and did
// not deliver. Unreadable files (cut short, not ours) are removed with a
// warning: nothing can deliver them.
func (w *Worker) savedResults() []savedResult {
	entries, err := os.ReadDir(w.resultsDir())
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			w.logger.Error("cannot read the saved results", "dir", w.resultsDir(), "error", err)
		}
		return nil
	}
	var out []savedResult
	for _, e := range entries {
		path := filepath.Join(w.resultsDir(), e.Name())
		if !e.Type().IsRegular() || !strings.HasSuffix(e.Name(), ".json") {
			_ = os.Remove(path) // a .tmp the crash left behind
			continue
		}
		r, err := readSavedResult(path)
		if err != nil || e.Name() != resultName(r.ID, r.Attempt) {
			w.logger.Warn("removing an unreadable saved result", "file", path, "error", err)
			_ = os.Remove(path)
			continue
		}
		out = append(out, r)
	}
	return out
}

func readSavedResult(path string) (savedResult, error) {
	var r savedResult
	f, err := os.Open(path)
	if err != nil {
		return r, err
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil {
		return r, err
	} else if st.Size() > maxSavedResult {
		return r, fmt.Errorf("%d bytes, more than %d", st.Size(), maxSavedResult)
	}
	dec := json.NewDecoder(f)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return r, err
	}
	if r.ID == 0 || r.Attempt <= 0 || r.Report.Status == "" {
		return r, errors.New("missing id, attempt or status")
	}
	return r, nil
}

// redeliver sends the results an earlier run saved. Each is listed in
// every poll as an ending attempt meanwhile, so the master keeps its lease
// instead of expiring it as lost.
func (w *Worker) redeliver() {
	for _, r := range w.savedResults() {
		w.mu.Lock()
		if w.running[r.ID] != nil {
			w.mu.Unlock()
			continue
		}
		a := newAttempt(w, api.Task{ID: r.ID, Attempt: r.Attempt})
		a.ending = true
		w.running[r.ID] = a
		w.mu.Unlock()
		w.logger.Info("delivering a result saved before the agent stopped", "id", r.ID, "attempt", r.Attempt, "status", r.Report.Status)
		rep := r.Report
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			a.deliver(&rep)
			w.attemptEnded(a)
		}()
	}
}
