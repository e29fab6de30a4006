// Package failpoint lets end-to-end tests crash an agent at a precise point
// that no signal sent from outside can hit reliably (between saving a
// result and delivering it, say). A failpoint is named in the environment
// variable SCALEOUT_FAILPOINTS (names separated by commas); when the agent
// reaches it, the process exits at once with status 86, as a kill -9
// would leave it: no deferred function runs, nothing is flushed.
//
// Once is the other kind: it reports true the first time an armed name is
// reached, and the caller acts as the fault would (drop an answer).
//
// It is for tests only; with the variable unset a failpoint costs one
// map lookup on a nil map.
package failpoint

import (
	"os"
	"strings"
	"sync"
)

// ExitCode is the status a process exits with at a failpoint.
const ExitCode = 86

var armed = parse(os.Getenv("SCALEOUT_FAILPOINTS"))

func parse(s string) map[string]bool {
	var m map[string]bool
	for _, name := range strings.Split(s, ",") {
		if name = strings.TrimSpace(name); name != "" {
			if m == nil {
				m = map[string]bool{}
			}
			m[name] = true
		}
	}
	return m
}

// Hit exits the process when the failpoint name is armed.
func Hit(name string) {
	if armed[name] {
		os.Stderr.WriteString("failpoint " + name + ": exiting\n")
		os.Exit(ExitCode)
	}
}

var (
	onceMu  sync.Mutex
	onceHit map[string]bool
)

// Once reports true the first time it is called with an armed name in
// this process, false otherwise: a failpoint that makes the agent behave
// as a fault would (drop an answer) once, without exiting.
func Once(name string) bool {
	if !armed[name] {
		return false
	}
	onceMu.Lock()
	defer onceMu.Unlock()
	if onceHit[name] {
		return false
	}
	if onceHit == nil {
		onceHit = map[string]bool{}
	}
	onceHit[name] = true
	os.Stderr.WriteString("failpoint " + name + ": hit\n")
	return true
}
