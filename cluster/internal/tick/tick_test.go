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
