package master

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scaleout/scaleout/api"
	"github.com/scaleout/scaleout/catalog"
	"github.com/scaleout/scaleout/catalog/pkgspec"
	"github.com/scaleout/scaleout/catalog/pkgspec/pkgspectest"
	"github.com/scaleout/scaleout/catalog/project"
)

// newCatalog starts the catalog service beside m, with m's cipher.
func newCatalog(t *testing.T, m *Master) *Catalog {
	t.Helper()
	cfg := DefaultCatalogConfig()
	cfg.Cipher = m.cfg.Cipher
	c, err := NewCatalog(cfg, m.raft.(CatalogRaft), m)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// newCatalogWithFolder starts a master with a cipher and its catalog
// service, and creates the folder F.
func newCatalogWithFolder(t *testing.T) (*Master, *Catalog) {
	t.Helper()
	m := newMasterWith(t, 10*time.Second, newCipher(t))
	c := newCatalog(t, m)
	if err := c.CreateFolder(context.Background(), "F", ""); err != nil {
		t.Fatal(err)
	}
	return m, c
}

// deploy packs files into a project archive and deploys it as folder/name.
func deploy(t *testing.T, c *Catalog, folder, name string, files map[string]string) *catalog.ProjectVersion {
	t.Helper()
	pv, err := deployOrErr(t, c, folder, name, files)
	if err != nil {
		t.Fatal(err)
	}
	return pv
}

func deployErr(t *testing.T, c *Catalog, folder, name string, files map[string]string) error {
	t.Helper()
	_, err := deployOrErr(t, c, folder, name, files)
	return err
}

func deployOrErr(t *testing.T, c *Catalog, folder, name string, files map[string]string) (*catalog.ProjectVersion, error) {
	t.Helper()
	dir := t.TempDir()
	pkgspectest.WriteFiles(t, dir, files)
	data, err := project.Pack(dir, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	hash := project.Hash(data)
	ctx := context.Background()
	for n := 0; n*catalog.ArchiveChunkSize < len(data); n++ {
		end := min((n+1)*catalog.ArchiveChunkSize, len(data))
		if err := c.PutChunk(ctx, hash, int64(len(data)), n, data[n*catalog.ArchiveChunkSize:end]); err != nil {
			t.Fatal(err)
		}
	}
	return c.Deploy(ctx, folder, name, hash, "test")
}

const connProject = `name: P
parameters:
  host: {type: string, default: db.local}
  pw: {type: string, sensitive: true, required: true}
connections:
  wh:
    type: postgres
    properties: {host: "${project.host}", password: "x${project.pw}y", user: etl}
`

// TestCatalog_ExecutionSpecIsResolvedOnceAndLeasedWhole follows one
// execution of a deployed package from creation to the leased task: the
// connections are resolved at creation (a property that takes a sensitive
// value is sealed in the replicated record), and the lease carries
// everything in clear for the worker, with the secrets to mask.
func TestCatalog_ExecutionSpecIsResolvedOnceAndLeasedWhole(t *testing.T) {
	m, c := newCatalogWithFolder(t)
	ctx := context.Background()
	pv := deploy(t, c, "F", "P", map[string]string{
		"project.yaml":       connProject,
		"packages/main.yaml": "name: main\nparameters:\n  n: {type: int, default: 3}\ntasks:\n  - name: a\n    exec: {command: [/bin/true]}\n",
	})
	id, err := c.CreateExecution(ctx, "F", "P", "main", &api.CreateExecutionRequest{Params: map[string]string{"pw": "s3cret"}, Retries: 2}, "me")
	if err != nil {
		t.Fatal(err)
	}
	e, err := m.Execution(id)
	if err != nil {
		t.Fatal(err)
	}
	if !e.FromProject() || e.Source != "" || e.ArchiveHash != pv.Hash || e.PackageFile != "packages/main.yaml" || e.Caller != "me" ||
		e.MaxEvents != catalog.DefaultMaxEvents || e.LoggingLevel != pkgspec.LoggingBasic || e.Retries != 2 {
		t.Fatalf("stored spec %+v", e.ExecutionSpec)
	}
	if len(e.Connections) != 1 {
		t.Fatalf("connections %+v", e.Connections)
	}
	props := e.Connections[0].Properties
	if props["host"] != "db.local" || props["user"] != "etl" || !catalog.IsSealed(props["password"]) || !catalog.IsSealed(e.ProjectParams["pw"]) {
		t.Fatalf("stored connection %+v, project params %v", props, e.ProjectParams)
	}

	task := leaseOne(t, m)
	if task.ID != id || task.Attempt != 1 || task.ArchiveHash != pv.Hash || task.Package != "" || task.PackageFile != "packages/main.yaml" ||
		task.Params["n"] != "3" || task.ProjectParams["pw"] != "s3cret" || task.ProjectParams["host"] != "db.local" || task.LoggingLevel != pkgspec.LoggingBasic {
		t.Fatalf("task %+v", task)
	}
	if len(task.Connections) != 1 || task.Connections[0].Properties["password"] != "xs3crety" || task.Connections[0].Type != "postgres" {
		t.Fatalf("task connections %+v", task.Connections)
	}
	if !slices.Contains(task.Secrets, "s3cret") || !slices.Contains(task.Secrets, "xs3crety") {
		t.Fatalf("secrets %q", task.Secrets)
	}
	// The replicated record still holds nothing in clear.
	if e, _ := m.Execution(id); e.ProjectParams["pw"] == "s3cret" || e.Connections[0].Properties["password"] == "xs3crety" {
		t.Fatal("the lease opened values in the stored record")
	}
}

// TestCatalog_ConnectionReferenceWithoutValue: a connection that refers
// to an undeclared project parameter is refused at deploy, naming it; a
// version deployed before that check (stored as is) is refused when an
// execution is resolved, so no worker meets it.
func TestCatalog_ConnectionReferenceWithoutValue(t *testing.T) {
	m, c := newCatalogWithFolder(t)
	cipher := m.cfg.Cipher
	bad := connProject + "  other:\n    type: sqlite\n    properties: {path: \"${project.nosuch}.db\"}\n"
	err := deployErr(t, c, "F", "P", map[string]string{"project.yaml": bad,
		"packages/main.yaml": "name: main\ntasks:\n  - name: a\n    exec: {command: [/bin/true]}\n"})
	if err == nil || !strings.Contains(err.Error(), `connection "other" property path refers to ${project.nosuch}`) {
		t.Fatalf("deploy: %v", err)
	}

	conns := []pkgspec.ConnectionManager{{Name: "other", Type: "sqlite", Properties: map[string]string{"path": "${project.nosuch}.db"}}}
	_, err = resolveConnections(conns, map[string]string{"pw": "x"}, cipher)
	if !errors.Is(err, catalog.ErrInvalid) || !strings.Contains(err.Error(), `connection "other" property path`) || !strings.Contains(err.Error(), `"nosuch"`) {
		t.Fatalf("resolve: %v", err)
	}
}
