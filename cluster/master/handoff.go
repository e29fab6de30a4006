package master

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/scaleout/scaleout/api"
	"github.com/scaleout/scaleout/catalog"
	"github.com/scaleout/scaleout/catalog/service"
	"github.com/scaleout/scaleout/fsm"
)

// Hand-off at submission: the idle path of dispatch.
//
// A worker's poll that finds nothing to lease waits on the leader
// ("parked") with its free slots. A submission that arrives while polls
// are parked and nothing else is pending is proposed as one
// ExecutionSubmitLease command that creates the executions and leases them
// to those polls' workers in the same entry, and the parked polls answer
// with the tasks once it is applied. On an idle cluster that is one Raft
// commit between a submission and the start of its attempt instead of two
// (the submission, then the lease that the woken poll proposes), and no
// lease scan. Nothing about the lease changes: it is committed before the
// worker hears of it (fencing), it names the poll that carries it (an
// answer that is lost is handed again, as for any lease), and the FSM
// checks it in log order like any other (pending, attempt 1, caps).
//
// The hand-off only applies when it cannot change the order of work: with
// any execution pending, a submission goes the usual way (it is queued,
// and the polls' lease scans take the queue in its order). Under load
// polls are seldom parked, so that is the usual way too.

// parkedPoll is a worker's poll that waits on this leader with free slots
// after a lease scan found nothing for it. Its fields are guarded by m.mu.
type parkedPoll struct {
	worker  *catalog.Worker
	token   string
	free    int           // slots not yet promised to a submission
	pending int           // submissions proposed with leases for it, not yet applied
	tasks   []api.Task    // leased to it by applied submissions, not yet answered
	failed  error         // a submission with leases for it failed with an unknown outcome
	wake    chan struct{} // a value after each change of pending (buffered 1)
}

// wakeC is the channel a parked poll waits on (nil, which blocks, for no
// poll).
func (p *parkedPoll) wakeC() <-chan struct{} {
	if p == nil {
		return nil
	}
	return p.wake
}

// park registers the poll of w with slots free slots as parked; nil when
// it cannot take work (no slot, disabled or unapproved worker). A worker's
// newer poll replaces an older one that is still parked (abandoned by the
// worker).
func (m *Master) park(w *catalog.Worker, slots int, token string) *parkedPoll {
	if slots <= 0 || !w.Enabled || w.Unapproved {
		return nil
	}
	p := &parkedPoll{worker: w, token: token, free: slots, wake: make(chan struct{}, 1)}
	m.mu.Lock()
	m.parked[w.ID] = p
	m.mu.Unlock()
	return p
}

// unpark takes p off the parked polls and returns what submissions leased
// to it. It first waits for the submissions that are still being
// committed with a lease for it: those leases name this poll, so its answer
// must carry them (a worker that never hears of an attempt leased to it
// would have it expired as lost). The wait ends with the commit (or its
// failure), which the apply timeout bounds.
//
// When a submission that leased to it failed with an unknown outcome (it
// may have been committed, as when leadership is lost while committing),
// unpark returns an error: the poll must fail, so that its worker lists
// it as unanswered and the next poll is handed whatever it leased. An
// empty answer would tell the worker that nothing was leased, and a
// committed lease would then be expired as lost.
func (m *Master) unpark(p *parkedPoll) ([]api.Task, error) {
	if p == nil {
		return nil, nil
	}
	m.mu.Lock()
	if m.parked[p.worker.ID] == p {
		delete(m.parked, p.worker.ID)
	}
	for p.pending > 0 {
		m.mu.Unlock()
		<-p.wake
		m.mu.Lock()
	}
	tasks, failed := p.tasks, p.failed
	p.tasks = nil
	m.mu.Unlock()
	return tasks, failed
}

// claimParked picks, for each execution of a submission that can start
// at once, a parked poll with a free slot whose worker may run it (the
// poll with the most free slots). It claims nothing while an execution is
// pending, while this server is not a ready leader, or while a server of
// the configuration does not apply ExecutionSubmitLease (a rolling
// upgrade). owners[i] is the poll of leases[i]; every poll in owners has
// pending raised once per claim and must be released by deliverParked.
func (m *Master) claimParked(execs []fsm.NewExecution) (leases []fsm.SubmitLease, owners []*parkedPoll) {
	m.mu.Lock()
	ids := make([]string, 0, len(m.parked))
	for id := range m.parked {
		ids = append(ids, id)
	}
	m.mu.Unlock()
	if len(ids) == 0 || !m.raft.Supports(fsm.ExecutionSubmitLeaseType) {
		return nil, nil
	}
	// A parked poll holds its worker as it was when it parked; a disable
	// (or relabel, or removal) applied since then must count, or a worker
	// disabled by an acknowledged request would still be handed the next
	// submission before its poll wakes up. The store has applied every
	// acknowledged write, so the records read here are current.
	queued := false
	current := make(map[string]*catalog.Worker, len(ids))
	err := m.store.View(func(tx *catalog.Tx) error {
		for range tx.PendingEntries(1) {
			queued = true
		}
		for _, id := range ids {
			if w, err := tx.Worker(id); err == nil && w.Enabled && !w.Unapproved {
				current[id] = w
			}
		}
		return nil
	})
	if err != nil || queued {
		return nil, nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.ready {
		return nil, nil
	}
	for i := range execs {
		s := &execs[i].ExecutionSpec
		if s.Unstarted {
			continue
		}
		var best *parkedPoll
		for id, p := range m.parked {
			if w := current[id]; w != nil && p.free > 0 && s.Matches(w) && (best == nil || p.free > best.free) {
				best = p
			}
		}
		if best == nil {
			continue
		}
		best.free--
		best.pending++
		leases = append(leases, fsm.SubmitLease{Index: i, Worker: best.worker.ID, Poll: best.token})
		owners = append(owners, best)
	}
	return leases, owners
}

// submitLeased proposes req with leases as one ExecutionSubmitLease
// command. When the cluster refuses the command (a server of an older
// version joined since claimParked looked), it proposes req alone.
func (m *Master) submitLeased(ctx context.Context, req *fsm.ExecutionSubmitRequest, leases []fsm.SubmitLease) (any, bool, error) {
	resp, err := m.apply(ctx, fsm.ExecutionSubmitLeaseType, &fsm.ExecutionSubmitLeaseRequest{ExecutionSubmitRequest: *req, Leases: leases})
	if errors.Is(err, service.ErrOlderServers) {
		resp, err = m.apply(ctx, fsm.ExecutionSubmitType, req)
		return resp, false, err
	}
	return resp, true, err
}

// deliverParked hands the attempts that an applied submission leased to
// the polls they were claimed for (sr nil: nothing was leased, or failed:
// the command failed and may still have been committed) and releases
// every claim, waking the polls.
func (m *Master) deliverParked(ctx context.Context, leases []fsm.SubmitLease, owners []*parkedPoll, sr *fsm.SubmitResponse, failed error, at time.Time) {
	byPoll := map[*parkedPoll][]fsm.LeaseItem{}
	if sr != nil && sr.Leased != nil {
		for i, l := range leases {
			if sr.Leased.Err(i) == nil && l.Index < len(sr.IDs) {
				byPoll[owners[i]] = append(byPoll[owners[i]], fsm.LeaseItem{ID: sr.IDs[l.Index], Attempt: 1})
			}
		}
	}
	handed := map[*parkedPoll][]api.Task{}
	for p, items := range byPoll {
		tasks, err := m.handOut(ctx, p.worker.ID, p.token, items, nil, at)
		if err != nil {
			// The leases are committed; the worker's next poll does not
			// list them and they are expired as lost, as for a lease
			// whose answer could not be built.
			m.logger.Error("hand leased attempts to a waiting poll", "worker", p.worker.ID, "count", len(items), "error", err)
		}
		handed[p] = tasks
	}
	m.mu.Lock()
	for i, p := range owners {
		if sr == nil || sr.Leased == nil || sr.Leased.Err(i) != nil {
			p.free++ // the claim did not become a lease
		}
	}
	released := map[*parkedPoll]bool{}
	for _, p := range owners {
		if released[p] {
			continue
		}
		released[p] = true
		p.tasks = append(p.tasks, handed[p]...)
	}
	for _, p := range owners {
		p.pending--
		if failed != nil {
			p.failed = failed
		}
	}
	m.mu.Unlock()
	for p := range released {
		select {
		case p.wake <- struct{}{}:
		default:
		}
	}
}

// handOut builds the tasks of attempts just leased to workerID (items;
// errs(i) non-nil for those the command refused), records their leases
// under the poll's token and ends with a message those whose sealed values
// cannot be opened here. at is the lease's time.
func (m *Master) handOut(ctx context.Context, workerID, poll string, items []fsm.LeaseItem, errs func(i int) error, at time.Time) ([]api.Task, error) {
	var tasks []api.Task
	var unusable []fsm.FinishItem // leased, but their sealed values cannot be opened here
	err := m.store.View(func(tx *catalog.Tx) error {
		for i, it := range items {
			if errs != nil && errs(i) != nil {
				continue
			}
			e, err := tx.Execution(it.ID)
			if err != nil {
				return err
			}
			t, err := m.task(e, it.Attempt)
			if err != nil {
				unusable = append(unusable, fsm.FinishItem{ID: e.ID, Attempt: it.Attempt, Status: catalog.StatusFailed,
					Message: fmt.Sprintf("cannot open its sensitive values on the leader (%v); do all servers have the same --encrypt-key?", err)})
				continue
			}
			tasks = append(tasks, t)
		}
		return nil
	})
	deadline := at.Add(m.cfg.LeaseTimeout)
	m.mu.Lock()
	for _, t := range tasks {
		m.leases[t.ID] = &lease{attempt: t.Attempt, worker: workerID, deadline: deadline, poll: poll}
	}
	m.mu.Unlock()
	if len(unusable) > 0 {
		// Retrying cannot help: every attempt would meet the same key.
		// End them with a message that says why instead of handing a
		// worker values it cannot use.
		if _, ferr := m.apply(ctx, fsm.ExecutionFinishType, &fsm.ExecutionFinishRequest{Time: m.now(), Items: unusable}); ferr != nil {
			m.logger.Error("fail executions with unopenable values", "count", len(unusable), "error", ferr)
		}
	}
	return tasks, err
}
