package executor

import (
	"context"
	"crypto/rand"
	"fmt"

	"github.com/scaleout/scaleout/catalog/pkgspec"
)

// eventInfo is the event an event handler runs for, as its tasks see it
// in sys (error_code, error_description, source_name) and in SSIS
// expressions (System::ErrorCode, ErrorDescription, SourceName).
type eventInfo struct {
	source      string
	description string
	code        int
	at          string // the task name of the handler's events ("" for the package)
	variable    string // the variable whose value changed
}

// fire raises event for the executable of tc (its task, or the package
// when tc.task is nil), as SSIS does: the handlers for the event run at
// the task itself, then at each enclosing container, then at the
// package, then, for a package run by a package task, at that task and
// up through the parent package, until one sets Propagate to false.
// Tasks inside event handlers raise no events. One handler runs at a time
// per package.
func (pr *pkgRun) fire(ctx context.Context, tc *taskCtx, event string, info eventInfo) {
	for s := tc.sc; s != nil; s = s.parent {
		if s.event != nil {
			return
		}
	}
	if event == pkgspec.OnError && pr.up != nil {
		pr.mu.Lock()
		pr.up.errors++
		pr.mu.Unlock()
	}
	type level struct {
		owner  string // for messages
		tasks  []*pkgspec.Task
		parent *scope // the scope the handler's scope hangs below
	}
	var levels []level
	if t := tc.task; t != nil {
		if l, ok := t.Handlers[event]; ok {
			levels = append(levels, level{fmt.Sprintf("task %q", t.Name), l, tc.sc})
		}
	}
	for s := tc.sc; s != nil; s = s.parent {
		switch {
		case s.owner != nil:
			if l, ok := s.owner.Handlers[event]; ok {
				levels = append(levels, level{fmt.Sprintf("container %q", s.owner.Name), l, s})
			}
		case s.parent == nil:
			if l, ok := pr.pkg.Handlers[event]; ok {
				levels = append(levels, level{fmt.Sprintf("package %q", pr.pkg.Name), l, s})
			}
		}
	}
	for _, lv := range levels {
		if ctx.Err() != nil {
			return
		}
		if !pr.runHandler(ctx, event, lv.owner, lv.tasks, lv.parent, info) {
			pr.r.emit(EventInformation, info.at, fmt.Sprintf("%s: Propagate set to false by the handler of %s", event, lv.owner))
			return
		}
	}
	if up := pr.up; up != nil && ctx.Err() == nil {
		up.tc.pr.fire(ctx, up.tc, event, info)
	}
}

// runHandler runs one handler's tasks in a new scope below parent, with
// Propagate (true) declared, and reports whether Propagate is still true.
// A failing handler is reported as an error event; it does not change
// the outcome of the task that raised the event.
func (pr *pkgRun) runHandler(ctx context.Context, event, owner string, tasks []*pkgspec.Task, parent *scope, info eventInfo) bool {
	pr.handlerMu.Lock()
	defer pr.handlerMu.Unlock()
	ev := info
	prop := &variable{typ: pkgspec.TypeBool, val: true}
	sc := &scope{parent: parent, vars: map[string]*variable{pkgspec.PropagateVar: prop}, event: &ev}
	pr.r.emit(EventInformation, info.at, fmt.Sprintf("%s handler of %s started", event, owner))
	lr := pr.runList(ctx, sc, tasks)
	if res := lr.result(tasks); res.Status != StatusSucceeded {
		pr.r.emit(EventError, info.at, fmt.Sprintf("%s handler of %s %s: %s", event, owner, res.Status, res.Message))
	}
	pr.mu.Lock()
	defer pr.mu.Unlock()
	b, _ := prop.val.(bool)
	return b
}

// newGUID returns a random (version 4) GUID in SSIS's text form,
// {XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX}.
func newGUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("{%X-%X-%X-%X-%X}", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
