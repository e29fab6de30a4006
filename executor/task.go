package executor

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/scaleout/scaleout/catalog/pkgspec"
)

// taskOut is what one attempt of a task kind returns.
type taskOut struct {
	state taskState
	msg   string         // failure reason
	info  map[string]any // fields of tasks.NAME besides status, error and duration
	// result is the value bound to the task's result variable.
	result any
	// summary is added to the post_execute message, e.g. "exit code 0".
	summary string
	// fromChild marks a container failed because one of its tasks failed.
	fromChild bool
}

func failed(format string, args ...any) taskOut {
	return taskOut{state: stateFailed, msg: fmt.Sprintf(format, args...)}
}

// failWithoutRun reports a task that failed before its kind ran.
func (pr *pkgRun) failWithoutRun(tc *taskCtx, msg string) {
	name := tc.name()
	pr.r.emit(EventError, name, msg)
	pr.r.emit(EventTaskFailed, name, msg)
	pr.r.emit(EventPostExecute, name, fmt.Sprintf("failed: %s in 0s", msg))
	pr.setResult(tc.task.Name, map[string]any{"status": stateFailed.String(), "error": msg})
}

// runTask runs one task: waits for its slot (tk, nil for tasks that need
// none), runs its attempts with their timeout and retries, binds its
// result, and reports its pre_execute, task_failed and post_execute events.
func (pr *pkgRun) runTask(ctx context.Context, tc *taskCtx, tk *ticket) outcome {
	if !pr.handlers {
		return pr.runTaskBody(ctx, tc, tk)
	}
	// Handlers run outside the task's slot: their tasks take slots of
	// their own.
	name := tc.name()
	pr.fire(ctx, tc, pkgspec.OnPreExecute, eventInfo{source: name, at: name})
	o := pr.runTaskBody(ctx, tc, tk)
	for _, v := range tc.changed {
		pr.fire(ctx, tc, pkgspec.OnVariableValueChanged, eventInfo{source: name, at: name, variable: v})
	}
	tc.changed = nil
	for _, w := range o.warnings {
		pr.fire(ctx, tc, pkgspec.OnWarning, eventInfo{source: name, description: w, at: name})
	}
	if o.forced != nil {
		pr.fire(ctx, tc, pkgspec.OnError, *o.forced)
	}
	if o.state == stateFailed {
		if !o.childFailed {
			pr.fire(ctx, tc, pkgspec.OnError, eventInfo{source: name, code: o.code, description: o.msg, at: name})
		}
		pr.fire(ctx, tc, pkgspec.OnTaskFailed, eventInfo{source: name, code: o.code, description: o.msg, at: name})
	}
	pr.fire(ctx, tc, pkgspec.OnPostExecute, eventInfo{source: name, at: name})
	return o
}

// runTaskBody is runTask without the event handlers.
func (pr *pkgRun) runTaskBody(ctx context.Context, tc *taskCtx, tk *ticket) outcome {
	t := tc.task
	if tk != nil {
		if !tk.wait(ctx) {
			return outcome{task: t, state: statePending}
		}
		tc.slot = true
		defer func() { tc.slot = false; pr.r.sem.release() }()
	}
	name := tc.name()
	start := time.Now()
	tc.start = start
	pr.r.emit(EventPreExecute, name, "started")
	var out taskOut
	var warnings []string
	for attempt := 1; ; attempt++ {
		if err := pr.r.mayStart(); err != nil {
			out = taskOut{state: stateFailed, msg: err.Error()}
			break
		}
		out = pr.attempt(ctx, tc)
		if out.state != stateFailed || attempt > t.Retries || ctx.Err() != nil {
			break
		}
		w := fmt.Sprintf("attempt %d of %d failed: %s; retrying in %s", attempt, t.Retries+1, out.msg, t.RetryDelay)
		warnings = append(warnings, w)
		pr.r.emit(EventWarning, name, w)
		if !sleepCtx(ctx, t.RetryDelay) {
			out = taskOut{state: stateCanceled}
			break
		}
	}
	if out.state == stateSucceeded && t.Result != "" {
		if err := tc.set(t.Result, out.result); err != nil {
			out = failed("result: %v", err)
		} else {
			pr.r.emit(EventDiagnostic, name, fmt.Sprintf("result %s = %s", t.Result, format(out.result)))
		}
	}
	// A failure forced to success still raised its error, as in SSIS:
	// on_error runs for it (runTask), on_task_failed does not.
	var forced *eventInfo
	if out.state == stateFailed && t.ForceResult == pkgspec.ForceSuccess {
		forced = &eventInfo{source: name, code: exitCode(out), description: out.msg, at: name}
	}
	out = forceResult(t, out, func(w string) { pr.r.emit(EventWarning, name, w) })
	took := time.Since(start)
	res := map[string]any{"status": out.state.String(), "duration": took.Seconds(), "result": out.result}
	for k, v := range out.info {
		res[k] = v
	}
	if out.state == stateFailed {
		res["error"] = out.msg
	}
	pr.setResult(t.Name, res)
	summary := ""
	if out.summary != "" {
		summary = ": " + out.summary
	}
	switch out.state {
	case stateSucceeded:
		pr.r.emit(EventPostExecute, name, fmt.Sprintf("succeeded in %s%s", roundDuration(took), summary))
	case stateCanceled:
		pr.r.emit(EventPostExecute, name, fmt.Sprintf("canceled after %s", roundDuration(took)))
	default:
		pr.r.emit(EventTaskFailed, name, out.msg)
		pr.r.emit(EventPostExecute, name, fmt.Sprintf("failed: %s in %s", out.msg, roundDuration(took)))
	}
	code := 0
	if out.state == stateFailed {
		code = exitCode(out)
	}
	return outcome{task: t, state: out.state, msg: out.msg, warnings: warnings, code: code, childFailed: out.fromChild, forced: forced}
}

// exitCode is the error code of a failed outcome: an exec task's exit
// code, else 1.
func exitCode(out taskOut) int {
	if c, ok := out.info["exit_code"].(int); ok && c != 0 {
		return c
	}
	return 1
}

// attempt runs the task's kind once, under the task's timeout.
func (pr *pkgRun) attempt(ctx context.Context, tc *taskCtx) taskOut {
	t := tc.task
	tctx := ctx
	if t.Timeout > 0 {
		var cancel context.CancelFunc
		tctx, cancel = context.WithTimeoutCause(ctx, t.Timeout, errTaskTimeout)
		defer cancel()
	}
	var out taskOut
	switch {
	case t.Exec != nil:
		out = tc.execTask(tctx)
	case t.SQL != nil:
		out = tc.sqlTask(tctx)
	case t.File != nil:
		out = tc.fileTask(tctx)
	case t.HTTP != nil:
		out = tc.httpTask(tctx)
	case t.Mail != nil:
		out = tc.mailTask(tctx)
	case t.BulkInsert != nil:
		out = tc.bulkInsertTask(tctx)
	case t.Package != nil:
		out = tc.packageTask(tctx)
	case t.Set != nil:
		out = tc.setTask()
	case t.DataFlow != nil:
		out = tc.dataflowTask(tctx)
	case t.Sequence != nil:
		out = tc.sequence(tctx)
	case t.ForEach != nil:
		out = tc.forEach(tctx)
	case t.For != nil:
		out = tc.forLoop(tctx)
	default:
		out = failed("unsupported task type %q", t.Kind())
	}
	if ctx.Err() == nil && errors.Is(context.Cause(tctx), errTaskTimeout) && out.state != stateSucceeded {
		out = failed("timed out after %s", t.Timeout)
	} else if out.state == stateFailed && ctx.Err() != nil {
		out.state = stateCanceled // failed because it was stopped
	}
	if out.state == stateFailed {
		pr.r.emit(EventError, tc.name(), out.msg)
	}
	return out
}

// sleepCtx waits d or until ctx is done, reporting whether d passed.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// setTask assigns variables from expressions, in order.
func (tc *taskCtx) setTask() taskOut {
	return tc.assign(tc.task.Set.Assign, "set")
}

// assign evaluates and assigns each assignment in order.
func (tc *taskCtx) assign(as []pkgspec.Assignment, field string) taskOut {
	for _, a := range as {
		v, err := tc.eval(fmt.Sprintf("%s %s", field, a.Var), a.Expr)
		if err != nil {
			return failed("%v", err)
		}
		if err := tc.set(a.Var, v); err != nil {
			return failed("%s %s: %v", field, a.Var, err)
		}
		tc.pr.r.emit(EventDiagnostic, tc.name(), fmt.Sprintf("%s %s = %s", field, a.Var, format(v)))
	}
	return taskOut{state: stateSucceeded}
}

// forceResult applies the task's force_result to an outcome that ran to
// an end (a canceled task stays canceled): a failure forced to success is
// a warning, a success forced to failure a failure saying so.
func forceResult(t *pkgspec.Task, out taskOut, warn func(string)) taskOut {
	switch {
	case t.ForceResult == pkgspec.ForceSuccess && out.state == stateFailed:
		warn(fmt.Sprintf("failed: %s; force_result: success makes it succeed", out.msg))
		return taskOut{state: stateSucceeded, result: out.result, info: out.info, summary: "forced to succeed (force_result)"}
	case t.ForceResult == pkgspec.ForceFailure && out.state == stateSucceeded:
		return taskOut{state: stateFailed, msg: "forced to fail (force_result: failure)", info: out.info}
	}
	return out
}
