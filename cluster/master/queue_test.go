package master

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/scaleout/scaleout/api"
	"github.com/scaleout/scaleout/catalog"
	"github.com/scaleout/scaleout/catalog/pkgspec"
)

// TestCatalog_SetValuesWhileCreated: values set on a created execution of
// a deployed package are checked, sealed when sensitive, and a project
// parameter re-resolves the connections that use it; the lease carries
// the new values.
func TestCatalog_SetValuesWhileCreated(t *testing.T) {
	m, c := newCatalogWithFolder(t)
	ctx := context.Background()
	deploy(t, c, "F", "P", map[string]string{
		"project.yaml":       connProject,
		"packages/main.yaml": "name: main\nparameters:\n  n: {type: int, default: 3}\n  host: {type: string, default: pkg}\ntasks:\n  - name: a\n    exec: {command: [/bin/true]}\n",
	})
	no := false
	id, err := c.CreateExecution(ctx, "F", "P", "main", &api.CreateExecutionRequest{Params: map[string]string{"pw": "one"},
		QueueOptions: api.QueueOptions{Start: &no, Priority: 4}}, "me")
	if err != nil {
		t.Fatal(err)
	}
	if e, _ := m.Execution(id); e.Status != catalog.StatusCreated || e.Priority != 4 {
		t.Fatalf("created: %s priority %d", e.Status, e.Priority)
	}
	set := func(p map[string]string) error { return m.SetExecution(ctx, id, &api.SetExecutionRequest{Params: p}) }
	if err := set(map[string]string{"n": "7", "pw": "two", "project.host": "db2"}); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []map[string]string{{"n": "seven"}, {"nosuch": "1"}} {
		if err := set(bad); !errors.Is(err, pkgspec.ErrParamType) && !errors.Is(err, pkgspec.ErrUnknownParam) {
			t.Fatalf("set %v: %v", bad, err)
		}
	}
	e, _ := m.Execution(id)
	if e.Params["n"] != "7" || e.Params["host"] != "pkg" || e.ProjectParams["host"] != "db2" || !catalog.IsSealed(e.ProjectParams["pw"]) {
		t.Fatalf("after set: params %v project %v", e.Params, e.ProjectParams)
	}
	if e.Connections[0].Properties["host"] != "db2" || !catalog.IsSealed(e.Connections[0].Properties["password"]) {
		t.Fatalf("connections not re-resolved: %v", e.Connections[0].Properties)
	}
	if _, err := m.Start(ctx, id, "me"); err != nil {
		t.Fatal(err)
	}
	task := leaseOne(t, m)
	if task.ID != id || task.Params["n"] != "7" || task.ProjectParams["pw"] != "two" || task.Connections[0].Properties["password"] != "xtwoy" ||
		!slices.Contains(task.Secrets, "two") {
		t.Fatalf("task %+v", task)
	}
	if err := set(map[string]string{"n": "8"}); !errors.Is(err, catalog.ErrNotCreated) {
		t.Fatalf("set after start: %v", err)
	}
}

func TestDescribeTargets(t *testing.T) {
	for _, c := range []struct {
		s    catalog.ExecutionSpec
		want string
	}{
		{catalog.ExecutionSpec{}, "any worker"},
		{catalog.ExecutionSpec{TargetWorkers: []string{"w1"}}, "worker w1"},
		{catalog.ExecutionSpec{TargetWorkers: []string{"w1", "w2"}, TargetLabels: map[string]string{"zone": "a"}}, "worker w1 or w2 with label zone=a"},
		{catalog.ExecutionSpec{TargetLabels: map[string]string{"gpu": "yes", "a": "b"}}, "a worker with labels a=b, gpu=yes"},
	} {
		if got := describeTargets(&c.s); got != c.want {
			t.Errorf("describeTargets(%v %v) = %q, want %q", c.s.TargetWorkers, c.s.TargetLabels, got, c.want)
		}
	}
}

func TestQueueSpec(t *testing.T) {
	var s catalog.ExecutionSpec
	no := false
	if err := QueueSpec(&s, api.QueueOptions{Start: &no, Priority: 3, RetryDelay: "1m30s", RetryBackoff: true, MaxConcurrent: 2, ConcurrencyGroup: "g"}); err != nil {
		t.Fatal(err)
	}
	if !s.Unstarted || s.Priority != 3 || s.RetryDelay != 90*time.Second || !s.RetryBackoff || s.MaxConcurrent != 2 || s.ConcurrencyGroup != "g" {
		t.Fatalf("spec %+v", s)
	}
	if err := QueueSpec(&s, api.QueueOptions{RetryDelay: "soon"}); !errors.Is(err, catalog.ErrInvalid) {
		t.Fatalf("bad delay: %v", err)
	}
	yes := true
	if err := QueueSpec(&s, api.QueueOptions{Start: &yes}); err != nil || s.Unstarted {
		t.Fatalf("start true: %v %v", err, s.Unstarted)
	}
}
