package master

import (
	"context"
	"fmt"
	"sync"

	"github.com/scaleout/scaleout/catalog"
	"github.com/scaleout/scaleout/cluster"
	"github.com/scaleout/scaleout/fsm"
	"github.com/scaleout/scaleout/internal/lattrace"
)

// coalescer gathers concurrent requests of one multi-item command into one
// Raft entry (group commit). Callers queue an item; a drainer takes the first
// waiting item and, without lingering, every other item queued by then (up
// to max), proposes them as one command and answers each caller from its
// per-item error. Under light load a batch is one item and costs nothing
// extra; under load the batch grows with the queue, so the number of Raft
// entries per execution falls as concurrency rises.
//
// raft's BatchApplyCh already puts concurrent entries into one log write and
// one FSM transaction; coalescing on top of it saves what is still paid per
// entry: encoding, a log record, a future and its response, and the
// per-command overhead of the FSM (docs/PERFORMANCE.md has the figures).
//
// Several drainers run at once so that one batch in flight does not stall
// the next: raft pipelines them.
type coalescer[T any] struct {
	max   int
	apply func(ctx context.Context, items []T) ([]error, error)
	queue chan *coalesced[T]
	done  chan struct{}
	wg    sync.WaitGroup
}

// coalesced is one queued item and where its answer goes.
type coalesced[T any] struct {
	item T
	ctx  context.Context
	res  chan error
}

// newCoalescer starts drainers goroutines that propose batches of up to max
// items with apply. apply returns per-item errors (nil entries for success)
// or an error for the whole batch.
func newCoalescer[T any](max, drainers int, apply func(ctx context.Context, items []T) ([]error, error)) *coalescer[T] {
	c := &coalescer[T]{max: max, apply: apply, queue: make(chan *coalesced[T], 4*max), done: make(chan struct{})}
	for range drainers {
		c.wg.Add(1)
		go c.drain()
	}
	return c
}

// do queues item and waits for its result. If ctx ends first the item may
// still be applied (as with any Raft apply that times out).
func (c *coalescer[T]) do(ctx context.Context, item T) error {
	q := &coalesced[T]{item: item, ctx: ctx, res: make(chan error, 1)}
	select {
	case <-c.done:
		return errClosed
	default:
	}
	select {
	case c.queue <- q:
	case <-ctx.Done():
		return ctx.Err()
	case <-c.done:
		return errClosed
	}
	select {
	case err := <-q.res:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *coalescer[T]) drain() {
	defer c.wg.Done()
	batch := make([]*coalesced[T], 0, c.max)
	items := make([]T, 0, c.max)
	for {
		batch, items = batch[:0], items[:0]
		select {
		case <-c.done:
			return
		case q := <-c.queue:
			batch = append(batch, q)
		}
	more:
		for len(batch) < c.max {
			select {
			case q := <-c.queue:
				batch = append(batch, q)
			default:
				break more
			}
		}
		// The batch is proposed under the longest remaining deadline of
		// its callers, bounded by the cluster's apply timeout when none
		// has one.
		ctx, cancel := batchContext(batch)
		var live []*coalesced[T]
		for _, q := range batch {
			if q.ctx.Err() == nil {
				live = append(live, q)
				items = append(items, q.item)
			} else {
				q.res <- q.ctx.Err()
			}
		}
		if len(live) == 0 {
			cancel()
			continue
		}
		errs, err := c.apply(ctx, items)
		cancel()
		for i, q := range live {
			switch {
			case err != nil:
				q.res <- err
			case i < len(errs):
				q.res <- errs[i]
			default:
				q.res <- nil
			}
		}
	}
}

func batchContext[T any](batch []*coalesced[T]) (context.Context, context.CancelFunc) {
	var latest context.Context
	for _, q := range batch {
		dl, ok := q.ctx.Deadline()
		if !ok {
			return context.WithCancel(context.Background())
		}
		if latest == nil {
			latest = q.ctx
		} else if l, _ := latest.Deadline(); dl.After(l) {
			latest = q.ctx
		}
	}
	dl, _ := latest.Deadline()
	return context.WithDeadline(context.Background(), dl)
}

// close stops the drainers; queued callers get errClosed or their context's
// error.
func (c *coalescer[T]) close() {
	close(c.done)
	c.wg.Wait()
	for {
		select {
		case q := <-c.queue:
			q.res <- errClosed
		default:
			return
		}
	}
}

// errClosed answers requests queued when the master stops.
var errClosed = cluster.ErrShutdown

// submitItem is one submission: one execution, or all of a bulk
// submission (atomic); the drainer fills in ids.
type submitItem struct {
	caller string
	specs  []catalog.ExecutionSpec
	atomic bool
	ids    []uint64
}

// startCoalescers creates the coalescers of submissions, results, event
// batches and stops. Two drainers each keep up to two batches in flight.
func (m *Master) startCoalescers() {
	n, drainers := m.cfg.CoalesceMax, 2
	if n == 1 {
		// Not coalescing: one command per request, as many in flight as
		// there are callers (raft still batches them on its own).
		drainers = 64
	}
	m.submits = newCoalescer(n, drainers, m.applySubmits)
	m.finishes = newCoalescer(n, drainers, func(ctx context.Context, items []fsm.FinishItem) ([]error, error) {
		for _, it := range items {
			lattrace.Stamp(it.ID, "m.fin.prop")
		}
		errs, err := m.applyItems(ctx, fsm.ExecutionFinishType, &fsm.ExecutionFinishRequest{Time: m.now(), Items: items})
		for _, it := range items {
			lattrace.Stamp(it.ID, "m.fin.applied")
		}
		return errs, err
	})
	m.events = newCoalescer(n, drainers, func(ctx context.Context, items []fsm.EventsItem) ([]error, error) {
		return m.applyItems(ctx, fsm.ExecutionEventsType, &fsm.ExecutionEventsRequest{Time: m.now(), Items: items})
	})
	m.stops = newCoalescer(n, drainers, func(ctx context.Context, items []fsm.StopItem) ([]error, error) {
		return m.applyItems(ctx, fsm.ExecutionStopsType, &fsm.ExecutionStopsRequest{Time: m.now(), Items: items})
	})
}

// applySubmits creates the executions of several submissions in one
// command. A bulk submission comes alone and atomic (all or none);
// coalesced single submissions fail or succeed each on its own.
func (m *Master) applySubmits(ctx context.Context, items []*submitItem) ([]error, error) {
	req := &fsm.ExecutionSubmitRequest{Time: m.now()}
	if len(items) == 1 {
		req.Caller, req.Atomic = items[0].caller, items[0].atomic
	}
	for _, it := range items {
		for _, s := range it.specs {
			n := fsm.NewExecution{ExecutionSpec: s}
			if len(items) > 1 {
				n.Caller = it.caller
			}
			req.Executions = append(req.Executions, n)
		}
	}
	tprop := lattrace.Now()
	var resp any
	var err error
	if leases, owners := m.claimParked(req.Executions); len(leases) > 0 {
		var combined bool
		resp, combined, err = m.submitLeased(ctx, req, leases)
		sr, _ := resp.(*fsm.SubmitResponse)
		var failed error
		if err != nil || !combined {
			sr = nil
		}
		if err != nil && combined {
			failed = err
		}
		m.deliverParked(ctx, leases, owners, sr, failed, req.Time)
	} else {
		resp, err = m.apply(ctx, fsm.ExecutionSubmitType, req)
	}
	if err != nil {
		return nil, err
	}
	sr, ok := resp.(*fsm.SubmitResponse)
	if ok && len(sr.IDs) == 1 {
		lattrace.StampAt(sr.IDs[0], "m.sub.prop", tprop)
		lattrace.Stamp(sr.IDs[0], "m.sub.applied")
	}
	if !ok || len(sr.IDs) != len(req.Executions) {
		return nil, fmt.Errorf("unexpected submit response %T", resp)
	}
	errs := make([]error, len(items))
	k := 0
	for i, it := range items {
		it.ids = sr.IDs[k : k+len(it.specs) : k+len(it.specs)]
		for j := range it.specs {
			if err := sr.Err(k + j); err != nil && errs[i] == nil {
				errs[i] = err
			}
		}
		k += len(it.specs)
	}
	return errs, nil
}

// applyItems proposes a multi-item command and returns its per-item errors.
func (m *Master) applyItems(ctx context.Context, t fsm.MessageType, msg any) ([]error, error) {
	resp, err := m.apply(ctx, t, msg)
	if err != nil {
		return nil, err
	}
	ir, ok := resp.(*fsm.ItemsResponse)
	if !ok {
		return nil, fmt.Errorf("unexpected %s response %T", t, resp)
	}
	return ir.Errors, nil
}
