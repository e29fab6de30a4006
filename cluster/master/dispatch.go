package master

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/scaleout/scaleout/api"
	"github.com/scaleout/scaleout/catalog"
	"github.com/scaleout/scaleout/catalog/service"
	"github.com/scaleout/scaleout/fsm"
	"github.com/scaleout/scaleout/internal/lattrace"
)

// Poll is a worker's long-poll. It renews the leases of the attempts the
// worker runs, expires at once the attempts leased to it that it no longer
// runs (it restarted, or never received the lease), tells it which attempts
// to stop or drop, and leases it up to req.Slots pending executions. It
// answers as soon as there is something to say, or after req.WaitMS.
func (m *Master) Poll(ctx context.Context, workerID string, req *api.PollRequest) (*api.PollResponse, error) {
	if err := m.requireLeader(); err != nil {
		return nil, err
	}
	w, err := m.worker(workerID)
	if err != nil {
		return nil, err
	}
	wait := time.Duration(req.WaitMS) * time.Millisecond
	if wait > m.cfg.MaxPollWait {
		wait = m.cfg.MaxPollWait
	}
	if wait < 0 {
		wait = 0
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()

	m.mu.Lock()
	m.lastSeen[workerID] = m.now()
	stale := m.supersededPoll(workerID, req.Token)
	m.mu.Unlock()
	if stale != nil {
		return nil, stale
	}
	resp := &api.PollResponse{Tasks: []api.Task{}}
	running := make(map[uint64]api.AttemptRef, len(req.Running))
	for _, r := range req.Running {
		running[r.ID] = r
	}
	ended, err := m.reconcile(ctx, workerID, req, running, resp)
	if err != nil {
		return nil, err
	}
	slots := max(req.Slots-len(resp.Tasks), 0) // less the attempts handed again
	var retryTimer *time.Timer
	defer func() {
		if retryTimer != nil {
			retryTimer.Stop()
		}
	}()
	for {
		changed := m.fsm.Changed()
		var retryDue <-chan time.Time // a retry delay ends within the wait
		if slots > 0 && w.Enabled && !w.Unapproved {
			tasks, wake, err := m.lease(ctx, w, slots, req.Token)
			if err != nil {
				return nil, err
			}
			resp.Tasks = append(resp.Tasks, tasks...)
			slots -= len(tasks)
			if !wake.IsZero() {
				if retryTimer != nil {
					retryTimer.Stop()
				}
				retryTimer = time.NewTimer(max(wake.Sub(m.now()), time.Millisecond))
				retryDue = retryTimer.C
			}
		}
		if len(resp.Tasks) > 0 || len(resp.Stop) > 0 || len(resp.Drop) > 0 {
			for _, t := range resp.Tasks {
				lattrace.Stamp(t.ID, "m.poll.ret")
			}
			return resp, nil
		}
		// Wait parked: a submission may lease to this poll directly
		// (handoff.go).
		p := m.park(w, slots, req.Token)
		leave := false
		var err error
		select {
		case <-changed:
			lattrace.Stamp(0, "m.poll.wake")
			// A stop request or new work may have arrived, or an attempt
			// the worker is reporting has ended: then it has a free slot
			// and should poll again with it.
			var n int
			if n, err = m.checkStops(running, resp); err == nil {
				leave = n > ended
			}
			if err == nil && !leave {
				w, err = m.worker(workerID)
			}
		case <-p.wakeC():
		case <-retryDue:
		case <-timer.C:
			leave = true
		case <-ctx.Done():
			leave = true
		}
		tasks, uerr := m.unpark(p)
		if uerr != nil {
			// A submission that leased to this poll may have been
			// committed: fail, so that the worker asks for it again.
			return nil, uerr
		}
		if len(tasks) > 0 {
			for _, t := range tasks {
				lattrace.Stamp(t.ID, "m.poll.ret")
			}
			resp.Tasks = append(resp.Tasks, tasks...)
			return resp, nil // committed leases of this poll: they go out whatever else failed
		}
		if err != nil {
			return nil, err
		}
		if leave {
			return resp, nil
		}
		if err := m.requireLeader(); err != nil {
			return nil, err
		}
	}
}

// pollToken is a parsed api.PollRequest.Token: the worker process's boot id
// and the poll's number.
type pollToken struct {
	boot string
	seq  uint64
}

func parsePollToken(s string) (pollToken, bool) {
	i := strings.LastIndexByte(s, '-')
	if i <= 0 {
		return pollToken{}, false
	}
	seq, err := strconv.ParseUint(s[i+1:], 10, 64)
	return pollToken{boot: s[:i], seq: seq}, err == nil
}

// supersededPoll returns an error for a poll older than one of the same
// worker process already seen, and otherwise records it as the newest.
// Such a poll was abandoned by its worker (it timed out and polled again)
// and arrives late (a slow forward, a busy leader): its list of running
// attempts is out of date, and reconciling it would expire attempts the
// worker started since. Callers hold m.mu.
func (m *Master) supersededPoll(workerID, token string) error {
	t, ok := parsePollToken(token)
	if !ok {
		return nil // an older worker: no token
	}
	if last, seen := m.newest[workerID]; seen && last.boot == t.boot && t.seq < last.seq {
		return service.Classify(catalog.ErrStaleAttempt, fmt.Errorf("poll %s of worker %s is older than poll %d it sent since; ignored", token, workerID, last.seq))
	}
	m.newest[workerID] = t
	return nil
}

func (m *Master) worker(id string) (*catalog.Worker, error) {
	w, err := catalog.Read(m.store, func(tx *catalog.Tx) (*catalog.Worker, error) { return tx.Worker(id) })
	if errors.Is(err, catalog.ErrNotFound) {
		return nil, service.Classify(catalog.ErrNotFound, fmt.Errorf("worker %q is not registered", id))
	}
	return w, err
}

// reconcile renews the leases of running attempts, marks those to stop or
// drop, hands again the attempts leased by a poll whose answer the worker
// says it did not receive (resp.Tasks), and expires the other attempts
// leased to this worker that it does not report. It returns how many of
// the worker's ending attempts have already ended.
func (m *Master) reconcile(ctx context.Context, workerID string, req *api.PollRequest, running map[uint64]api.AttemptRef, resp *api.PollResponse) (int, error) {
	ended, err := m.checkStops(running, resp)
	if err != nil {
		return 0, err
	}
	deadline := m.now().Add(m.cfg.LeaseTimeout)
	var lost []fsm.ExpireItem
	again := map[uint64]int{} // id: attempt, leased by an unanswered poll
	m.mu.Lock()
	for id, r := range running {
		if l := m.leases[id]; l != nil && l.attempt == r.Attempt && l.worker == workerID {
			l.deadline = deadline
		}
	}
	for id, l := range m.leases {
		if l.worker != workerID || m.inflight[id] {
			continue
		}
		if r, ok := running[id]; !ok || r.Attempt != l.attempt {
			if !ok && l.poll != "" && slices.Contains(req.Unanswered, l.poll) {
				again[id] = l.attempt
				continue
			}
			lost = append(lost, fsm.ExpireItem{ID: id, Attempt: l.attempt,
				Reason: fmt.Sprintf("worker %s no longer runs it", workerID)})
		}
	}
	m.mu.Unlock()
	if len(again) > 0 {
		tasks, unknown, err := m.handAgain(workerID, again)
		if err != nil {
			return 0, err
		}
		for _, t := range tasks {
			m.logger.Info("attempt handed again: the poll that leased it was not answered", "id", t.ID, "attempt", t.Attempt, "worker", workerID)
		}
		resp.Tasks = append(resp.Tasks, tasks...)
		m.mu.Lock()
		for _, t := range tasks {
			if l := m.leases[t.ID]; l != nil && l.attempt == t.Attempt {
				l.deadline, l.poll = deadline, req.Token
			}
		}
		m.mu.Unlock()
		for _, it := range unknown {
			it.Reason = fmt.Sprintf("worker %s no longer runs it", workerID)
			lost = append(lost, it)
		}
	}
	if len(lost) > 0 {
		m.expire(ctx, lost)
	}
	return ended, nil
}

// handAgain builds the tasks of attempts leased to workerID by a poll it
// did not receive the answer of: they never started, so the same attempt
// is handed over again (no new attempt, no Raft command). Attempts that
// are no longer running on that worker (stopped, ended) come back in
// unknown, to be expired as lost.
func (m *Master) handAgain(workerID string, again map[uint64]int) (tasks []api.Task, unknown []fsm.ExpireItem, err error) {
	err = m.store.View(func(tx *catalog.Tx) error {
		for id, attempt := range again {
			e, err := tx.Execution(id)
			if errors.Is(err, catalog.ErrNotFound) {
				continue
			} else if err != nil {
				return err
			}
			if e.Status != catalog.StatusRunning || e.Attempt != attempt || e.Worker != workerID {
				unknown = append(unknown, fsm.ExpireItem{ID: id, Attempt: attempt})
				continue
			}
			t, err := m.task(e, attempt)
			if err != nil {
				unknown = append(unknown, fsm.ExpireItem{ID: id, Attempt: attempt})
				continue
			}
			tasks = append(tasks, t)
		}
		return nil
	})
	return tasks, unknown, err
}

// checkStops fills resp.Stop and resp.Drop from the state of the attempts
// the worker runs, and counts the ending attempts whose result is applied.
func (m *Master) checkStops(running map[uint64]api.AttemptRef, resp *api.PollResponse) (ended int, err error) {
	if len(running) == 0 {
		return 0, nil
	}
	resp.Stop, resp.Drop = resp.Stop[:0], resp.Drop[:0]
	err = m.store.View(func(tx *catalog.Tx) error {
		for id, r := range running {
			ref := api.AttemptRef{ID: id, Attempt: r.Attempt}
			e, err := tx.ExecutionState(id) // every poll, every attempt: not the whole record
			if errors.Is(err, catalog.ErrNotFound) {
				resp.Drop = append(resp.Drop, ref)
				continue
			} else if err != nil {
				return err
			}
			switch {
			case r.Ending:
				if e.CheckReport(r.Attempt) != nil {
					ended++
				}
			case e.CheckReport(r.Attempt) != nil:
				resp.Drop = append(resp.Drop, ref)
			case e.Status == catalog.StatusStopping && !r.Stopping:
				resp.Stop = append(resp.Stop, ref)
			}
		}
		return nil
	})
	return ended, err
}

// maxPendingScan bounds how many pending executions one lease decision
// reads (decodes) to find ones the worker may run; maxPendingSkip bounds
// the index entries it passes over without decoding them (waiting for a
// retry delay or a full cap), so that a cap with a long queue behind it
// does not hide the executions after that queue.
const (
	maxPendingScan = 4096
	maxPendingSkip = 1 << 18
)

// lease gives up to n pending executions that w may run in one command;
// poll is the token of the worker's poll that asks.
func (m *Master) lease(ctx context.Context, w *catalog.Worker, n int, poll string) ([]api.Task, time.Time, error) {
	workerID := w.ID
	var items []fsm.LeaseItem
	var wake time.Time // the earliest retry delay that ends: poll again then
	now := m.now()
	err := m.store.View(func(tx *catalog.Tx) error {
		// w was read when the poll arrived or last woke; a disable, a
		// relabel or a removal applied since then counts (an acknowledged
		// disable must stop new leases at once).
		cur, err := tx.Worker(workerID)
		if errors.Is(err, catalog.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if !cur.Enabled || cur.Unapproved {
			return nil
		}
		w = cur
		caps := catalog.NewCapCounter(tx)
		read, skipped := 0, 0
		for id, meta := range tx.PendingEntries(0) {
			if len(items) == n || read >= maxPendingScan || skipped >= maxPendingSkip {
				break
			}
			m.mu.Lock()
			busy := m.inflight[id]
			m.mu.Unlock()
			if busy {
				continue
			}
			if meta.NotBefore > now.UnixNano() {
				if t := time.Unix(0, meta.NotBefore); wake.IsZero() || t.Before(wake) {
					wake = t
				}
				skipped++
				continue
			}
			if caps.Full(meta) {
				skipped++
				continue
			}
			read++
			e, err := tx.Execution(id)
			if err != nil {
				return err
			}
			if e.Matches(w) {
				caps.Take(meta)
				items = append(items, fsm.LeaseItem{ID: id, Attempt: e.Attempt + 1})
			}
		}
		return nil
	})
	if err != nil || len(items) == 0 {
		return nil, wake, err
	}
	// Claim the ids so that concurrent polls do not propose the same lease;
	// the FSM rejects a duplicate anyway, this only avoids the wasted entry.
	m.mu.Lock()
	claimed := items[:0]
	for _, it := range items {
		if !m.inflight[it.ID] {
			m.inflight[it.ID] = true
			claimed = append(claimed, it)
		}
	}
	m.mu.Unlock()
	if len(claimed) == 0 {
		return nil, wake, nil
	}
	defer func() {
		m.mu.Lock()
		for _, it := range claimed {
			delete(m.inflight, it.ID)
		}
		m.mu.Unlock()
	}()
	now = m.now()
	for _, it := range claimed {
		lattrace.Stamp(it.ID, "m.lease.prop")
	}
	resp, err := m.apply(ctx, fsm.ExecutionLeaseType, &fsm.ExecutionLeaseRequest{Time: now, Worker: workerID, Items: claimed, Poll: poll})
	if err != nil {
		return nil, wake, err
	}
	for _, it := range claimed {
		lattrace.Stamp(it.ID, "m.lease.applied")
	}
	ir, _ := resp.(*fsm.ItemsResponse)
	tasks, err := m.handOut(ctx, workerID, poll, claimed, ir.Err, now)
	return tasks, wake, err
}

// task turns attempt n of e into the complete task its worker runs: the
// spec's values with every sealed one opened, and the clear sensitive
// values listed so that they are masked in events.
func (m *Master) task(e *catalog.Execution, n int) (api.Task, error) {
	t := api.Task{ID: e.ID, Attempt: n, PackageName: e.PackageName, PackageFile: e.PackageFile, Package: e.Source,
		ArchiveHash: e.ArchiveHash, LoggingLevel: e.LoggingLevel}
	var err error
	if t.Params, err = m.open("parameter", e.Params, &t.Secrets); err != nil {
		return api.Task{}, err
	}
	if t.ProjectParams, err = m.open("project parameter", e.ProjectParams, &t.Secrets); err != nil {
		return api.Task{}, err
	}
	for _, c := range e.Connections {
		props, err := m.open("connection "+c.Name+" property", c.Properties, &t.Secrets)
		if err != nil {
			return api.Task{}, err
		}
		t.Connections = append(t.Connections, api.Connection{Name: c.Name, Type: c.Type, Description: c.Description, Properties: props})
	}
	return t, nil
}

// open returns values with the sealed ones opened (values itself when none
// is sealed) and appends each opened value to secrets.
func (m *Master) open(what string, values map[string]string, secrets *[]string) (map[string]string, error) {
	var out map[string]string
	for _, k := range sortedKeys(values) {
		v := values[k]
		if !catalog.IsSealed(v) {
			continue
		}
		if m.cfg.Cipher == nil {
			return nil, fmt.Errorf("%s %s is sealed and this server has no key", what, k)
		}
		clear, err := m.cfg.Cipher.Open(v)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", what, k, err)
		}
		if out == nil {
			out = maps.Clone(values)
		}
		out[k] = clear
		if clear != "" {
			*secrets = append(*secrets, clear)
		}
	}
	if out == nil {
		return values, nil
	}
	return out, nil
}

// alreadyEnded reports whether err refuses a result that was committed
// before: the execution ended with this attempt and this status. The
// worker sent it again because the answer was lost (a leader died after
// the commit); that is a success, not a stale report.
func (m *Master) alreadyEnded(id uint64, attempt int, st catalog.Status, err error) bool {
	if !errors.Is(err, catalog.ErrStaleAttempt) {
		return false
	}
	e, rerr := m.Execution(id)
	return rerr == nil && e.Attempt == attempt && e.Status == st
}

func (m *Master) renew(id uint64, attempt int) {
	m.mu.Lock()
	if l := m.leases[id]; l != nil && l.attempt == attempt {
		l.deadline = m.now().Add(m.cfg.LeaseTimeout)
	}
	m.mu.Unlock()
}

// ReportEvents commits a batch of events of a running attempt; it also counts
// as a heartbeat of that attempt.
func (m *Master) ReportEvents(ctx context.Context, id uint64, attempt int, first uint64, evs []catalog.Event) error {
	if err := m.requireLeader(); err != nil {
		return err
	}
	catalog.ClipEvents(evs) // bytes per event: cut here, so the command stays small
	if err := m.events.do(ctx, fsm.EventsItem{ID: id, Attempt: attempt, Events: evs, First: first}); err != nil {
		return err
	}
	m.renew(id, attempt)
	return nil
}

// ReportResult ends an attempt with the worker's result and its last events.
func (m *Master) ReportResult(ctx context.Context, id uint64, attempt int, r *api.ResultReport, evs []catalog.Event) error {
	lattrace.Stamp(id, "m.res.in")
	if err := m.requireLeader(); err != nil {
		return err
	}
	catalog.ClipEvents(evs)
	r.Message = catalog.ClipMessage(r.Message)
	switch catalog.Status(r.Status) {
	case catalog.StatusSucceeded, catalog.StatusFailed, catalog.StatusCanceled:
		err := m.finishes.do(ctx, fsm.FinishItem{ID: id, Attempt: attempt, Status: catalog.Status(r.Status), Message: r.Message, Events: evs, First: r.First})
		if err != nil && !m.alreadyEnded(id, attempt, catalog.Status(r.Status), err) {
			return err
		}
	case api.ResultInterrupted, api.ResultHandedBack:
		if len(evs) > 0 {
			if err := m.ReportEvents(ctx, id, attempt, r.First, evs); err != nil {
				return err
			}
		}
		resp, err := m.apply(ctx, fsm.ExecutionExpireType, &fsm.ExecutionExpireRequest{Time: m.now(),
			Items: []fsm.ExpireItem{{ID: id, Attempt: attempt, Reason: r.Message,
				Interrupted: r.Status == api.ResultInterrupted, HandBack: r.Status == api.ResultHandedBack}}})
		if err != nil {
			return err
		}
		if err := resp.(*fsm.ItemsResponse).Err(0); err != nil {
			return err
		}
	default:
		return invalid(fmt.Errorf("invalid result status %q (want succeeded, failed, canceled, interrupted or handed_back)", r.Status))
	}
	m.mu.Lock()
	if l := m.leases[id]; l != nil && l.attempt == attempt {
		delete(m.leases, id)
	}
	m.mu.Unlock()
	return nil
}
