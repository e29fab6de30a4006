package worker

import (
	"bufio"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/scaleout/scaleout/api"
)

// Admission thresholds (SSIS Scale Out Worker's TaskRequestMaxCPU and
// TaskRequestMinMemory): a worker whose machine is busier than MaxCPU
// percent, or has less than MinMemory bytes available, asks the master
// for no new work until that passes; running attempts are not touched.
// They are read from /proc on Linux; elsewhere the thresholds are off
// (readSystem reports ok = false) and the worker always asks.
type admission struct {
	maxCPU    float64 // percent of all CPUs, 0: off
	minMemory uint64  // bytes available, 0: off
	read      func() (sysSample, bool)

	mu      sync.Mutex
	last    sysSample
	haveOne bool
	cpu     float64 // busy percent over the last interval
	reason  string  // why the last check refused ("" = admitted)
}

// sysSample is one reading of the machine's CPU counters and memory.
type sysSample struct {
	at        time.Time
	busy      uint64 // CPU time spent busy, in clock ticks (all CPUs)
	total     uint64 // CPU time in all states, in clock ticks
	available uint64 // MemAvailable, bytes
}

// minCPUInterval is the shortest interval over which CPU use is measured;
// checks closer together reuse the last measure.
const minCPUInterval = 250 * time.Millisecond

func newAdmission(maxCPU float64, minMemory uint64, read func() (sysSample, bool)) *admission {
	if read == nil {
		read = readSystem
	}
	return &admission{maxCPU: maxCPU, minMemory: minMemory, read: read}
}

// check returns "" when the worker may ask for work, else why not.
func (a *admission) check() string {
	if a == nil || (a.maxCPU <= 0 && a.minMemory == 0) {
		return ""
	}
	s, ok := a.read()
	if !ok {
		return ""
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.haveOne {
		a.last, a.haveOne = s, true
	} else if s.at.Sub(a.last.at) >= minCPUInterval && s.total > a.last.total {
		a.cpu = 100 * float64(s.busy-min(s.busy, a.last.busy)) / float64(s.total-a.last.total)
		a.last = s
	}
	a.reason = ""
	switch {
	case a.maxCPU > 0 && a.cpu > a.maxCPU:
		a.reason = fmt.Sprintf("CPU use %.0f%% is above the ceiling of %.0f%%", a.cpu, a.maxCPU)
	case a.minMemory > 0 && s.available < a.minMemory:
		a.reason = fmt.Sprintf("available memory %d MiB is below the floor of %d MiB", s.available>>20, a.minMemory>>20)
	}
	return a.reason
}

// parseProcStat reads the aggregate "cpu" line of /proc/stat: busy is
// every state but idle and iowait.
func parseProcStat(text string) (busy, total uint64, ok bool) {
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 5 || f[0] != "cpu" {
			continue
		}
		for i, v := range f[1:] {
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				return 0, 0, false
			}
			if i >= 8 { // guest and guest_nice are already counted in user and nice
				break
			}
			total += n
			if i != 3 && i != 4 { // idle, iowait
				busy += n
			}
		}
		return busy, total, true
	}
	return 0, 0, false
}

// parseMemAvailable reads MemAvailable (kB) from /proc/meminfo, in bytes.
func parseMemAvailable(text string) (uint64, bool) {
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "MemAvailable:" {
			n, err := strconv.ParseUint(f[1], 10, 64)
			return n << 10, err == nil
		}
	}
	return 0, false
}

// admitSlots asks for no new work while an admission threshold is
// crossed, and logs when that starts and ends.
func (w *Worker) admitSlots(req *api.PollRequest) {
	if req.Slots == 0 {
		return
	}
	why := w.admit.check()
	if why != "" {
		req.Slots = 0
	}
	if why != w.refused {
		if why != "" {
			w.logger.Info("asking for no new work", "reason", why)
		} else {
			w.logger.Info("asking for work again")
		}
		w.refused = why
	}
}
