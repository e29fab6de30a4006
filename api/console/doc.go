// Package console is the web console every agent serves at /ui/: the
// cluster (Scale Out Manager), workers, executions (All Executions),
// execution reports with a task timeline, package performance, and the
// catalog with a form to run a package.
//
// It reads and writes through the agent's own HTTP API with the api client
// (so a follower forwards writes to the leader exactly as the API does) and
// imports nothing of the module but api: the dependency points one way,
// console -> api (.ci/check-imports). Pages are html/template, assets are
// embedded with go:embed; a little JavaScript refreshes relative times and
// follows a running execution. Task durations come from the execution's
// events (pre_execute / post_execute), not from extra state.
package console
