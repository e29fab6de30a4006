package main

import (
	"bytes"
	"testing"
)

// TestBench_ExitCodes checks that the bench package's errors become the
// command's exit codes. It measures nothing (package bench tests the rest).
func TestBench_ExitCodes(t *testing.T) {
	for _, c := range []struct {
		f    benchFlags
		code int
	}{
		{benchFlags{scenarios: "nope"}, exitUsage},
		{benchFlags{scenarios: "latency", clientFlags: clientFlags{address: "http://127.0.0.1:1"}}, exitUnreached},
		{benchFlags{scenarios: "latency", pids: "a1", clientFlags: clientFlags{address: "http://127.0.0.1:1"}}, exitUsage},
	} {
		err := runBench(t.Context(), &bytes.Buffer{}, &bytes.Buffer{}, &c.f)
		if ee, ok := err.(*exitError); !ok || ee.code != c.code {
			t.Errorf("%+v: %v, want exit code %d", c.f, err, c.code)
		}
	}
}
