package worker

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/scaleout/scaleout/api"
)

// Talking to an older leader during a rolling upgrade. Older leaders
// refuse fields of the worker protocol they do not know (400 "unknown
// field"): the poll token and unanswered polls, and the numbers of event
// batches. A worker that meets such a refusal leaves those fields out for
// a while (legacyFor) and sends the refused request again without them, so
// that a new worker keeps working, with the old guarantees, until the
// leader is upgraded too.
const legacyFor = time.Minute

type compat struct {
	until  atomic.Int64 // unix nanos: leave the new fields out until then
	warned atomic.Bool
}

// legacy reports whether requests must leave the new fields out.
func (c *compat) legacy() bool { return time.Now().UnixNano() < c.until.Load() }

// olderLeader reports whether err is an older leader's refusal of an
// unknown field, and if so switches to the old protocol for legacyFor.
func (w *Worker) olderLeader(err error) bool {
	var ae *api.Error
	if !api.IsStatus(err, http.StatusBadRequest) || !errors.As(err, &ae) || !strings.Contains(ae.Message, "unknown field") {
		return false
	}
	w.compat.until.Store(time.Now().Add(legacyFor).UnixNano())
	if !w.compat.warned.Swap(true) {
		w.logger.Warn("the leader is an older version: polling without tokens and sending events without numbers until it is upgraded", "refusal", ae.Message)
	}
	return true
}

// reportEvents sends a batch numbered from first, or without the number to
// an older leader.
func (w *Worker) reportEvents(ctx context.Context, id uint64, attempt int, first uint64, evs []api.Event) error {
	if w.compat.legacy() {
		return w.cfg.Client.Executions().ReportEvents(ctx, id, attempt, evs)
	}
	err := w.cfg.Client.Executions().ReportEventsFrom(ctx, id, attempt, first, evs)
	if w.olderLeader(err) {
		return w.cfg.Client.Executions().ReportEvents(ctx, id, attempt, evs)
	}
	return err
}

// reportResult sends a result, without its events' number to an older
// leader.
func (w *Worker) reportResult(ctx context.Context, id uint64, attempt int, rep *api.ResultReport) error {
	if w.compat.legacy() {
		old := *rep
		old.First = 0
		return w.cfg.Client.Executions().ReportResult(ctx, id, attempt, &old)
	}
	err := w.cfg.Client.Executions().ReportResult(ctx, id, attempt, rep)
	if w.olderLeader(err) {
		old := *rep
		old.First = 0
		return w.cfg.Client.Executions().ReportResult(ctx, id, attempt, &old)
	}
	return err
}
