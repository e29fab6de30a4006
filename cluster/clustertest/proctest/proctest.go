// Package proctest finds and kills processes by their command line, for
// tests that start processes meant to outlive something (orphans, setsid)
// and must not leave them behind when they fail. Linux (/proc) only;
// elsewhere it finds nothing. It uses the standard library only, so every
// package's tests can import it.
package proctest

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// KillMarked SIGKILLs every process whose command line (its arguments
// joined by spaces) contains one of markers — except scaleout processes,
// whose command lines may quote a marker (a package's source on argv):
// the test's own agents are stopped by the test.
func KillMarked(markers ...string) {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		raw, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		cmdline := strings.ReplaceAll(string(raw), "\x00", " ")
		if strings.Contains(cmdline, "scaleout") {
			continue
		}
		for _, m := range markers {
			if strings.Contains(cmdline, m) {
				if p, err := os.FindProcess(pid); err == nil {
					_ = p.Kill()
				}
				break
			}
		}
	}
}
