package console

import (
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/scaleout/scaleout/api"
)

type perfRun struct {
	ID       uint64
	Status   string
	Started  time.Time
	Duration time.Duration
	// Bar geometry in the SVG (user units).
	X, Y, W, H float64
}

type perfData struct {
	Folder, Project, Package string
	N                        int
	Runs                     []perfRun // oldest first
	Stats                    Stats
	// Chart geometry: the mean line and the ±1σ band, in SVG units.
	Width, Height       float64
	MeanY, BandY, BandH float64
	Max                 time.Duration
}

// perfMaxPages bounds the pages looked through for a package's last runs.
const perfMaxPages = 20

// performance shows the durations of a package's last N ended runs, with
// their mean and standard deviation (SSMS: Execution Performance).
func (c *Console) performance(r *http.Request) (string, view, error) {
	q := r.URL.Query()
	d := perfData{Folder: q.Get("folder"), Project: q.Get("project"), Package: q.Get("package"), N: 20, Width: 720, Height: 240}
	if d.Package == "" {
		return "", view{}, badf("performance needs a package (?package=NAME, with folder and project for a deployed one)")
	}
	if n := q.Get("n"); n != "" {
		v, err := strconv.Atoi(n)
		if err != nil || v < 1 || v > 500 {
			return "", view{}, badf("invalid n %q: want 1 to 500 runs", n)
		}
		d.N = v
	}
	ctx, cancel := c.ctx(r)
	defer cancel()
	o := &api.ListOptions{Folder: d.Folder, Project: d.Project, Package: d.Package, Limit: 100}
	for page := 0; page < perfMaxPages && len(d.Runs) < d.N; page++ {
		p, err := c.api(r).Executions().ListPage(ctx, o)
		if err != nil {
			return "", view{}, err
		}
		for _, e := range p.Executions {
			if len(d.Runs) >= d.N {
				break
			}
			if e.StartedAt == nil || e.EndedAt == nil || !api.Terminal(e.Status) {
				continue
			}
			d.Runs = append(d.Runs, perfRun{ID: e.ID, Status: e.Status, Started: *e.StartedAt, Duration: e.EndedAt.Sub(*e.StartedAt)})
		}
		if p.NextBefore == 0 {
			break
		}
		o.BeforeID = p.NextBefore
	}
	// Oldest first, left to right.
	for i, j := 0, len(d.Runs)-1; i < j; i, j = i+1, j-1 {
		d.Runs[i], d.Runs[j] = d.Runs[j], d.Runs[i]
	}
	ds := make([]time.Duration, len(d.Runs))
	for i, run := range d.Runs {
		ds[i] = run.Duration
	}
	d.Stats = durationStats(ds)
	d.Max = max(d.Stats.Max, d.Stats.Mean+d.Stats.StdDev)
	if len(d.Runs) > 0 && d.Max > 0 {
		const top, bottom = 10.0, 20.0
		plot := d.Height - top - bottom
		y := func(v time.Duration) float64 { return top + plot*(1-float64(v)/float64(d.Max)) }
		slot := d.Width / float64(len(d.Runs))
		for i := range d.Runs {
			run := &d.Runs[i]
			run.W = slot * 0.7
			run.X = float64(i)*slot + slot*0.15
			run.Y = y(run.Duration)
			run.H = top + plot - run.Y
		}
		d.MeanY = y(d.Stats.Mean)
		d.BandY = y(d.Stats.Mean + d.Stats.StdDev)
		d.BandH = y(max(0, d.Stats.Mean-d.Stats.StdDev)) - d.BandY
	}
	return "performance", view{Title: "Performance of " + d.Package, Nav: "executions", Data: d}, nil
}

type folderData struct {
	api.Folder
	Projects     []api.Project
	Environments []api.Environment
}

func (c *Console) catalog(r *http.Request) (string, view, error) {
	ctx, cancel := c.ctx(r)
	defer cancel()
	fs, err := c.api(r).Folders().List(ctx)
	if err != nil {
		return "", view{}, err
	}
	out := make([]folderData, 0, len(fs))
	for _, f := range fs {
		fd := folderData{Folder: f}
		if fd.Projects, err = c.api(r).Projects(f.Name).List(ctx); err != nil {
			return "", view{}, err
		}
		envs, err := c.api(r).Environments(f.Name).List(ctx)
		if err != nil {
			return "", view{}, err
		}
		// The list has no variables: read each environment (masked values).
		for _, e := range envs {
			full, err := c.api(r).Environments(f.Name).Info(ctx, e.Name)
			if err != nil {
				return "", view{}, err
			}
			fd.Environments = append(fd.Environments, *full)
		}
		out = append(out, fd)
	}
	return "catalog", view{Title: "Catalog", Nav: "catalog", Data: out}, nil
}

type projectData struct {
	P        *api.Project
	Versions []api.ProjectVersion
	Envs     []string // environments the run form offers (references)
	Workers  []string
	Selected string // package preselected in the run form
}

func (c *Console) project(r *http.Request) (string, view, error) {
	ctx, cancel := c.ctx(r)
	defer cancel()
	folder, name := r.PathValue("folder"), r.PathValue("project")
	p, err := c.api(r).Projects(folder).Info(ctx, name)
	if err != nil {
		return "", view{}, err
	}
	vs, err := c.api(r).Projects(folder).Versions(ctx, name)
	if err != nil {
		return "", view{}, err
	}
	sort.Slice(vs, func(i, j int) bool { return vs[i].Version > vs[j].Version })
	d := projectData{P: p, Versions: vs, Envs: p.References, Selected: r.URL.Query().Get("package")}
	return "project", view{Title: folder + "/" + name, Nav: "catalog", Data: d}, nil
}

// run creates an execution of a package from the project page's form:
// param.NAME fields (empty: not overridden), environment, logging level,
// retries.
func (c *Console) run(r *http.Request) (string, string, error) {
	folder, name := r.PathValue("folder"), r.PathValue("project")
	pkg := r.PostFormValue("package")
	if pkg == "" {
		return "", "", badf("choose a package to run")
	}
	req := &api.CreateExecutionRequest{Environment: r.PostFormValue("environment"), Params: map[string]string{},
		LoggingLevel: r.PostFormValue("logging_level")}
	if s := r.PostFormValue("retries"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return "", "", badf("invalid retries %q: want a number of 0 or more", s)
		}
		req.Retries = n
	}
	for k, vs := range r.PostForm {
		// Fields are p.<package>.<param> (package parameters) and
		// project.<param>; only the chosen package's count.
		switch {
		case strings.HasPrefix(k, "p."+pkg+"."):
			if v := vs[0]; v != "" {
				req.Params[strings.TrimPrefix(k, "p."+pkg+".")] = v
			}
		case strings.HasPrefix(k, "project."):
			if v := vs[0]; v != "" {
				req.Params[k] = v
			}
		}
	}
	ctx, cancel := c.ctx(r)
	defer cancel()
	id, err := c.api(r).Projects(folder).Execute(ctx, name, pkg, req)
	if err != nil {
		return "", "", err
	}
	return fmt.Sprintf("/ui/executions/%d", id), fmt.Sprintf("execution %d of %s created", id, pkg), nil
}

// restore makes an earlier version of a project current (SSMS: Versions,
// Restore).
func (c *Console) restore(r *http.Request) (string, string, error) {
	folder, name := r.PathValue("folder"), r.PathValue("project")
	v, err := strconv.ParseUint(r.PostFormValue("version"), 10, 64)
	if err != nil || v == 0 {
		return "", "", badf("invalid version %q", r.PostFormValue("version"))
	}
	ctx, cancel := c.ctx(r)
	defer cancel()
	if err := c.api(r).Projects(folder).Restore(ctx, name, v); err != nil {
		return "", "", err
	}
	return "/ui/catalog/" + url.PathEscape(folder) + "/" + url.PathEscape(name), fmt.Sprintf("version %d of %s is current", v, name), nil
}
