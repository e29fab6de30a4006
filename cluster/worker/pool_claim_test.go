package worker

import (
	"errors"
	"runtime"
	"testing"
	"time"
)

// claimPool is a pool whose starts never get a slot: an attempt that does
// not get a child from the pool waits for a start slot until it quits.
func claimPool() *pool {
	return &pool{w: &Worker{cfg: Config{MaxTasks: 2}, starting: make(chan struct{})}}
}

// getAsync runs p.get for a fresh attempt and returns the attempt and the
// channel that gets get's answer.
func getAsync(p *pool) (*attempt, chan error, chan *child) {
	a := &attempt{quit: make(chan struct{})}
	errc, got := make(chan error, 1), make(chan *child, 1)
	go func() {
		c, err := p.get(a)
		got <- c
		errc <- err
	}()
	return a, errc, got
}

func (p *pool) counts() (settling, claims int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.settling, p.claims
}

// TestPool_LeaseWaitsForASettlingChild: a lease that arrives after a
// child's result but before the child said it can run again (under load
// the usual order) gets that child instead of starting a process; once
// the settle ends without one, it goes on to start its own.
func TestPool_LeaseWaitsForASettlingChild(t *testing.T) {
	p := claimPool()
	p.settling = 1 // as settle does while a child decides
	_, errc, got := getAsync(p)
	waitFor(t, "the attempt to wait for the settling child", func() bool { _, c := p.counts(); return c == 1 })

	back := &child{dead: make(chan struct{})}
	p.put(back) // the child said it is ready
	if c := <-got; c != back {
		t.Fatalf("get returned %p, want the child that came back %p", c, back)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}

	// A settle that ends with the child gone (it exited): the waiting
	// attempt goes on to start a process (it waits for a start slot).
	p.settling = 1
	a, errc, got := getAsync(p)
	waitFor(t, "the second attempt to wait", func() bool { _, c := p.counts(); return c == 1 })
	p.mu.Lock()
	p.settling--
	p.notify()
	p.mu.Unlock()
	waitFor(t, "the attempt to stop waiting for a child", func() bool { _, c := p.counts(); return c == 0 })
	close(a.quit) // it now waits for a start slot, which never comes
	if err := <-errc; !errors.Is(err, errQuit) {
		t.Fatalf("get: %v, want errQuit", err)
	}
	if c := <-got; c != nil {
		t.Fatalf("get returned a child %p although none came back", c)
	}
}

// TestPool_NoMoreClaimsThanSettlingChildren: with one child settling, one
// attempt waits for it and the next goes on to start a process; a warm
// start is waited for by all; no claim is made after the claim deadline,
// and a claim that is never answered gives up by itself.
func TestPool_NoMoreClaimsThanSettlingChildren(t *testing.T) {
	p := claimPool()
	until := time.Now().Add(time.Hour)
	p.settling = 1
	if _, ch, claim := p.look(until); ch == nil || !claim {
		t.Fatalf("first look with a settling child: changed %v, claim %v; want a claim", ch, claim)
	}
	if _, ch, claim := p.look(until); ch != nil || claim {
		t.Fatalf("second look with the one settling child claimed: changed %v, claim %v; want a start", ch, claim)
	}
	p.warming = 1
	if _, ch, claim := p.look(until); ch == nil || claim {
		t.Fatalf("look during a warm start: changed %v, claim %v; want a wait without claim", ch, claim)
	}
	p.warming, p.claims = 0, 0
	if _, ch, claim := p.look(time.Now().Add(-time.Millisecond)); ch != nil || claim {
		t.Fatalf("look after the claim deadline: changed %v, claim %v; want a start", ch, claim)
	}

	// The child never comes back and never exits: the claim ends by itself
	// (after claimWait) and the attempt goes on to wait for a start slot.
	a, errc, _ := getAsync(p)
	waitFor(t, "the attempt's claim", func() bool { _, c := p.counts(); return c == 1 })
	waitFor(t, "the claim to give up", func() bool { _, c := p.counts(); return c == 0 })
	close(a.quit)
	if err := <-errc; !errors.Is(err, errQuit) {
		t.Fatalf("get: %v, want errQuit", err)
	}
}

// heapInUse reads what runtime.ReadMemStats calls HeapInuse, without
// stopping the world: the reuse check compares it with maxReuseHeap.
func TestHeapInUseMatchesMemStats(t *testing.T) {
	keep := make([][]byte, 0, 64)
	for range 64 {
		keep = append(keep, make([]byte, 64<<10)) // 4 MiB the heap must count
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	got := heapInUse()
	lo, hi := ms.HeapInuse/2, ms.HeapInuse*2
	if got < 4<<20 || got < lo || got > hi {
		t.Fatalf("heapInUse %d, MemStats.HeapInuse %d", got, ms.HeapInuse)
	}
	runtime.KeepAlive(keep)
}
