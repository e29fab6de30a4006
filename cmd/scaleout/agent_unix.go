//go:build !windows

package main

import (
	"os"
	"os/signal"
	"syscall"

	"github.com/scaleout/scaleout/cluster/agent"
)

// reloadOnHUP reloads the agent's TLS certificates on SIGHUP until the
// returned function is called.
func reloadOnHUP(a *agent.Agent) func() {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			case <-hup:
				_ = a.Reload() // the agent logs the outcome
			}
		}
	}()
	return func() { signal.Stop(hup); close(done) }
}
