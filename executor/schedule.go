package executor

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/scaleout/scaleout/catalog/pkgspec"
)

// taskState is where one task is in its life.
type taskState int

const (
	statePending taskState = iota
	stateRunning
	stateSucceeded
	stateFailed
	stateSkipped
	stateCanceled
)

const taskStates = int(stateCanceled) + 1

func (s taskState) String() string {
	return [...]string{"pending", "running", "succeeded", "failed", "skipped", "canceled"}[s]
}

// outcome is how one task ended.
type outcome struct {
	task  *pkgspec.Task
	state taskState
	msg   string // failure reason
	// warnings are the warning messages of the run (failed attempts
	// retried); code is the error code of a failure (an exec task's exit
	// code, else 1); childFailed marks a container, whose failure is one
	// of its tasks' (already raised as OnError).
	warnings    []string
	code        int
	childFailed bool
	// forced is the error of a failure that force_result made a success
	// (nil otherwise): it still raises on_error.
	forced *eventInfo
}

// listResult is how a task list (the package's, or a container's) ended.
type listResult struct {
	state    []taskState
	failures []string // unhandled failures, as `task "x" failed: reason`
	handled  []string // handled failures, as `task "x" failed (handled by "y")`
	canceled bool
	// forced is true when a task with fail_parent failed: the list fails
	// whatever handles or tolerates the failure.
	forced bool
}

// constraint is a precedence constraint resolved to task indexes.
type constraint struct {
	from    int // the predecessor
	to      int // the constrained task
	on      string
	when    string
	decided bool
	met     bool
	why     string // why it is not met
	err     error  // its when expression failed to evaluate
}

// runList runs a task list in scope sc: each task starts once its
// precedence constraints allow, is skipped once they cannot be met, and
// the list ends when no task runs any more.
func (pr *pkgRun) runList(ctx context.Context, sc *scope, tasks []*pkgspec.Task) *listResult {
	index := make(map[string]int, len(tasks))
	for i, t := range tasks {
		index[t.Name] = i
	}
	lr := &listResult{state: make([]taskState, len(tasks))}
	in := make([][]*constraint, len(tasks))  // constraints of each task
	out := make([][]*constraint, len(tasks)) // constraints on each task
	for i, t := range tasks {
		for j, dep := range t.After { // all known: see checkGraph
			c := &constraint{from: index[dep], to: i, on: pkgspec.OnSuccess}
			if j < len(t.Constraints) {
				c.on, c.when = t.Constraints[j].On, t.Constraints[j].When
			}
			in[i] = append(in[i], c)
			out[c.from] = append(out[c.from], c)
		}
	}
	handledBy := make([]string, len(tasks))
	started := make([]bool, len(tasks)) // decided to run
	var ready []int

	done := make(chan outcome)
	running := 0
	// finish records a task's end (or skip) and decides its dependents.
	var finish func(i int, st taskState, msg string)
	// decide runs or skips task i if its constraints allow.
	decide := func(i int) {
		if lr.state[i] != statePending || started[i] {
			return
		}
		cs := in[i]
		for _, c := range cs {
			if c.err != nil { // a broken constraint fails the task instead of skipping it
				tc := &taskCtx{pr: pr, sc: sc, task: tasks[i]}
				pr.r.emit(EventPreExecute, pr.prefix+tasks[i].Name, "started")
				pr.failWithoutRun(tc, c.err.Error())
				lr.failures = append(lr.failures, fmt.Sprintf("task %q failed: %s", tasks[i].Name, c.err))
				finish(i, stateFailed, c.err.Error())
				return
			}
		}
		or := tasks[i].Join == pkgspec.JoinOr
		met, open := 0, 0
		var unmet *constraint
		for _, c := range cs {
			switch {
			case !c.decided:
				open++
			case c.met:
				met++
			case unmet == nil:
				unmet = c
			}
		}
		switch {
		case len(cs) == 0, or && met > 0, !or && met == len(cs):
			started[i] = true
			for _, c := range cs {
				if c.met && c.on == pkgspec.OnFailure && handledBy[c.from] == "" {
					handledBy[c.from] = tasks[i].Name
				}
			}
			ready = append(ready, i)
		case !or && unmet != nil, or && open == 0:
			finish(i, stateSkipped, "skipped: "+unmet.why)
		}
	}
	finish = func(i int, st taskState, msg string) {
		lr.state[i] = st
		if st == stateSkipped {
			pr.r.emit(EventPostExecute, pr.prefix+tasks[i].Name, msg)
			pr.setResult(tasks[i].Name, map[string]any{"status": st.String()})
		}
		if st == stateCanceled || st == statePending {
			return
		}
		for _, c := range out[i] {
			pr.evalConstraint(sc, tasks, c, st, msg)
			if c.met && c.on == pkgspec.OnFailure && started[c.to] && handledBy[i] == "" {
				handledBy[i] = tasks[c.to].Name
			}
		}
		for _, c := range out[i] {
			decide(c.to)
		}
	}
	for i := range tasks {
		decide(i)
	}

	ctxDone := ctx.Done()
	canceled := false
	for {
		if !canceled && ctx.Err() != nil { // select below may not have seen it yet
			canceled, ctxDone = true, nil
		}
		for !canceled && len(ready) > 0 {
			slices.Sort(ready) // file order among ready tasks
			i := ready[0]
			ready = ready[1:]
			t := tasks[i]
			tc := &taskCtx{pr: pr, sc: sc, task: t}
			if t.When != "" {
				ok, err := tc.condition("when", t.When)
				switch {
				case err != nil:
					pr.r.emit(EventPreExecute, pr.prefix+t.Name, "started")
					pr.failWithoutRun(tc, err.Error())
					finish(i, stateFailed, err.Error())
					lr.failures = append(lr.failures, fmt.Sprintf("task %q failed: %s", t.Name, err))
					continue
				case !ok:
					finish(i, stateSkipped, fmt.Sprintf("skipped: when %q is false", t.When))
					continue
				}
			}
			lr.state[i] = stateRunning
			running++
			var tk *ticket
			if needsSlot(t) {
				tk = pr.r.sem.enqueue()
			}
			go func() { done <- pr.runTask(ctx, tc, tk) }()
		}
		if running == 0 {
			break
		}
		select {
		case o := <-done:
			running--
			i := index[o.task.Name]
			if o.state == stateFailed {
				lr.failures = append(lr.failures, fmt.Sprintf("task %q failed: %s", o.task.Name, o.msg))
				lr.forced = lr.forced || o.task.FailParent
				if o.task.FailPackage {
					pr.mu.Lock()
					pr.failPackage = append(pr.failPackage, fmt.Sprintf("task %q failed (fail_package): %s", pr.prefix+o.task.Name, o.msg))
					pr.mu.Unlock()
				}
			}
			finish(i, o.state, o.msg)
		case <-ctxDone:
			canceled, ctxDone = true, nil
		}
	}
	// Failures handled by a failure constraint do not fail the list,
	// unless the task has fail_parent.
	var unhandled []string
	for _, f := range lr.failures {
		name := failedName(f)
		if h := handledBy[index[name]]; h != "" && !tasks[index[name]].FailParent {
			lr.handled = append(lr.handled, fmt.Sprintf("task %q failed (handled by %q)", name, h))
			pr.r.emit(EventWarning, pr.prefix+name, fmt.Sprintf("failure handled by %q, which ran on a failure constraint", h))
			continue
		}
		unhandled = append(unhandled, f)
	}
	lr.failures = unhandled
	var pending, cancel []string
	for i, s := range lr.state {
		switch s {
		case statePending:
			pending = append(pending, tasks[i].Name)
		case stateCanceled:
			cancel = append(cancel, tasks[i].Name)
		}
	}
	// A cancel that came after the last task ended changes nothing.
	lr.canceled = (canceled && len(pending) > 0) || len(cancel) > 0
	if len(pending) > 0 && lr.canceled {
		pr.r.emit(EventInformation, strings.TrimSuffix(pr.prefix, "/"), fmt.Sprintf("canceled before start: %s", strings.Join(pending, ", ")))
	}
	return lr
}

// failedName extracts NAME from `task "NAME" failed: ...`.
func failedName(f string) string {
	var name string
	if _, err := fmt.Sscanf(f, "task %q", &name); err != nil {
		return ""
	}
	return name
}

// needsSlot reports whether a task counts against max_parallel: every task
// but containers, package tasks (their tasks count) and set tasks.
func needsSlot(t *pkgspec.Task) bool {
	return t.Body() == nil && t.Package == nil && t.Set == nil
}

// evalConstraint decides constraint c now that its predecessor ended with
// st (msg is its failure or skip reason).
func (pr *pkgRun) evalConstraint(sc *scope, tasks []*pkgspec.Task, c *constraint, st taskState, msg string) {
	from := tasks[c.from].Name
	c.decided = true
	switch {
	case st == stateSkipped:
		c.why = fmt.Sprintf("dependency %q was skipped", from)
		return
	case c.on == pkgspec.OnSuccess && st != stateSucceeded:
		c.why = fmt.Sprintf("dependency %q failed", from)
		return
	case c.on == pkgspec.OnFailure && st != stateFailed:
		c.why = fmt.Sprintf("dependency %q succeeded (constraint on failure)", from)
		return
	}
	if c.when != "" {
		tc := &taskCtx{pr: pr, sc: sc, task: tasks[c.to]}
		ok, err := tc.condition(fmt.Sprintf("after %q when", from), c.when)
		if err != nil {
			c.err = err
			c.why = fmt.Sprintf("constraint on %q: %v", from, err)
			return
		}
		pr.r.emit(EventDiagnostic, pr.prefix+tasks[c.to].Name, fmt.Sprintf("constraint on %q (%s) when %q: %v", from, c.on, c.when, ok))
		if !ok {
			c.why = fmt.Sprintf("dependency %q: when %q is false", from, c.when)
			return
		}
	}
	c.met = true
}

// condition evaluates a boolean expression.
func (tc *taskCtx) condition(field, src string) (bool, error) {
	v, err := tc.eval(field, src)
	if err != nil {
		return false, err
	}
	b, ok := v.(bool)
	if !ok {
		return false, &fieldError{field, fmt.Errorf("expression %q is %s, not true or false", src, describe(v))}
	}
	return b, nil
}

// result turns a list result into the package's Result.
func (lr *listResult) result(tasks []*pkgspec.Task) Result {
	var names [taskStates][]string
	for i, s := range lr.state {
		names[s] = append(names[s], tasks[i].Name)
	}
	var parts []string
	if lr.canceled {
		parts = append(parts, "canceled")
		if c := names[stateCanceled]; len(c) > 0 {
			parts = append(parts, "canceled while running: "+strings.Join(c, ", "))
		}
		if n := len(names[statePending]); n > 0 {
			parts = append(parts, plural(n, "task")+" not started")
		}
	}
	parts = append(parts, lr.failures...)
	if n := len(names[stateSkipped]); n > 0 {
		parts = append(parts, plural(n, "task")+" skipped")
	}
	switch {
	case lr.canceled:
		return Result{Status: StatusCanceled, Message: strings.Join(parts, "; ")}
	case len(lr.failures) > 0:
		return Result{Status: StatusFailed, Message: strings.Join(parts, "; ")}
	}
	msg := plural(len(names[stateSucceeded]), "task") + " succeeded"
	if n := len(names[stateSkipped]); n > 0 {
		msg += "; " + plural(n, "task") + " skipped"
	}
	for _, h := range lr.handled {
		msg += "; " + h
	}
	return Result{Status: StatusSucceeded, Message: msg}
}

// tolerate accepts fewer than max unhandled failures (max_errors, SSIS's
// MaximumErrorCount): they become handled, so the list succeeds, and are
// named in its message. A stopped list is not tolerated, nor one with a
// failed fail_parent task.
func (lr *listResult) tolerate(max int) {
	if max <= 1 || len(lr.failures) == 0 || len(lr.failures) >= max || lr.canceled || lr.forced {
		return
	}
	for _, f := range lr.failures {
		lr.handled = append(lr.handled, fmt.Sprintf("%s (tolerated: max_errors %d)", f, max))
	}
	lr.failures = nil
}
