package worker

import (
	"os"
	"time"
)

// readSystem reads /proc/stat and /proc/meminfo.
func readSystem() (sysSample, bool) {
	stat, err := os.ReadFile("/proc/stat")
	if err != nil {
		return sysSample{}, false
	}
	mem, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return sysSample{}, false
	}
	busy, total, ok := parseProcStat(string(stat))
	if !ok {
		return sysSample{}, false
	}
	avail, ok := parseMemAvailable(string(mem))
	if !ok {
		return sysSample{}, false
	}
	return sysSample{at: time.Now(), busy: busy, total: total, available: avail}, true
}
