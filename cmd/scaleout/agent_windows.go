package main

import "github.com/scaleout/scaleout/cluster/agent"

// reloadOnHUP does nothing on Windows (no SIGHUP): the agent reloads its
// certificates when their files change.
func reloadOnHUP(*agent.Agent) func() { return func() {} }
