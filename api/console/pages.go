package console

import (
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"time"

	"github.com/scaleout/scaleout/api"
)

type clusterData struct {
	Leader  *api.Leader
	NoLead  string
	Peers   []api.Peer
	Members []api.Member
	Counts  map[string]int // members by status
	// Versions counts the members by the version they gossip.
	Versions map[string]int
	Workers  []api.Worker
	Slots    struct{ Used, Total int }
	Recent   []api.Execution
}

func (c *Console) cluster(r *http.Request) (string, view, error) {
	ctx, cancel := c.ctx(r)
	defer cancel()
	var d clusterData
	var err error
	if d.Leader, err = c.api(r).Status().Leader(ctx); err != nil {
		d.NoLead = err.Error()
	}
	if d.Peers, err = c.api(r).Status().Peers(ctx); err != nil && d.NoLead == "" {
		return "", view{}, err
	}
	if d.Members, err = c.api(r).Members(ctx); err != nil {
		return "", view{}, err
	}
	d.Counts, d.Versions = map[string]int{}, map[string]int{}
	for _, m := range d.Members {
		d.Counts[m.Status]++
		if m.Version != "" {
			d.Versions[m.Version]++
		}
	}
	if d.NoLead == "" {
		if d.Workers, err = c.api(r).Workers().List(ctx); err != nil {
			return "", view{}, err
		}
		for _, w := range d.Workers {
			d.Slots.Used += w.Running
			d.Slots.Total += w.MaxTasks
		}
		if d.Recent, err = c.api(r).Executions().List(ctx, &api.ListOptions{Limit: 10}); err != nil {
			return "", view{}, err
		}
	}
	return "cluster", view{Title: "Cluster", Nav: "cluster", Data: d}, nil
}

type workerRow struct {
	api.Worker
	Status string // member status from gossip
	Free   int
}

func (c *Console) workers(r *http.Request) (string, view, error) {
	ctx, cancel := c.ctx(r)
	defer cancel()
	ws, err := c.api(r).Workers().List(ctx)
	if err != nil {
		return "", view{}, err
	}
	ms, err := c.api(r).Members(ctx)
	if err != nil {
		return "", view{}, err
	}
	status := map[string]string{}
	for _, m := range ms {
		status[m.Name] = m.Status
	}
	rows := make([]workerRow, 0, len(ws))
	for _, w := range ws {
		st := status[w.Node]
		if st == "" {
			st = "unknown"
		}
		rows = append(rows, workerRow{Worker: w, Status: st, Free: max(0, w.MaxTasks-w.Running)})
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].ID < rows[j].ID })
	return "workers", view{Title: "Workers", Nav: "workers", Data: rows}, nil
}

func (c *Console) workerAction(r *http.Request) (string, string, error) {
	ctx, cancel := c.ctx(r)
	defer cancel()
	id := r.PathValue("id")
	var err error
	switch a := r.PathValue("action"); a {
	case "enable", "disable":
		err = c.api(r).Workers().SetEnabled(ctx, id, a == "enable")
	case "remove":
		err = c.api(r).Workers().Remove(ctx, id)
	default:
		return "", "", badf("unknown worker action %q (enable, disable or remove)", a)
	}
	if err != nil {
		return "", "", err
	}
	return "/ui/workers", fmt.Sprintf("worker %s %sd", id, r.PathValue("action")), nil
}

// filters is the executions page's form.
type filters struct {
	Status, Folder, Project, Package, Worker, Caller, Since, Until string
}

func (f filters) query() url.Values {
	q := url.Values{}
	for k, v := range map[string]string{"status": f.Status, "folder": f.Folder, "project": f.Project, "package": f.Package,
		"worker": f.Worker, "caller": f.Caller, "since": f.Since, "until": f.Until} {
		if v != "" {
			q.Set(k, v)
		}
	}
	return q
}

type executionsData struct {
	F          filters
	Statuses   []string
	Rows       []api.Execution
	Next, Prev string // links ("" none)
	Scanned    bool   // a filtered page stopped on the scan bound
}

// timeLayout is what the filter form's datetime-local inputs send.
const timeLayout = "2006-01-02T15:04"

func (c *Console) executions(r *http.Request) (string, view, error) {
	q := r.URL.Query()
	f := filters{Status: q.Get("status"), Folder: q.Get("folder"), Project: q.Get("project"), Package: q.Get("package"),
		Worker: q.Get("worker"), Caller: q.Get("caller"), Since: q.Get("since"), Until: q.Get("until")}
	o := &api.ListOptions{Status: f.Status, Folder: f.Folder, Project: f.Project, Package: f.Package, Worker: f.Worker,
		Caller: f.Caller, Limit: c.cfg.PageSize}
	var err error
	for _, t := range []struct {
		raw string
		to  *time.Time
	}{{f.Since, &o.Since}, {f.Until, &o.Until}} {
		if t.raw == "" {
			continue
		}
		if *t.to, err = parseTime(t.raw); err != nil {
			return "", view{}, err
		}
	}
	if b := q.Get("before"); b != "" {
		if o.BeforeID, err = strconv.ParseUint(b, 10, 64); err != nil {
			return "", view{}, badf("invalid page cursor %q", b)
		}
	}
	ctx, cancel := c.ctx(r)
	defer cancel()
	page, err := c.api(r).Executions().ListPage(ctx, o)
	if err != nil {
		return "", view{}, err
	}
	d := executionsData{F: f, Rows: page.Executions,
		Statuses: []string{"pending", "running", "stopping", "succeeded", "failed", "canceled", "ended_unexpectedly"}}
	if page.NextBefore > 0 {
		nq := f.query()
		nq.Set("before", strconv.FormatUint(page.NextBefore, 10))
		d.Next = "/ui/executions?" + nq.Encode()
		d.Scanned = len(page.Executions) < c.cfg.PageSize
	}
	if o.BeforeID > 0 {
		d.Prev = "/ui/executions?" + f.query().Encode()
	}
	return "executions", view{Title: "Executions", Nav: "executions", Data: d}, nil
}

// parseTime reads a filter time: the form's local datetime (taken as UTC)
// or RFC 3339.
func parseTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(timeLayout, s); err == nil {
		return t, nil
	}
	return time.Time{}, badf("invalid time %q: want 2006-01-02T15:04 (UTC) or RFC 3339", s)
}

func pathID(r *http.Request) (uint64, error) {
	id, err := strconv.ParseUint(r.PathValue("id"), 10, 64)
	if err != nil || id == 0 {
		return 0, badf("invalid execution id %q", r.PathValue("id"))
	}
	return id, nil
}

type executionData struct {
	E        *api.Execution
	Events   []api.Event
	Next     uint64
	Ended    bool
	Timeline Timeline
	Level    string // message level filter: all, info, warning, error
	Levels   []string
	Shown    int
	Params   []kv
	Project  []kv
	Rerun    bool
}

type kv struct {
	K, V      string
	Sensitive bool
}

// maxEvents is the most events a report shows (the newest are cut).
const maxEvents = 5000

func (c *Console) loadExecution(r *http.Request, id uint64, after uint64, wait time.Duration) (*executionData, error) {
	ctx, cancel := c.ctx(r)
	defer cancel()
	d := &executionData{Level: r.URL.Query().Get("level"), Levels: []string{"all", "info", "warning", "error"}}
	if d.Level == "" {
		d.Level = "all"
	}
	// An execution just created through this agent may not be applied here
	// yet (a follower): then read it from the leader, consistently.
	cl := c.api(r)
	if _, err := cl.Executions().Info(ctx, id); api.IsStatus(err, http.StatusNotFound) {
		cl = c.api(r).Consistent()
	}
	if after > 0 && wait > 0 {
		// Block until something new happens (or the wait passes).
		if _, err := cl.Executions().Events(ctx, id, after, 1, wait); err != nil {
			return nil, err
		}
	}
	for {
		resp, err := cl.Executions().Events(ctx, id, d.Next, 1000, 0)
		if err != nil {
			return nil, err
		}
		d.Events = append(d.Events, resp.Events...)
		d.Next, d.Ended = resp.Next, resp.Ended
		if len(resp.Events) == 0 || len(d.Events) >= maxEvents {
			break
		}
	}
	e, err := cl.Executions().Info(ctx, id)
	if err != nil {
		return nil, err
	}
	d.E = e
	end := c.cfg.Now()
	if e.EndedAt != nil {
		end = *e.EndedAt
	}
	d.Timeline = buildTimeline(d.Events, end)
	d.Params = sortedKV(e.Params)
	d.Project = sortedKV(e.ProjectParams)
	d.Rerun = e.Project != "" && api.Terminal(e.Status)
	for _, ev := range d.Events {
		if levelMatch(d.Level, ev.Type) {
			d.Shown++
		}
	}
	return d, nil
}

func sortedKV(m map[string]string) []kv {
	out := make([]kv, 0, len(m))
	for k, v := range m {
		out = append(out, kv{K: k, V: v, Sensitive: v == api.Masked})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].K < out[j].K })
	return out
}

// levelMatch filters messages like SSMS's message types: errors, warnings
// and errors, information and up, or everything.
func levelMatch(level, typ string) bool {
	switch level {
	case "error":
		return typ == "error" || typ == "task_failed"
	case "warning":
		return typ == "error" || typ == "task_failed" || typ == "warning"
	case "info":
		return typ != "stdout" && typ != "stderr" && typ != "diagnostic" && typ != "progress"
	}
	return true
}

func (c *Console) execution(r *http.Request) (string, view, error) {
	id, err := pathID(r)
	if err != nil {
		return "", view{}, err
	}
	d, err := c.loadExecution(r, id, 0, 0)
	if err != nil {
		return "", view{}, err
	}
	return "execution", view{Title: fmt.Sprintf("Execution %d", id), Nav: "executions", Data: d}, nil
}

// live is the live part of an execution report, for the page's script:
// it waits up to 20 s for a new event after ?after=N, then renders.
func (c *Console) live(r *http.Request) (string, view, error) {
	id, err := pathID(r)
	if err != nil {
		return "", view{}, err
	}
	after, _ := strconv.ParseUint(r.URL.Query().Get("after"), 10, 64)
	d, err := c.loadExecution(r, id, after, 20*time.Second)
	if err != nil {
		return "", view{}, err
	}
	return "live", view{Data: d}, nil
}

func (c *Console) stop(r *http.Request) (string, string, error) {
	id, err := pathID(r)
	if err != nil {
		return "", "", err
	}
	ctx, cancel := c.ctx(r)
	defer cancel()
	st, err := c.api(r).Executions().Stop(ctx, id)
	if err != nil {
		return "", "", err
	}
	return fmt.Sprintf("/ui/executions/%d", id), fmt.Sprintf("stop requested: execution %d is %s", id, st), nil
}

// rerun runs a deployed package again with the values the execution used:
// its environment, parameter values (sensitive ones, masked in every
// answer, are resolved again from their source), logging level, retries
// and targets.
func (c *Console) rerun(r *http.Request) (string, string, error) {
	id, err := pathID(r)
	if err != nil {
		return "", "", err
	}
	ctx, cancel := c.ctx(r)
	defer cancel()
	e, err := c.api(r).Executions().Info(ctx, id)
	if err != nil {
		return "", "", err
	}
	if e.Project == "" {
		return "", "", badf("execution %d ran an inline package; run it again with `scaleout run`", id)
	}
	req := &api.CreateExecutionRequest{Environment: e.Environment, Params: map[string]string{}, LoggingLevel: e.LoggingLevel,
		Retries: e.Retries, TargetWorkers: e.TargetWorkers, TargetLabels: e.TargetLabels}
	for k, v := range e.Params {
		if v != api.Masked {
			req.Params[k] = v
		}
	}
	for k, v := range e.ProjectParams {
		if v != api.Masked {
			req.Params["project."+k] = v
		}
	}
	nid, err := c.api(r).Projects(e.Folder).Execute(ctx, e.Project, e.PackageName, req)
	if err != nil {
		return "", "", err
	}
	return fmt.Sprintf("/ui/executions/%d", nid), fmt.Sprintf("execution %d runs %s again", nid, e.PackageName), nil
}
