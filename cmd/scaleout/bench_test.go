package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestBench_FlagsAndTable checks the parts of `scaleout bench` that need no
// cluster: --pids parsing, unknown scenarios and the table layout. It
// measures nothing.
func TestBench_FlagsAndTable(t *testing.T) {
	pids := map[string]int{}
	if err := parsePids("a1=10, a2=20", pids); err != nil || pids["a1"] != 10 || pids["a2"] != 20 {
		t.Fatalf("parsePids: %v %v", pids, err)
	}
	for _, bad := range []string{"a1", "=3", "a1=x", "a1=-1"} {
		if err := parsePids(bad, map[string]int{}); err == nil {
			t.Errorf("parsePids(%q) accepted", bad)
		}
	}
	err := runBench(t.Context(), &bytes.Buffer{}, &bytes.Buffer{}, &benchFlags{scenarios: "nope"})
	if ee, ok := err.(*exitError); !ok || ee.code != exitUsage {
		t.Fatalf("unknown scenario: %v, want a usage error", err)
	}
	var out bytes.Buffer
	printBenchTable(&out, &benchReport{Rows: []benchRow{
		{Scenario: "submit", Metric: "bulk", Value: 200, Unit: "executions/s", Baseline: 100, Ratio: 2, Note: "n"},
		{Scenario: "latency", Metric: "error", Note: "boom"},
	}})
	for _, want := range []string{"| submit", "| 200.0", "| 2.000", "latency / error: boom"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
}
