package server

import (
	"net/http"
	"time"

	"github.com/scaleout/scaleout/catalog"
)

// ExecutionPager is implemented by an ExecutionService that can say where
// a filtered listing continues (GET /v1/executions answers it in the
// X-Scaleout-Next-Before header).
type ExecutionPager interface {
	ExecutionsPage(o catalog.ListOptions) (catalog.ListResult, error)
}

// MaxListScan bounds the executions one filtered listing looks at, so a
// filter that matches little answers in bounded time; the client continues
// from the Next-Before header.
const MaxListScan = 5000

// responseKey carries the ResponseWriter to handlers that set headers.
type responseKey struct{}

// listOptions reads the filters of GET /v1/executions.
func listOptions(r *http.Request) (catalog.ListOptions, error) {
	q := r.URL.Query()
	o := catalog.ListOptions{Status: catalog.Status(q.Get("status")), Folder: q.Get("folder"), Project: q.Get("project"),
		Package: q.Get("package"), Worker: q.Get("worker"), Caller: q.Get("caller")}
	if o.Status != "" && !o.Status.Valid() {
		return o, codedErr(http.StatusBadRequest, "unknown status %q", o.Status)
	}
	var err error
	if o.Limit, err = queryInt(r, "limit", 10000); err != nil {
		return o, err
	}
	if o.BeforeID, err = queryUint(r, "before"); err != nil {
		return o, err
	}
	for _, t := range []struct {
		name string
		to   *time.Time
	}{{"since", &o.Since}, {"until", &o.Until}} {
		if raw := q.Get(t.name); raw != "" {
			if *t.to, err = time.Parse(time.RFC3339, raw); err != nil {
				return o, codedErr(http.StatusBadRequest, "invalid %s %q: want an RFC 3339 time such as 2026-01-02T15:04:05Z", t.name, raw)
			}
		}
	}
	if !o.Since.IsZero() && !o.Until.IsZero() && !o.Since.Before(o.Until) {
		return o, codedErr(http.StatusBadRequest, "since (%s) must be before until (%s)", q.Get("since"), q.Get("until"))
	}
	if o.Filtered() { // a status alone scans on, as it always has
		o.MaxScan = MaxListScan
	}
	return o, nil
}
