package master

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/scaleout/scaleout/api"
	"github.com/scaleout/scaleout/catalog"
	"github.com/scaleout/scaleout/catalog/pkgspec"
	"github.com/scaleout/scaleout/fsm"
)

// QueueSpec copies the queue options of a request into spec (inline and
// deployed packages alike; the schedule code passes its own).
func QueueSpec(spec *catalog.ExecutionSpec, o api.QueueOptions) error {
	spec.Unstarted = o.Start != nil && !*o.Start
	spec.Priority = o.Priority
	spec.RetryBackoff = o.RetryBackoff
	spec.MaxConcurrent = o.MaxConcurrent
	spec.ConcurrencyGroup = o.ConcurrencyGroup
	spec.WaitForWorker = o.WaitForWorker
	spec.IdempotencyKey = o.IdempotencyKey
	spec.RetryDelay = 0
	if o.RetryDelay != "" {
		d, err := time.ParseDuration(o.RetryDelay)
		if err != nil {
			return fmt.Errorf("%w: retry delay %q: want a duration such as 30s or 5m", catalog.ErrInvalid, o.RetryDelay)
		}
		spec.RetryDelay = d
	}
	return nil
}

// requestHash fingerprints a client's request for an idempotency key (the
// key itself cleared by the caller), so that a key reused for a different
// request is refused rather than answered with the wrong execution.
func requestHash(req any) string {
	b, err := json.Marshal(req)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

// checkTargets refuses specs whose targets no registered worker matches,
// unless they ask to wait for one: such an execution would wait forever
// for a worker that may never come (a typo in --worker).
func (m *Master) checkTargets(specs []catalog.ExecutionSpec) error {
	var workers []*catalog.Worker
	loaded := false
	for i := range specs {
		s := &specs[i]
		if s.WaitForWorker || (len(s.TargetWorkers) == 0 && len(s.TargetLabels) == 0) {
			continue
		}
		if !loaded {
			var err error
			if workers, err = m.catalogWorkers(); err != nil {
				return err
			}
			loaded = true
		}
		if slices.ContainsFunc(workers, s.Matches) {
			continue
		}
		ids := make([]string, 0, len(workers))
		for _, w := range workers {
			ids = append(ids, w.ID)
		}
		registered := "no worker is registered"
		if len(ids) > 0 {
			registered = "registered workers: " + strings.Join(ids, ", ")
		}
		what := describeTargets(s)
		if len(specs) > 1 {
			what = fmt.Sprintf("execution %d of the request: %s", i, what)
		}
		return invalid(fmt.Errorf("no registered worker matches %s (%s); give wait_for_worker (--wait-for-worker) to queue it until one does", what, registered))
	}
	return nil
}

// describeTargets names an execution's targets in plain words:
// "worker w1 or w2 with labels gpu=yes, zone=a".
func describeTargets(s *catalog.ExecutionSpec) string {
	var parts []string
	switch len(s.TargetWorkers) {
	case 0:
	case 1:
		parts = append(parts, "worker "+s.TargetWorkers[0])
	default:
		parts = append(parts, "worker "+strings.Join(s.TargetWorkers, " or "))
	}
	if len(s.TargetLabels) > 0 {
		var ls []string
		for _, k := range sortedKeys(s.TargetLabels) {
			ls = append(ls, k+"="+s.TargetLabels[k])
		}
		word := "label "
		if len(ls) > 1 {
			word = "labels "
		}
		if len(parts) == 0 {
			parts = append(parts, "a worker")
		}
		parts = append(parts, "with "+word+strings.Join(ls, ", "))
	}
	if len(parts) == 0 {
		return "any worker"
	}
	return strings.Join(parts, " ")
}

// Start queues created executions (SSIS start_execution).
func (m *Master) Start(ctx context.Context, id uint64, caller string) (catalog.Status, error) {
	if err := catalog.CheckCaller(caller); err != nil {
		return "", err
	}
	e, err := m.Execution(id)
	if err != nil {
		return "", err
	}
	if e.Status == catalog.StatusCreated {
		if err := m.checkTargets([]catalog.ExecutionSpec{e.ExecutionSpec}); err != nil {
			return "", err
		}
	}
	errs, err := m.applyItems(ctx, fsm.ExecutionStartType, &fsm.ExecutionStartRequest{Time: m.now(),
		Items: []fsm.StartItem{{ID: id, Caller: caller}}})
	if err != nil {
		return "", err
	}
	if errs[0] != nil {
		return "", errs[0]
	}
	if e, err = m.Execution(id); err != nil {
		return "", err
	}
	return e.Status, nil
}

// SetExecution changes the values, targets or priority of a created
// execution. Values are checked against the package's (or project's)
// declarations and sealed when sensitive, as at creation.
func (m *Master) SetExecution(ctx context.Context, id uint64, req *api.SetExecutionRequest) error {
	e, err := m.Execution(id)
	if err != nil {
		return err
	}
	if e.Status != catalog.StatusCreated {
		if e.Status.Terminal() {
			return fmt.Errorf("%w: execution %d is %s", catalog.ErrAlreadyEnded, id, e.Status)
		}
		return fmt.Errorf("%w: execution %d is %s; values and targets change only before it starts", catalog.ErrNotCreated, id, e.Status)
	}
	next := e.ExecutionSpec
	next.Params, next.ProjectParams = maps.Clone(next.Params), maps.Clone(next.ProjectParams)
	next.Sensitive, next.ProjectSensitive = slices.Clone(next.Sensitive), slices.Clone(next.ProjectSensitive)
	var what []string
	if len(req.Params) > 0 {
		if err := m.setParams(ctx, &next, req.Params); err != nil {
			return invalid(err)
		}
		what = append(what, "parameters "+strings.Join(sortedKeys(req.Params), ", "))
	}
	if req.Workers != nil {
		next.TargetWorkers = slices.Clone(*req.Workers)
		what = append(what, "target workers")
	}
	if req.Labels != nil {
		next.TargetLabels = maps.Clone(*req.Labels)
		what = append(what, "target labels")
	}
	if req.Priority != nil {
		next.Priority = *req.Priority
		what = append(what, fmt.Sprintf("priority %d", next.Priority))
	}
	if len(what) == 0 {
		return invalid(errors.New("nothing to set: give params, workers, labels or priority"))
	}
	if err := next.Check(); err != nil {
		return invalid(err)
	}
	if req.Workers != nil || req.Labels != nil {
		if err := m.checkTargets([]catalog.ExecutionSpec{next}); err != nil {
			return err
		}
	}
	resp, err := m.apply(ctx, fsm.ExecutionSetSpecType, &fsm.ExecutionSetSpecRequest{Time: m.now(), ID: id,
		ExpectEvents: e.EventCount, Spec: next, What: strings.Join(what, "; ")})
	if err != nil {
		return err
	}
	if err, ok := resp.(error); ok && err != nil {
		return err
	}
	return nil
}

// setParams sets each value of params in s, canonical and sealed.
func (m *Master) setParams(ctx context.Context, s *catalog.ExecutionSpec, params map[string]string) error {
	var pkgDefs, projDefs []pkgspec.Parameter
	var version *catalog.ProjectVersion
	if s.FromProject() {
		pv, err := catalog.Read(m.store, func(tx *catalog.Tx) (*catalog.ProjectVersion, error) {
			return tx.ProjectVersion(s.Folder, s.Project, s.ProjectVersion)
		})
		if err != nil {
			return err
		}
		version = pv
		if p := pv.Package(s.PackageName); p != nil {
			pkgDefs = p.Parameters
		}
		projDefs = pv.Parameters
	} else {
		pkg, err := m.parsed.parse(ctx, s.PackageFile, s.Source)
		if err != nil {
			return err
		}
		for _, p := range pkg.Parameters {
			pkgDefs = append(pkgDefs, *p)
		}
	}
	var errs []error
	projectChanged := false
	for _, name := range sortedKeys(params) {
		v := params[name]
		var d *pkgspec.Parameter
		values, sensitive := &s.Params, &s.Sensitive
		switch {
		case strings.HasPrefix(name, ProjectParamPrefix) && findParam(projDefs, strings.TrimPrefix(name, ProjectParamPrefix)) != nil:
			d = findParam(projDefs, strings.TrimPrefix(name, ProjectParamPrefix))
			values, sensitive = &s.ProjectParams, &s.ProjectSensitive
		case findParam(pkgDefs, name) != nil:
			d = findParam(pkgDefs, name)
		case findParam(projDefs, name) != nil:
			d = findParam(projDefs, name)
			values, sensitive = &s.ProjectParams, &s.ProjectSensitive
		default:
			known := paramNames(pkgDefs)
			if s.FromProject() {
				known += "; project " + s.Project + " declares " + paramNames(projDefs)
			}
			errs = append(errs, fmt.Errorf("%w %q: package %s declares %s", pkgspec.ErrUnknownParam, name, s.PackageName, known))
			continue
		}
		typ := d.Type
		if typ == "" {
			typ = pkgspec.TypeString
		}
		c, err := pkgspec.Canonical(typ, v)
		if err != nil {
			shown := fmt.Sprintf("%q", v)
			if d.Sensitive {
				shown = "(sensitive value hidden)"
			}
			errs = append(errs, fmt.Errorf("%w: parameter %q (%s): invalid value %s: %v", pkgspec.ErrParamType, d.Name, typ, shown, err))
			continue
		}
		if d.Sensitive {
			if m.cfg.Cipher != nil {
				if c, err = m.cfg.Cipher.Seal(c); err != nil {
					return fmt.Errorf("seal parameter %s: %w", d.Name, err)
				}
			}
			if !slices.Contains(*sensitive, d.Name) {
				*sensitive = append(*sensitive, d.Name)
			}
		}
		if *values == nil {
			*values = map[string]string{}
		}
		(*values)[d.Name] = c
		projectChanged = projectChanged || values == &s.ProjectParams
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if projectChanged && version != nil {
		conns, err := resolveConnections(version.Connections, s.ProjectParams, m.cfg.Cipher)
		if err != nil {
			return err
		}
		s.Connections = conns
	}
	return nil
}

// SetCap sets or (max_concurrent 0) removes a concurrency cap.
func (m *Master) SetCap(ctx context.Context, c api.Cap) error {
	set := catalog.CapSetting{Cap: catalog.Cap{Scope: c.Scope, Folder: c.Folder, Project: c.Project, Package: c.Package}, MaxConcurrent: c.MaxConcurrent}
	if err := catalog.CheckCap(set); err != nil {
		return err
	}
	resp, err := m.apply(ctx, fsm.CapSetType, &fsm.CapSetRequest{Time: m.now(), Setting: set})
	if err != nil {
		return err
	}
	if err, ok := resp.(error); ok && err != nil {
		return err
	}
	return nil
}

// Caps lists the configured concurrency caps with how many executions run
// under each.
func (m *Master) Caps() ([]api.CapStatus, error) {
	return catalog.Read(m.store, func(tx *catalog.Tx) ([]api.CapStatus, error) {
		out := []api.CapStatus{}
		for _, s := range tx.CapSettings() {
			out = append(out, api.CapStatus{Cap: api.Cap{Scope: s.Scope, Folder: s.Folder, Project: s.Project, Package: s.Package,
				MaxConcurrent: s.MaxConcurrent}, Running: tx.RunningUnder(s.Cap, 0)})
		}
		return out, nil
	})
}

// queueReason says why a pending execution that a worker may take does
// not start: its retry delay, or a full cap. "" if neither.
func (m *Master) queueReason(e *catalog.Execution) string {
	if e.NotBefore != nil && m.now().Before(*e.NotBefore) {
		return fmt.Sprintf("waiting for its retry delay until %s", e.NotBefore.UTC().Format(time.RFC3339))
	}
	hit, _ := catalog.Read(m.store, func(tx *catalog.Tx) (*catalog.CapHit, error) { return tx.CapBlocked(&e.ExecutionSpec, nil), nil })
	if hit != nil {
		return "waiting for a slot: " + hit.String()
	}
	return ""
}
