package worker

import (
	"runtime"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/scaleout/scaleout/api"
)

func TestParseProcStat(t *testing.T) {
	text := "cpu  100 5 50 800 20 3 2 7 11 13\ncpu0 1 2 3 4 5 6 7 8\nintr 1\n"
	busy, total, ok := parseProcStat(text)
	// busy: user+nice+system+irq+softirq+steal = 100+5+50+3+2+7; total adds idle+iowait.
	if !ok || busy != 167 || total != 987 {
		t.Fatalf("busy %d total %d ok %v", busy, total, ok)
	}
	for _, bad := range []string{"", "cpu0 1 2 3 4 5\n", "cpu 1 x 3 4 5\n"} {
		if _, _, ok := parseProcStat(bad); ok {
			t.Errorf("parsed %q", bad)
		}
	}
	if n, ok := parseMemAvailable("MemTotal: 8000 kB\nMemAvailable:    2048 kB\n"); !ok || n != 2048<<10 {
		t.Fatalf("MemAvailable = %d %v", n, ok)
	}
	if _, ok := parseMemAvailable("MemTotal: 8000 kB\n"); ok {
		t.Fatal("MemAvailable found in a file without it")
	}
}

func TestAdmission_Thresholds(t *testing.T) {
	t0 := time.Unix(1000, 0)
	samples := []sysSample{
		{at: t0, busy: 0, total: 0, available: 1 << 30},
		{at: t0.Add(time.Second), busy: 90, total: 100, available: 1 << 30},             // 90% busy
		{at: t0.Add(1100 * time.Millisecond), busy: 90, total: 100, available: 1 << 30}, // too soon: keeps 90%
		{at: t0.Add(2 * time.Second), busy: 100, total: 200, available: 1 << 30},        // 10% busy
		{at: t0.Add(3 * time.Second), busy: 110, total: 300, available: 50 << 20},       // 10%, 50 MiB left
	}
	i := 0
	a := newAdmission(70, 100<<20, func() (sysSample, bool) { s := samples[i]; i++; return s, true })
	w := &Worker{admit: a, logger: hclog.NewNullLogger()}
	want := []int{4, 0, 0, 4, 0}
	for n, slots := range want {
		req := &api.PollRequest{Slots: 4}
		w.admitSlots(req)
		if req.Slots != slots {
			t.Fatalf("sample %d: slots %d, want %d (reason %q)", n, req.Slots, slots, w.refused)
		}
	}
	if w.refused != "available memory 50 MiB is below the floor of 100 MiB" {
		t.Fatalf("reason %q", w.refused)
	}
	// Off: never reads the system.
	off := newAdmission(0, 0, func() (sysSample, bool) { t.Fatal("read with thresholds off"); return sysSample{}, false })
	if off.check() != "" {
		t.Fatal("refused with thresholds off")
	}
}

func TestAdmission_ReadsThisSystem(t *testing.T) {
	s, ok := readSystem()
	if runtime.GOOS != "linux" {
		if ok {
			t.Fatal("read system figures outside Linux")
		}
		return
	}
	if !ok || s.total == 0 || s.available == 0 {
		t.Fatalf("read %+v %v", s, ok)
	}
}
