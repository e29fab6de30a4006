package tick

import (
	"testing"
	"time"
)

func TestEvery_CallsUntilStopped(t *testing.T) {
	stop := make(chan struct{})
	calls := make(chan struct{}, 16)
	done := make(chan struct{})
	go func() {
		Every(time.Millisecond, stop, func() { calls <- struct{}{} })
		close(done)
	}()
	for i := 0; i < 3; i++ {
		select {
		case <-calls:
		case <-time.After(5 * time.Second):
			t.Fatalf("call %d did not come", i+1)
		}
	}
	close(stop)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Every did not return after stop was closed")
	}
}

func TestEveryOrWhen_WakesAndEnds(t *testing.T) {
	wake := make(chan struct{}, 1)
	done := make(chan struct{})
	calls := 0
	go func() {
		// An interval far beyond the test: only wake can cause the calls.
		EveryOrWhen(time.Hour, nil, wake, func() bool { calls++; return calls < 2 })
		close(done)
	}()
	wake <- struct{}{}
	wake <- struct{}{}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("EveryOrWhen did not end when fn returned false")
	}
	if calls != 2 {
		t.Fatalf("%d calls, want 2", calls)
	}
}
