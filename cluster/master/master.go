package master

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/scaleout/scaleout/api"
	"github.com/scaleout/scaleout/catalog"
	"github.com/scaleout/scaleout/catalog/pkgspec"
	"github.com/scaleout/scaleout/catalog/service"
	"github.com/scaleout/scaleout/cluster"
	"github.com/scaleout/scaleout/cluster/internal/tick"
	"github.com/scaleout/scaleout/fsm"
	"github.com/scaleout/scaleout/internal/lattrace"
)

// Config configures the master.
type Config struct {
	// LeaseTimeout is how long an attempt stays leased without a heartbeat
	// (a worker poll or event report) before the leader expires it. It is
	// also the grace period a new leader gives to running attempts.
	LeaseTimeout time.Duration
	// ExpiryInterval is how often the leader looks for expired leases.
	ExpiryInterval time.Duration
	// MaxPollWait caps the long-poll wait a worker may ask for.
	MaxPollWait time.Duration
	// Cipher seals the values of sensitive parameters of inline packages
	// before they enter the Raft log; they are opened only in the lease
	// answer to the worker. Nil keeps them in clear (tests only).
	Cipher *catalog.Cipher
	// MaxEvents caps the events kept per execution (0: no cap); the last
	// one kept says the log was truncated.
	MaxEvents uint64
	// CoalesceMax is the most requests (submissions, results, event
	// batches) the leader gathers into one Raft command; 1 proposes one
	// command per request.
	CoalesceMax int
	// ACLRequired: this agent runs with TLS and without --insecure, so
	// requests need an ACL token from the start (before acl bootstrap
	// too); as leader it sets the replicated acl_required setting, which
	// makes every agent of the cluster agree (acl_required.go).
	ACLRequired bool
	// Logger receives master logs.
	Logger hclog.Logger
}

// DefaultConfig returns the defaults: a 10 s lease.
func DefaultConfig() Config {
	return Config{LeaseTimeout: 10 * time.Second, ExpiryInterval: 500 * time.Millisecond, MaxPollWait: 30 * time.Second,
		CoalesceMax: 256, MaxEvents: catalog.DefaultMaxEvents}
}

// Validate reports the first problem with c.
func (c *Config) Validate() error {
	switch {
	case c.LeaseTimeout <= 0:
		return errors.New("lease timeout must be positive")
	case c.ExpiryInterval <= 0:
		return errors.New("expiry interval must be positive")
	case c.MaxPollWait <= 0:
		return errors.New("max poll wait must be positive")
	case c.CoalesceMax <= 0:
		return errors.New("coalesce max must be positive")
	}
	return nil
}

// Raft is what the master needs of the cluster (*cluster.Cluster).
type Raft interface {
	Apply(ctx context.Context, t fsm.MessageType, msg any) (any, uint64, error)
	Barrier(ctx context.Context) error
	IsServer() bool
	IsLeader() bool
	Leader() (cluster.LeaderInfo, error)
	LeaderCh() <-chan bool
	Members() []cluster.Member
	MemberEvents() <-chan cluster.Member
	Peers() ([]cluster.Peer, error)
	RemovePeer(id string) error
	FSM() *fsm.FSM
	Store() *catalog.Store
	// Supports reports whether every server applies commands of a type
	// that older versions do not know.
	Supports(t fsm.MessageType) bool
}

// Master is the Scale Out Master service of one agent.
type Master struct {
	cfg    Config
	raft   Raft
	store  *catalog.Store
	fsm    *fsm.FSM
	logger hclog.Logger
	now    func() time.Time

	mu      sync.Mutex
	leading bool
	// ready is set once a new leader has applied everything committed
	// before its term (barrier) and rebuilt the lease table from it. Until
	// then its store may not yet hold the last leases of the old leader,
	// and a poll answered from it would tell a worker to drop an attempt
	// it rightly holds: the worker protocol waits for ready.
	ready    bool
	leases   map[uint64]*lease      // execution id -> current attempt's lease (leader only)
	inflight map[uint64]bool        // ids in a lease command not yet applied
	parked   map[string]*parkedPoll // worker id -> its poll waiting with free slots (handoff.go)
	lastSeen map[string]time.Time   // worker id -> last poll (leader only)
	newest   map[string]pollToken   // worker id -> newest poll token seen (leader only)
	stopLead context.CancelFunc

	// Coalescers gather concurrent requests into one Raft command each
	// (coalesce.go).
	submits  *coalescer[*submitItem]
	finishes *coalescer[fsm.FinishItem]
	stops    *coalescer[fsm.StopItem]
	events   *coalescer[fsm.EventsItem]
	parsed   parseCache

	done chan struct{}
	wg   sync.WaitGroup
}

type lease struct {
	attempt  int
	worker   string
	deadline time.Time
	poll     string // token of the worker's poll that leased (or last handed) it
}

// New returns a master over r and starts following leadership changes.
func New(cfg Config, r Raft) (*Master, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("master config: %w", err)
	}
	logger := cfg.Logger
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	m := &Master{
		cfg: cfg, raft: r, store: r.Store(), fsm: r.FSM(), logger: logger.Named("master"),
		now:    func() time.Time { return time.Now().UTC() },
		leases: map[uint64]*lease{}, inflight: map[uint64]bool{}, parked: map[string]*parkedPoll{}, lastSeen: map[string]time.Time{}, newest: map[string]pollToken{},
		done: make(chan struct{}),
	}
	m.startCoalescers()
	if r.IsServer() {
		m.wg.Add(1)
		go m.followLeadership()
	}
	return m, nil
}

// Close stops the master's loops.
func (m *Master) Close() {
	if !closeOnce(m.done) {
		return
	}
	m.mu.Lock()
	if m.stopLead != nil {
		m.stopLead()
	}
	m.mu.Unlock()
	m.wg.Wait()
	m.submits.close()
	m.finishes.close()
	m.stops.close()
	m.events.close()
}

// closeOnce closes done unless a Close before closed it, and reports
// whether it did (Close may be called more than once, from one goroutine
// at a time).
func closeOnce(done chan struct{}) bool {
	select {
	case <-done:
		return false
	default:
	}
	close(done)
	return true
}

func (m *Master) followLeadership() {
	defer m.wg.Done()
	if m.raft.IsLeader() {
		m.becomeLeader()
	}
	for {
		select {
		case <-m.done:
			return
		case isLeader := <-m.raft.LeaderCh():
			if isLeader {
				m.becomeLeader()
			} else {
				m.loseLeadership()
			}
		case mem := <-m.raft.MemberEvents():
			// Only a node that left has stopped its attempts (it handed
			// them back or reported them). A failed node may merely be cut
			// off and still running them: its worker kills them when its
			// own lease runs out, so giving them away now would run a
			// second copy beside the first. The lease expiry retries them.
			if mem.Status == cluster.StatusLeft {
				m.expireWorker(mem.Name, fmt.Sprintf("node %s left (gossip)", mem.Name))
			}
		}
	}
}

// becomeLeader rebuilds the lease table from the replicated state and starts
// the expiry loop. Every attempt that was running gets a full lease period
// from now to heartbeat to the new leader.
func (m *Master) becomeLeader() {
	m.mu.Lock()
	if m.leading {
		m.mu.Unlock()
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	m.leading = true
	m.stopLead = cancel
	m.mu.Unlock()

	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		// Make sure every committed entry is applied before reading state.
		for {
			bctx, bcancel := context.WithTimeout(ctx, 5*time.Second)
			err := m.raft.Barrier(bctx)
			bcancel()
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				return
			}
			m.logger.Warn("barrier after election failed; retrying", "error", err)
		}
		if err := m.rebuildLeases(); err != nil {
			m.logger.Error("rebuild lease table", "error", err)
		}
		m.mu.Lock()
		m.ready = m.leading && ctx.Err() == nil
		m.mu.Unlock()
		m.logger.Info("leading: lease table rebuilt", "active", m.leaseCount())
		m.expiryLoop(ctx)
	}()
}

func (m *Master) loseLeadership() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.leading {
		return
	}
	m.leading, m.ready = false, false
	m.stopLead()
	m.leases = map[uint64]*lease{}
	m.lastSeen = map[string]time.Time{}
	m.newest = map[string]pollToken{}
	m.logger.Info("no longer leading")
}

func (m *Master) leaseCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.leases)
}

func (m *Master) rebuildLeases() error {
	active, err := catalog.Read(m.store, (*catalog.Tx).ActiveExecutions)
	if err != nil {
		return err
	}
	deadline := m.now().Add(m.cfg.LeaseTimeout)
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, e := range active {
		if _, ok := m.leases[e.ID]; !ok {
			l := &lease{attempt: e.Attempt, worker: e.Worker, deadline: deadline}
			if n := len(e.Attempts); n > 0 && e.Attempts[n-1].N == e.Attempt {
				l.poll = e.Attempts[n-1].Poll
			}
			m.leases[e.ID] = l
		}
	}
	return nil
}

func (m *Master) expiryLoop(ctx context.Context) {
	var acl aclRequirer
	tick.Every(m.cfg.ExpiryInterval, ctx.Done(), func() {
		m.expireDue(ctx)
		acl.ensure(ctx, m)
	})
}

// expireDue ends every attempt whose lease ran out, in one command.
func (m *Master) expireDue(ctx context.Context) {
	now := m.now()
	var items []fsm.ExpireItem
	m.mu.Lock()
	for id, l := range m.leases {
		if now.After(l.deadline) {
			items = append(items, fsm.ExpireItem{ID: id, Attempt: l.attempt,
				Reason: fmt.Sprintf("no heartbeat from worker %s for %s", l.worker, m.cfg.LeaseTimeout)})
		}
	}
	m.mu.Unlock()
	if len(items) > 0 {
		m.expire(ctx, items)
	}
}

// expireWorker ends at once every attempt leased to worker id (its node was
// declared failed or left), if this server leads.
func (m *Master) expireWorker(id, reason string) {
	m.mu.Lock()
	if !m.leading {
		m.mu.Unlock()
		return
	}
	var items []fsm.ExpireItem
	for eid, l := range m.leases {
		if l.worker == id {
			items = append(items, fsm.ExpireItem{ID: eid, Attempt: l.attempt, Reason: reason})
		}
	}
	m.mu.Unlock()
	if len(items) > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		m.expire(ctx, items)
	}
}

// expire applies Expire for items and drops them from the lease table.
func (m *Master) expire(ctx context.Context, items []fsm.ExpireItem) {
	resp, _, err := m.raft.Apply(ctx, fsm.ExecutionExpireType, &fsm.ExecutionExpireRequest{Time: m.now(), Items: items})
	if err != nil {
		m.logger.Warn("expire attempts", "count", len(items), "error", err)
		return
	}
	ir, _ := resp.(*fsm.ItemsResponse)
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, it := range items {
		if l := m.leases[it.ID]; l != nil && l.attempt == it.Attempt {
			delete(m.leases, it.ID)
		}
		if err := ir.Err(i); err != nil {
			m.logger.Debug("expire skipped", "id", it.ID, "attempt", it.Attempt, "error", err)
		} else {
			m.logger.Info("attempt expired", "id", it.ID, "attempt", it.Attempt, "reason", it.Reason)
		}
	}
}

// requireLeader returns the error a call of the worker protocol gets on a
// follower, or on a new leader that has not yet caught up with its
// predecessor's leases (see ready).
func (m *Master) requireLeader() error {
	m.mu.Lock()
	ready := m.leading && m.ready
	m.mu.Unlock()
	if !ready || !m.raft.IsLeader() {
		return cluster.ErrNotLeader
	}
	return nil
}

func (m *Master) apply(ctx context.Context, t fsm.MessageType, msg any) (any, error) {
	resp, _, err := m.raft.Apply(ctx, t, msg)
	return resp, err
}

// Leader returns the current leader, or an error that is cluster.ErrNoLeader.
func (m *Master) Leader() (service.LeaderStatus, error) {
	li, err := m.raft.Leader()
	if err != nil {
		if !errors.Is(err, cluster.ErrNoLeader) {
			err = fmt.Errorf("%w: %w", cluster.ErrNoLeader, err)
		}
		return service.LeaderStatus{}, err
	}
	out := service.LeaderStatus{Node: li.Node, API: li.API}
	if m.store != nil {
		out.Index, _, _ = m.store.Applied()
	}
	return out, nil
}

// Health returns nil while this server's FSM applies the log, or an error
// (catalog.ErrStorage) naming the failure of its store. Worker-only agents
// have no store and are always healthy.
func (m *Master) Health() error {
	if m.fsm == nil {
		return nil
	}
	// The cluster also knows of its Raft log's failures (a full disk under
	// raft.db).
	if sh, ok := m.raft.(interface{ StorageHealth() error }); ok {
		if err := sh.StorageHealth(); err != nil {
			return fmt.Errorf("%w; this server refuses writes until it recovers", err)
		}
		return nil
	}
	h := m.fsm.Health()
	if h.Err == nil {
		return nil
	}
	return fmt.Errorf("%w since %s (%d retries): %v; this server applies nothing and refuses writes until it recovers",
		catalog.ErrStorage, h.Since.UTC().Format(time.RFC3339), h.Retries, h.Err)
}

// Changed returns a channel closed at the next applied change.
func (m *Master) Changed() <-chan struct{} { return m.fsm.Changed() }

// Submit validates an inline package and its parameter values and creates
// an execution. Nothing is written when validation fails.
func (m *Master) Submit(ctx context.Context, req *api.SubmitRequest, caller string) (uint64, error) {
	lattrace.Stamp(0, "m.sub.in")
	spec, err := m.inlineSpec(ctx, req)
	if err != nil {
		return 0, invalid(err)
	}
	ids, err := m.Create(ctx, []catalog.ExecutionSpec{spec}, caller)
	if err != nil {
		return 0, err
	}
	return ids[0], nil
}

// SubmitBulk validates every request and creates all the executions with one
// Raft command, or none of them when one is invalid. A package text shared
// by several requests is parsed once (parsecache.go).
func (m *Master) SubmitBulk(ctx context.Context, reqs []api.SubmitRequest, caller string) ([]uint64, error) {
	specs := make([]catalog.ExecutionSpec, 0, len(reqs))
	for i := range reqs {
		s, err := m.inlineSpec(ctx, &reqs[i])
		if err != nil {
			return nil, invalid(fmt.Errorf("execution %d of the request: %w", i, err))
		}
		specs = append(specs, s)
	}
	return m.Create(ctx, specs, caller)
}

// Create is the one way executions are created, inline and deployed
// packages alike: resolved specs go into one ExecutionSubmit command. One
// spec is coalesced with concurrent submissions; several (a bulk
// submission) are proposed on their own and created all or none.
func (m *Master) Create(ctx context.Context, specs []catalog.ExecutionSpec, caller string) ([]uint64, error) {
	if err := catalog.CheckCaller(caller); err != nil {
		return nil, err
	}
	for i := range specs {
		if err := m.prepareSpec(&specs[i]); err != nil {
			return nil, err
		}
	}
	if err := m.checkTargets(specs); err != nil {
		return nil, err
	}
	it := &submitItem{caller: caller, specs: specs, atomic: len(specs) > 1}
	if len(specs) > 1 {
		// A bulk submission is a batch already: coalescing it with others
		// would only make entries of megabytes and serialise them behind
		// the coalescer's drainers (measured: docs/PERFORMANCE.md).
		errs, err := m.applySubmits(ctx, []*submitItem{it})
		if err == nil {
			err = errs[0]
		}
		if err != nil {
			return nil, err
		}
		return it.ids, nil
	}
	if err := m.submits.do(ctx, it); err != nil {
		return nil, err
	}
	return it.ids, nil
}

// prepareSpec gives a resolved spec the master's defaults and checks it;
// every spec passes here before it is proposed (Create, schedule fires).
func (m *Master) prepareSpec(s *catalog.ExecutionSpec) error {
	if s.MaxEvents == 0 {
		s.MaxEvents = m.cfg.MaxEvents
	}
	if err := s.Check(); err != nil {
		return invalid(err)
	}
	return nil
}

// inlineSpec validates one inline submission (packages come from the parse
// cache) and resolves it into a spec, sensitive values sealed.
func (m *Master) inlineSpec(ctx context.Context, req *api.SubmitRequest) (catalog.ExecutionSpec, error) {
	if req.Package == "" {
		return catalog.ExecutionSpec{}, errors.New("package is empty")
	}
	if req.Retries < 0 {
		return catalog.ExecutionSpec{}, fmt.Errorf("retries must not be negative (got %d)", req.Retries)
	}
	// The sizes first: nothing large is parsed or resolved for nothing.
	probe := catalog.ExecutionSpec{PackageName: "-", PackageFile: req.File, Source: req.Package, Params: req.Params,
		TargetWorkers: req.Workers, TargetLabels: req.Labels}
	if err := probe.Check(); err != nil {
		return catalog.ExecutionSpec{}, err
	}
	file := req.File
	if file == "" {
		file = "package.yaml"
	}
	pkg, err := m.parsed.parse(ctx, file, req.Package)
	if err != nil {
		return catalog.ExecutionSpec{}, err
	}
	// Submitted alone, a package has no project to take connections from:
	// a connection it does not declare would only fail its run.
	if probs := pkg.UndeclaredConnections(file, nil); len(probs) > 0 {
		return catalog.ExecutionSpec{}, &pkgspec.ValidationError{Problems: probs}
	}
	params, err := pkg.ResolveParams(req.Params)
	if err != nil {
		return catalog.ExecutionSpec{}, err
	}
	var sensitive []string
	for _, p := range pkg.Parameters {
		if !p.Sensitive {
			continue
		}
		sensitive = append(sensitive, p.Name)
		if v, ok := params[p.Name]; ok && m.cfg.Cipher != nil {
			if params[p.Name], err = m.cfg.Cipher.Seal(v); err != nil {
				return catalog.ExecutionSpec{}, fmt.Errorf("seal parameter %s: %w", p.Name, err)
			}
		}
	}
	s := catalog.ExecutionSpec{
		PackageName: pkg.Name, PackageFile: file, Source: req.Package, Params: params,
		Sensitive: sensitive, Retries: req.Retries, TargetWorkers: req.Workers, TargetLabels: req.Labels,
	}
	if s.Notify, err = sealNotify(pkg.Notify, m.cfg.Cipher); err != nil {
		return catalog.ExecutionSpec{}, err
	}
	if err := QueueSpec(&s, req.QueueOptions); err != nil {
		return catalog.ExecutionSpec{}, err
	}
	if s.IdempotencyKey != "" {
		r := *req
		r.IdempotencyKey = ""
		s.RequestHash = requestHash(&r)
	}
	if err := s.Check(); err != nil {
		return catalog.ExecutionSpec{}, err
	}
	return s, nil
}

// Execution reads one execution from local state.
func (m *Master) Execution(id uint64) (*catalog.Execution, error) {
	return catalog.Read(m.store, func(tx *catalog.Tx) (*catalog.Execution, error) { return tx.Execution(id) })
}

// Executions lists executions from local state.
func (m *Master) Executions(o catalog.ListOptions) ([]*catalog.Execution, error) {
	out, err := catalog.Read(m.store, func(tx *catalog.Tx) ([]*catalog.Execution, error) { return tx.ListExecutions(o) })
	return out, err
}

// Events reads events of an execution with seq > after, and the execution.
func (m *Master) Events(id, after uint64, limit int) ([]catalog.Event, *catalog.Execution, error) {
	var evs []catalog.Event
	var e *catalog.Execution
	err := m.store.View(func(tx *catalog.Tx) error {
		var err error
		if e, err = tx.Execution(id); err != nil {
			return err
		}
		evs, err = tx.Events(id, after, limit)
		return err
	})
	return evs, e, err
}

// Stop asks an execution to end and returns its status afterwards.
func (m *Master) Stop(ctx context.Context, id uint64, caller string) (catalog.Status, error) {
	if err := m.stops.do(ctx, fsm.StopItem{ID: id, Caller: caller}); err != nil {
		return "", err
	}
	e, err := m.Execution(id)
	if err != nil {
		return "", err
	}
	return e.Status, nil
}

// StopMany stops executions with one ExecutionStops command (a bulk stop,
// not coalesced with single stops) and returns, per id, the status
// afterwards and the error of that id (not found, already ended).
func (m *Master) StopMany(ctx context.Context, ids []uint64, caller string) ([]catalog.Status, []error, error) {
	if len(ids) > catalog.MaxBulkStop {
		return nil, nil, invalid(fmt.Errorf("%d ids to stop; at most %d per request", len(ids), catalog.MaxBulkStop))
	}
	if err := catalog.CheckCaller(caller); err != nil {
		return nil, nil, err
	}
	items := make([]fsm.StopItem, len(ids))
	for i, id := range ids {
		items[i] = fsm.StopItem{ID: id, Caller: caller}
	}
	errs, err := m.applyItems(ctx, fsm.ExecutionStopsType, &fsm.ExecutionStopsRequest{Time: m.now(), Items: items})
	if err != nil {
		return nil, nil, err
	}
	sts := make([]catalog.Status, len(ids))
	err = m.store.View(func(tx *catalog.Tx) error {
		for i, id := range ids {
			if e, err := tx.Execution(id); err == nil {
				sts[i] = e.Status
			}
		}
		return nil
	})
	return sts, errs, err
}

// RegisterWorker registers a worker.
func (m *Master) RegisterWorker(ctx context.Context, w *catalog.Worker) error {
	if err := catalog.CheckWorker(w); err != nil {
		return err
	}
	_, err := m.apply(ctx, fsm.WorkerRegisterType, &fsm.WorkerRegisterRequest{Time: m.now(), Worker: *w})
	return err
}

// PendingReason says why a pending execution is not running, in plain
// words: no enabled worker may take it, it waits for its retry delay, or a
// concurrency cap is full. "" means it waits for a free slot on a worker.
func (m *Master) PendingReason(e *catalog.Execution) string {
	list, err := m.catalogWorkers()
	if err != nil {
		return ""
	}
	var disabled []string
	for _, w := range list {
		if e.Matches(w) {
			if w.Enabled && !w.Unapproved {
				return m.queueReason(e)
			}
			if w.Unapproved {
				disabled = append(disabled, w.ID+" (unapproved: scaleout workers approve "+w.ID+")")
			} else {
				disabled = append(disabled, w.ID)
			}
		}
	}
	target := describeTargets(&e.ExecutionSpec)
	if len(disabled) > 0 {
		return fmt.Sprintf("waiting for %s: the matching workers %s are disabled or unapproved", target, strings.Join(disabled, ", "))
	}
	return fmt.Sprintf("waiting for %s: no registered worker matches", target)
}
