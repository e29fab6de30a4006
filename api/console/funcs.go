package console

import (
	"fmt"
	"html/template"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/scaleout/scaleout/api"
)

func (c *Console) funcs() template.FuncMap {
	return template.FuncMap{
		"ago":      func(t time.Time) string { return ago(c.cfg.Now(), t) },
		"agoPtr":   func(t *time.Time) string { return agoPtr(c.cfg.Now(), t) },
		"exact":    func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05.000 UTC") },
		"iso":      func(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) },
		"clock":    func(t time.Time) string { return t.UTC().Format("15:04:05.000") },
		"dur":      fmtDuration,
		"took":     func(e api.Execution) string { return took(c.cfg.Now(), e) },
		"terminal": api.Terminal,
		"pct":      func(f float64) string { return fmt.Sprintf("%.2f%%", f) },
		"f1":       func(f float64) string { return fmt.Sprintf("%.1f", f) },
		"esc":      url.PathEscape,
		"q":        url.QueryEscape,
		"levelOK":  levelMatch,
		"join":     strings.Join,
		"labels":   labels,
		"deref":    func(s *string) string { return deref(s) },
		"add":      func(a, b int) int { return a + b },
		"short":    func(s string, n int) string { return short(s, n) },
		"deref2": func(t *time.Time) time.Time {
			if t == nil {
				return time.Time{}
			}
			return *t
		},
		"f1percent": func(a, b int) float64 {
			if b <= 0 {
				return 0
			}
			return min(100, 100*float64(a)/float64(b))
		},
	}
}

func ago(now, t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := now.Sub(t)
	switch {
	case d < -time.Minute:
		return "in " + fmtDuration(-d)
	case d < 10*time.Second:
		return "just now"
	case d < time.Minute:
		return fmt.Sprintf("%d s ago", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%d min ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h ago", int(d.Hours()))
	default:
		return fmt.Sprintf("%d days ago", int(d.Hours()/24))
	}
}

func agoPtr(now time.Time, t *time.Time) string {
	if t == nil {
		return "never"
	}
	return ago(now, *t)
}

// took is an execution's duration: start to end, or to now while running.
func took(now time.Time, e api.Execution) string {
	if e.StartedAt == nil {
		return ""
	}
	end := now
	if e.EndedAt != nil {
		end = *e.EndedAt
	}
	return fmtDuration(end.Sub(*e.StartedAt))
}

func labels(m map[string]string) string {
	ks := make([]string, 0, len(m))
	for k, v := range m {
		ks = append(ks, k+"="+v)
	}
	sort.Strings(ks)
	return strings.Join(ks, ", ")
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func short(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
