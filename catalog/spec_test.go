package catalog

import (
	"encoding/json"
	"errors"
	"github.com/scaleout/scaleout/catalog/pkgspec"
	"testing"
)

func TestExecutionSpec_Check(t *testing.T) {
	inline := ExecutionSpec{PackageName: "p", Source: "name: p"}
	deployed := ExecutionSpec{PackageName: "p", PackageFile: "packages/p.yaml", Folder: "F", Project: "P", ProjectVersion: 1, ArchiveHash: "h"}
	with := func(s ExecutionSpec, f func(*ExecutionSpec)) ExecutionSpec { f(&s); return s }
	cases := []struct {
		name string
		spec ExecutionSpec
		ok   bool
	}{
		{"inline", inline, true},
		{"deployed", deployed, true},
		{"no name", with(inline, func(s *ExecutionSpec) { s.PackageName = "" }), false},
		{"negative retries", with(inline, func(s *ExecutionSpec) { s.Retries = -1 }), false},
		{"bad level", with(inline, func(s *ExecutionSpec) { s.LoggingLevel = "loud" }), false},
		{"inline without source", with(inline, func(s *ExecutionSpec) { s.Source = "" }), false},
		{"inline with project values", with(inline, func(s *ExecutionSpec) { s.ProjectParams = map[string]string{"a": "b"} }), false},
		{"inline with connections", with(inline, func(s *ExecutionSpec) { s.Connections = []pkgspec.ConnectionManager{{Name: "c"}} }), false},
		{"deployed with source", with(deployed, func(s *ExecutionSpec) { s.Source = "name: p" }), false},
		{"deployed without hash", with(deployed, func(s *ExecutionSpec) { s.ArchiveHash = "" }), false},
		{"deployed without version", with(deployed, func(s *ExecutionSpec) { s.ProjectVersion = 0 }), false},
		{"empty target worker", with(inline, func(s *ExecutionSpec) { s.TargetWorkers = []string{""} }), false},
		{"empty label name", with(inline, func(s *ExecutionSpec) { s.TargetLabels = map[string]string{"": "x"} }), false},
	}
	for _, c := range cases {
		err := c.spec.Check()
		if (err == nil) != c.ok || (err != nil && !errors.Is(err, ErrInvalid)) {
			t.Errorf("%s: Check() = %v, want ok=%v", c.name, err, c.ok)
		}
	}
}

// TestExecution_ReadsRecordsWrittenBeforeTheSpec decodes an execution as
// earlier versions stored it (every field flat): the spec is inlined in
// the JSON, so nothing is lost.
func TestExecution_ReadsRecordsWrittenBeforeTheSpec(t *testing.T) {
	old := `{"id":7,"status":"pending","package_name":"load","package_file":"packages/load.yaml","params":{"n":"1"},
		"sensitive":["pw"],"retries":2,"target_workers":["w1"],"caller":"me","attempt":0,"created_at":"2026-11-01T00:00:00Z",
		"event_count":1,"folder":"F","project":"P","project_version":3,"archive_hash":"abc","environment":"F/E",
		"project_params":{"region":"emea"},"logging_level":"basic","max_events":100}`
	var e Execution
	if err := json.Unmarshal([]byte(old), &e); err != nil {
		t.Fatal(err)
	}
	if e.ID != 7 || e.PackageName != "load" || e.PackageFile != "packages/load.yaml" || e.Params["n"] != "1" || e.Retries != 2 ||
		e.TargetWorkers[0] != "w1" || e.Caller != "me" || e.Folder != "F" || e.ProjectVersion != 3 || e.ArchiveHash != "abc" ||
		e.Environment != "F/E" || e.ProjectParams["region"] != "emea" || e.LoggingLevel != "basic" || e.MaxEvents != 100 || !e.FromProject() {
		t.Fatalf("decoded %+v", e)
	}
	again, _ := json.Marshal(&e)
	var back map[string]any
	_ = json.Unmarshal(again, &back)
	if back["package_name"] != "load" || back["archive_hash"] != "abc" || back["spec"] != nil {
		t.Fatalf("encoded %s", again)
	}
}
