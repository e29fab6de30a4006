package main

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/scaleout/scaleout/api"
)

// Exit code 3 means no agent answered; an answer (503 "no leader", 507)
// is a failed command (1) with the agent's message; 4xx is the caller's (2).
func TestAPIErr_ExitCodes(t *testing.T) {
	for _, c := range []struct {
		err  error
		want int
	}{
		{&api.Error{StatusCode: 503, Message: "no leader: no leader elected"}, exitFailed},
		{fmt.Errorf("submit x: %w", &api.Error{StatusCode: 507, Message: "storage"}), exitFailed},
		{&api.Error{StatusCode: 404, Message: "not found"}, exitUsage},
		{errors.New(`Get "http://127.0.0.1:1/v1/executions": dial tcp 127.0.0.1:1: connect: connection refused`), exitUnreached},
		{context.Canceled, exitFailed},
	} {
		var ee *exitError
		if err := apiErr(c.err); !errors.As(err, &ee) || ee.code != c.want {
			t.Errorf("apiErr(%v) = %v, want exit %d", c.err, err, c.want)
		}
	}
}

// A submission retried while no leader exists ends with the agent's answer
// (503 no leader: exit 1), also when the time runs out in the middle of an
// attempt; before, the cut attempt's deadline came out as "no agent could
// be reached" (exit 3) although every attempt had been answered.
func TestRetryTransient_EndsWithTheLastAnswer(t *testing.T) {
	noLeader := &api.Error{StatusCode: 503, Message: "no leader: no leader elected"}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond) // cuts the second attempt
	defer cancel()
	calls := 0
	err := retryTransient(ctx, func(ctx context.Context) error {
		calls++
		select { // the agent holds each request a while before it answers
		case <-ctx.Done():
			return fmt.Errorf(`Post "http://agent/v1/executions": %w`, ctx.Err())
		case <-time.After(300 * time.Millisecond):
			return noLeader
		}
	})
	var ee *exitError
	if !errors.Is(err, noLeader) || !errors.As(apiErr(err), &ee) || ee.code != exitFailed || calls < 2 {
		t.Fatalf("after %d calls: %v (exit %v), want the 503 answer and exit 1", calls, err, ee)
	}
	// Nothing ever answered: the deadline is the error.
	ctx2, cancel2 := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel2()
	err = retryTransient(ctx2, func(ctx context.Context) error {
		<-ctx.Done()
		return fmt.Errorf(`Post "http://agent/v1/executions": %w`, ctx.Err())
	})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("no answer at all: %v, want the deadline", err)
	}
}
