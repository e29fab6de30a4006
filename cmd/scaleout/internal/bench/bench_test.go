package bench

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestBench_OptionsAndTable checks the parts of the bench that need no
// cluster: --pids parsing, unknown scenarios, the table layout and the JSON
// field names. It measures nothing.
func TestBench_OptionsAndTable(t *testing.T) {
	pids := map[string]int{}
	if err := parsePids("a1=10, a2=20", pids); err != nil || pids["a1"] != 10 || pids["a2"] != 20 {
		t.Fatalf("parsePids: %v %v", pids, err)
	}
	for _, bad := range []string{"a1", "=3", "a1=x", "a1=-1"} {
		if err := parsePids(bad, map[string]int{}); err == nil {
			t.Errorf("parsePids(%q) accepted", bad)
		}
	}
	rep, err := Run(t.Context(), Options{Scenarios: []string{"latency", "nope"}})
	if rep != nil || !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), `unknown scenario "nope"`) {
		t.Fatalf("unknown scenario: %v %v, want a usage error", rep, err)
	}
	_, err = Run(t.Context(), Options{Address: "http://127.0.0.1:1", Pids: "a1"})
	if !errors.Is(err, ErrUsage) {
		t.Fatalf("bad pids: %v, want a usage error", err)
	}
	_, err = Run(t.Context(), Options{Address: "http://127.0.0.1:1"})
	if !errors.Is(err, ErrUnreachable) || !strings.HasPrefix(err.Error(), "cluster at http://127.0.0.1:1: ") {
		t.Fatalf("nobody at the address: %v, want ErrUnreachable", err)
	}

	var out bytes.Buffer
	rep = &Report{Rows: []Row{
		{Scenario: "submit", Metric: "bulk", Value: 200, Unit: "executions/s", Baseline: 100, Ratio: 2, Note: "n"},
		{Scenario: "latency", Metric: "error", Note: "boom"},
	}}
	rep.WriteTable(&out)
	for _, want := range []string{"| submit", "| 200.0", "| 2.000", "latency / error: boom"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
	rep.Time, rep.Local, rep.Coalesce = time.Unix(0, 0).UTC(), 3, 1
	buf, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"time"`, `"version"`, `"go_version"`, `"cpus"`, `"host"`, `"local_servers":3`,
		`"coalesce_max":1`, `"rows"`, `"duration"`, `"baseline_applies_per_s":100`, `"ratio":2`, `"note":"boom"`} {
		if !bytes.Contains(buf, []byte(key)) {
			t.Errorf("JSON lacks %s: %s", key, buf)
		}
	}
}

// TestBench_ProcCPU checks the /proc/PID/stat reader the exec scenario's CPU
// split rests on: a comm with spaces and parentheses, and this process's
// own times growing with work done.
func TestBench_ProcCPU(t *testing.T) {
	ppid, fields, ok := procStatFields("42 (a (b) c) S 7 42 42 0 -1 4194560 1 2 3 4 150 25 300 45 20 0")
	if !ok || ppid != 7 || fields[14-3] != "150" || fields[17-3] != "45" {
		t.Fatalf("procStatFields: %d %v %v", ppid, fields, ok)
	}
	if _, _, ok := procStatFields("garbage"); ok {
		t.Fatal("procStatFields accepted a line without a comm")
	}
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc here")
	}
	c0, err := procCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	// Burn CPU until the kernel's tick-granular counter moves.
	deadline := time.Now().Add(30 * time.Second)
	x := 0
	for time.Now().Before(deadline) {
		for i := range 1_000_000 {
			x += i
		}
		if c1, err := procCPU(os.Getpid()); err != nil || c1.own > c0.own {
			if err != nil {
				t.Fatal(err)
			}
			return
		}
	}
	t.Fatalf("own CPU time did not grow (%d)", x)
}

// TestBench_BuildISPAC checks the import scenario's .ispac: 20 packages
// from the corpus's etl project, the first copy of each under its own name
// (Parent runs Child.dtsx), the project files, and a manifest naming them.
func TestBench_BuildISPAC(t *testing.T) {
	data, err := buildISPAC("../../../../"+DefaultSSISProject, importPackages)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	var dtsx []string
	var manifest string
	for _, f := range zr.File {
		switch {
		case strings.HasSuffix(f.Name, ".dtsx"):
			dtsx = append(dtsx, f.Name)
		case f.Name == "@Project.manifest":
			r, _ := f.Open()
			b, _ := io.ReadAll(r)
			manifest = string(b)
		}
	}
	if len(dtsx) != importPackages || !slices.Contains(dtsx, "Child.dtsx") || !slices.Contains(dtsx, "Orders10.dtsx") {
		t.Fatalf("packages %v", dtsx)
	}
	if strings.Count(manifest, "<SSIS:Package ") != importPackages || !strings.Contains(manifest, `SSIS:Name="Warehouse.conmgr"`) {
		t.Fatalf("manifest %s", manifest)
	}
	if _, err := buildISPAC(t.TempDir(), importPackages); err == nil || !strings.Contains(err.Error(), "--ssis-project") {
		t.Fatalf("empty folder: %v", err)
	}
}
