package worker

import (
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/scaleout/scaleout/api"
)

func fenceJob(t *testing.T, seconds string, fenceMS int) *Job {
	return &Job{Task: api.Task{ID: 1, Attempt: 1, PackageFile: "nap.yaml",
		Package: "name: nap\ntasks:\n  - name: nap\n    exec: {command: [sleep, '" + seconds + "']}\n"},
		WorkDir: t.TempDir(), KillGraceMS: 200, FenceMS: fenceMS}
}

// A run whose worker stops renewing it (frozen) stops itself once the
// fence has passed and says so; the result is marked fenced, so the worker
// reports nothing, and the child is not reused.
func TestRunJob_FencesItselfWithoutRenewals(t *testing.T) {
	sigs, gone := make(chan os.Signal), make(chan struct{})
	start := time.Now()
	res, clean := runJob(fenceJob(t, "30", 300), newLineWriter(io.Discard), sigs, gone, newFence())
	if !res.Fenced || res.Status != "failed" || clean {
		t.Fatalf("result %+v, clean %v: want fenced, failed, not clean", res, clean)
	}
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Fatalf("fenced after %s, before the fence of 300ms", d)
	}
}

// Renewals keep a run going past its first fence; a job without a fence
// (FenceMS 0) is never fenced.
func TestRunJob_RenewalsKeepTheRunGoing(t *testing.T) {
	sigs, gone := make(chan os.Signal), make(chan struct{})
	fc := newFence()
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				fc.extend(time.Second)
			case <-stop:
				return
			}
		}
	}()
	res, clean := runJob(fenceJob(t, "2.5", 1000), newLineWriter(io.Discard), sigs, gone, fc)
	if res.Fenced || res.Status != "succeeded" || !clean {
		t.Fatalf("renewed run: %+v clean %v", res, clean)
	}
	res, _ = runJob(fenceJob(t, "0.5", 0), newLineWriter(io.Discard), sigs, gone, newFence())
	if res.Fenced || res.Status != "succeeded" {
		t.Fatalf("run without a fence: %+v", res)
	}
}

// A fence that has passed refuses new work (the package process was frozen
// past its lease); a renewal in time, or no fence at all, does not.
func TestFence_CheckRefusesAfterTheDeadline(t *testing.T) {
	f := newFence()
	if err := f.check(); err != nil {
		t.Fatalf("no fence: %v", err)
	}
	f.start(time.Hour)
	if err := f.check(); err != nil {
		t.Fatalf("within the lease: %v", err)
	}
	f.start(time.Nanosecond)
	deadline := time.Now().Add(5 * time.Second)
	for f.check() == nil {
		if time.Now().After(deadline) {
			t.Fatal("a fence of 1 ns never refused")
		}
		time.Sleep(time.Millisecond)
	}
	if err := f.check(); !strings.Contains(err.Error(), "lease ran out") {
		t.Fatalf("refusal %q does not say why", err)
	}
	f.extend(time.Hour)
	if err := f.check(); err != nil {
		t.Fatalf("after a renewal: %v", err)
	}
}
