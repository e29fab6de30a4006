package main

import (
	"context"
	"errors"
	"fmt"
	"testing"

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
