// Package executor runs a parsed package ([pkgspec.Package]) in the current
// process: precedence constraints (success, failure, completion, with
// expressions, joined by AND or OR), containers (sequence, foreach, for),
// scoped variables, and the exec, sql, file, http, package and set tasks,
// with per-task timeouts and retries. It runs independent tasks
// concurrently up to max_parallel, reports everything as an [Event]
// filtered by the logging level, and turns context cancellation into
// SIGTERM, then SIGKILL, for each running exec task's process group (and
// into interrupted queries and requests for the others).
//
// The executor knows nothing of raft, the HTTP API or the catalog store: callers
// pass a package, parameter values and a [Sink] for events, and get a
// [Result] back. Recording an execution's state is the caller's business.
//
// # Process groups and orphans
//
// Each task process leads its own process group, so that cancellation
// reaches everything the task started. When the task process exits, any
// processes left in its group are killed. On Linux the children also get
// SIGKILL as parent-death signal, so they do not outlive a crashed caller.
//
// Processes orphaned inside a task's group are reparented to the nearest
// "child subreaper", or to PID 1. Where PID 1 does not reap (some
// containers), they stay zombies and their process group lingers. A
// long-lived process that runs packages should call [SetSubreaper] once at
// start-up; Run then reaps the orphans of each task group itself, and
// reports the group through Options.OnProcess only once it is empty.
package executor
