package master

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/scaleout/scaleout/api"
	"github.com/scaleout/scaleout/catalog"
	"github.com/scaleout/scaleout/catalog/pkgspec"
	"github.com/scaleout/scaleout/catalog/project"
	"github.com/scaleout/scaleout/catalog/service"
	"github.com/scaleout/scaleout/cluster"
	"github.com/scaleout/scaleout/fsm"
)

// CatalogConfig configures the catalog service.
type CatalogConfig struct {
	// Cipher seals sensitive values before they are proposed to Raft and
	// opens them for the worker running an execution. Required.
	Cipher *catalog.Cipher
	// KeepVersions is how many versions of each project are kept.
	KeepVersions int
	// MaxArchiveBytes is the largest accepted project archive (413 above).
	MaxArchiveBytes int64
	// MaxEvents caps the events kept per execution; the last one kept says
	// the log was truncated.
	MaxEvents uint64
	// DefaultLoggingLevel applies to executions that name none.
	DefaultLoggingLevel string
	// Retention is how long ended executions and their events are kept.
	Retention time.Duration
	// RetentionInterval is how often the leader looks for expired
	// executions; RetentionBatch caps the executions one purge command
	// removes, so that no command is large.
	RetentionInterval time.Duration
	RetentionBatch    int
	// UploadTTL is how long an unfinished archive upload is kept.
	UploadTTL time.Duration
	// UnstartedTTL is how long an execution created with start=false is
	// kept without being started; then the retention loop removes it.
	UnstartedTTL time.Duration
	// Logger receives catalog logs.
	Logger hclog.Logger
}

// DefaultCatalogConfig returns the defaults: 10 versions, 64 MiB archives,
// 100,000 events per execution, basic logging, 365 days of retention.
func DefaultCatalogConfig() CatalogConfig {
	return CatalogConfig{
		KeepVersions: catalog.DefaultKeepVersions, MaxArchiveBytes: catalog.DefaultMaxArchiveBytes,
		MaxEvents: catalog.DefaultMaxEvents, DefaultLoggingLevel: catalog.DefaultLoggingLevel,
		Retention: 365 * 24 * time.Hour, RetentionInterval: time.Minute, RetentionBatch: 100,
		UploadTTL: time.Hour, UnstartedTTL: 24 * time.Hour,
	}
}

// Validate reports the first problem with c.
func (c *CatalogConfig) Validate() error {
	switch {
	case c.Cipher == nil:
		return errors.New("catalog: no encryption key")
	case c.KeepVersions <= 0:
		return errors.New("catalog: versions to keep must be positive")
	case c.MaxArchiveBytes <= 0:
		return errors.New("catalog: max archive size must be positive")
	case c.MaxEvents < 10:
		return errors.New("catalog: max events per execution must be at least 10")
	case !catalog.ValidLoggingLevel(c.DefaultLoggingLevel):
		return fmt.Errorf("catalog: unknown logging level %q", c.DefaultLoggingLevel)
	case c.Retention <= 0 || c.RetentionInterval <= 0 || c.RetentionBatch <= 0 || c.UploadTTL <= 0 || c.UnstartedTTL <= 0:
		return errors.New("catalog: retention settings must be positive")
	}
	return nil
}

// CatalogRaft is what the catalog service needs of the cluster.
type CatalogRaft interface {
	Apply(ctx context.Context, t fsm.MessageType, msg any) (any, uint64, error)
	IsLeader() bool
	Store() *catalog.Store
	RestoreSnapshot(ctx context.Context, r io.Reader, size int64) error
}

// Creator creates executions from resolved specs: *Master, whose Create is
// the one path into Raft for every execution.
type Creator interface {
	Create(ctx context.Context, specs []catalog.ExecutionSpec, caller string) ([]uint64, error)
}

// Catalog is the SSISDB side of the master: folders, projects, environments
// and executions of deployed packages. Reads serve local state; writes are
// Raft commands, with sensitive values sealed first. On the leader it also
// runs retention.
type Catalog struct {
	cfg    CatalogConfig
	raft   CatalogRaft
	exec   Creator
	store  *catalog.Store
	logger hclog.Logger
	now    func() time.Time

	done chan struct{}
	loop chan struct{}
}

// NewCatalog returns the catalog service and starts its retention loop.
// Executions of deployed packages are resolved here and created through
// exec.
func NewCatalog(cfg CatalogConfig, r CatalogRaft, exec Creator) (*Catalog, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = hclog.NewNullLogger()
	}
	c := &Catalog{cfg: cfg, raft: r, exec: exec, store: r.Store(), logger: cfg.Logger.Named("catalog"),
		now: func() time.Time { return time.Now().UTC() }, done: make(chan struct{}), loop: make(chan struct{})}
	go c.retentionLoop()
	return c, nil
}

// Close stops the retention loop.
func (c *Catalog) Close() {
	if !closeOnce(c.done) {
		return
	}
	<-c.loop
}

func (c *Catalog) apply(ctx context.Context, t fsm.MessageType, msg any) (any, error) {
	resp, _, err := c.raft.Apply(ctx, t, msg)
	return resp, err
}

func (c *Catalog) view(fn func(tx *catalog.Tx) error) error {
	return c.store.View(fn)
}

// CreateFolder creates a folder.
func (c *Catalog) CreateFolder(ctx context.Context, name, description string) error {
	if err := catalog.ValidateObjectName("folder", name); err != nil {
		return err
	}
	if err := catalog.CheckDescription("folder", description); err != nil {
		return err
	}
	_, err := c.apply(ctx, fsm.FolderCreateType, &fsm.FolderCreateRequest{Time: c.now(), Name: name, Description: description})
	return err
}

// RenameFolder renames a folder with its projects and environments.
func (c *Catalog) RenameFolder(ctx context.Context, name, newName string) error {
	if err := catalog.ValidateObjectName("folder", newName); err != nil {
		return err
	}
	_, err := c.apply(ctx, fsm.FolderRenameType, &fsm.FolderRenameRequest{Time: c.now(), Name: name, NewName: newName})
	return err
}

// DeleteFolder deletes an empty folder.
func (c *Catalog) DeleteFolder(ctx context.Context, name string) error {
	_, err := c.apply(ctx, fsm.FolderDeleteType, &fsm.FolderDeleteRequest{Name: name})
	return err
}

// Folders lists the folders.
func (c *Catalog) Folders() (out []*catalog.Folder, err error) {
	return catalog.Read(c.store, func(tx *catalog.Tx) ([]*catalog.Folder, error) { return tx.Folders() })
}

// Folder reads one folder.
func (c *Catalog) Folder(name string) (f *catalog.Folder, err error) {
	return catalog.Read(c.store, func(tx *catalog.Tx) (*catalog.Folder, error) { return tx.Folder(name) })
}

var hashRE = regexp.MustCompile(`^[0-9a-f]{64}$`)

func (c *Catalog) checkUpload(hash string, size int64) error {
	if !hashRE.MatchString(hash) {
		return invalidf("invalid archive hash %q: want 64 lower-case hex digits (SHA-256)", hash)
	}
	if size <= 0 {
		return invalidf("archive size must be positive")
	}
	if size > c.cfg.MaxArchiveBytes {
		return service.Classify(project.ErrTooLarge, fmt.Errorf(
			"project archive is %d bytes, over the limit of %d bytes (the agent's --max-archive-bytes); leave large data out of the project", size, c.cfg.MaxArchiveBytes))
	}
	return nil
}

// StartUpload tells a client which chunks of an archive it still has to
// send; nothing when the archive is already stored.
func (c *Catalog) StartUpload(hash string, size int64) (*api.UploadStatus, error) {
	if err := c.checkUpload(hash, size); err != nil {
		return nil, err
	}
	st := &api.UploadStatus{Hash: hash, Size: size, ChunkSize: catalog.ArchiveChunkSize, Chunks: catalog.ChunkCount(size)}
	err := c.store.View(func(tx *catalog.Tx) error {
		if m, err := tx.ArchiveInfo(hash); err == nil {
			if m.Size != size {
				return invalidf("archive %s is stored with size %d, not %d", hash, m.Size, size)
			}
			st.Exists = true
			return nil
		}
		if m, have, err := tx.StagedChunks(hash); err == nil && m.Size == size {
			st.Have = have
		}
		return nil
	})
	return st, err
}

// PutChunk stores chunk n of an archive upload (one Raft command).
func (c *Catalog) PutChunk(ctx context.Context, hash string, size int64, n int, data []byte) error {
	if err := c.checkUpload(hash, size); err != nil {
		return err
	}
	_, err := c.apply(ctx, fsm.ArchiveChunkType, &fsm.ArchiveChunkRequest{Time: c.now(), Hash: hash, Size: size, N: n, Data: data})
	return err
}

// WriteArchive writes a stored archive to w (the worker fetches it by hash).
func (c *Catalog) WriteArchive(hash string, w io.Writer) error {
	return c.view(func(tx *catalog.Tx) error { return tx.WriteArchive(hash, w) })
}

// Deploy validates an uploaded archive and stores it as the next version of
// folder/name. The project name in project.yaml must be name.
func (c *Catalog) Deploy(ctx context.Context, folder, name, hash, deployer string) (*catalog.ProjectVersion, error) {
	if !hashRE.MatchString(hash) {
		return nil, invalidf("invalid archive hash %q", hash)
	}
	var buf bytes.Buffer
	err := c.view(func(tx *catalog.Tx) error {
		if _, err := tx.Folder(folder); err != nil {
			return err
		}
		if _, err := tx.ArchiveInfo(hash); err == nil {
			return tx.WriteArchive(hash, &buf)
		}
		m, have, err := tx.StagedChunks(hash)
		if err != nil {
			return invalidf("archive %s was not uploaded (POST /v1/archives first)", hash)
		}
		if len(have) != m.Chunks {
			return invalidf("upload of archive %s is incomplete: %d of %d chunks", hash, len(have), m.Chunks)
		}
		return tx.WriteStaged(hash, &buf)
	})
	if err != nil {
		return nil, err
	}
	if got := project.Hash(buf.Bytes()); got != hash {
		return nil, invalidf("uploaded archive has hash %s, not %s (corrupt upload; deploy again)", got, hash)
	}
	files, err := project.ReadFiles(buf.Bytes(), 8*c.cfg.MaxArchiveBytes)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", catalog.ErrInvalid, err)
	}
	m, err := project.Load(files)
	if err != nil {
		return nil, invalidf("invalid project:\n%v", err)
	}
	if m.Name != name {
		return nil, invalidf("project.yaml names project %q, but it is being deployed as %q", m.Name, name)
	}
	pv := catalog.ProjectVersion{Folder: folder, Project: name, Hash: hash, Size: int64(buf.Len()), Deployer: deployer,
		Description: m.Description, Parameters: m.Parameters, Connections: m.Connections}
	for _, p := range m.Packages {
		n, err := sealNotify(p.Notify, c.cfg.Cipher)
		if err != nil {
			return nil, fmt.Errorf("package %s: %w", p.Name, err)
		}
		pv.Packages = append(pv.Packages, catalog.PackageInfo{Name: p.Name, File: p.File, EntryPoint: p.EntryPoint,
			Description: p.Description, Parameters: p.Parameters, Notify: n})
	}
	if err := catalog.CheckVersion(&pv); err != nil {
		return nil, err
	}
	resp, err := c.apply(ctx, fsm.ProjectDeployType, &fsm.ProjectDeployRequest{Time: c.now(), Version: pv, Keep: c.cfg.KeepVersions})
	if err != nil {
		return nil, err
	}
	pv.Version = resp.(*fsm.DeployResponse).Version
	return &pv, nil
}

// Projects lists the projects of a folder.
func (c *Catalog) Projects(folder string) (out []*catalog.Project, err error) {
	return catalog.Read(c.store, func(tx *catalog.Tx) ([]*catalog.Project, error) { return tx.Projects(folder) })
}

// Project reads a project and its current version.
func (c *Catalog) Project(folder, name string) (p *catalog.Project, cur *catalog.ProjectVersion, err error) {
	err = c.view(func(tx *catalog.Tx) error {
		if p, err = tx.Project(folder, name); err != nil {
			return err
		}
		cur, err = tx.ProjectVersion(folder, name, p.Version)
		return err
	})
	return p, cur, err
}

// ProjectVersions lists the kept versions of a project, oldest first, and
// the current version number.
func (c *Catalog) ProjectVersions(folder, name string) (out []*catalog.ProjectVersion, current uint64, err error) {
	err = c.view(func(tx *catalog.Tx) error {
		p, err := tx.Project(folder, name)
		if err != nil {
			return err
		}
		current = p.Version
		out, err = tx.ProjectVersions(folder, name)
		return err
	})
	return out, current, err
}

// RestoreVersion makes an earlier version current.
func (c *Catalog) RestoreVersion(ctx context.Context, folder, name string, version uint64) error {
	_, err := c.apply(ctx, fsm.ProjectRestoreType, &fsm.ProjectRestoreRequest{Time: c.now(), Folder: folder, Project: name, Version: version})
	return err
}

// DeleteProject deletes a project with its versions.
func (c *Catalog) DeleteProject(ctx context.Context, folder, name string) error {
	_, err := c.apply(ctx, fsm.ProjectDeleteType, &fsm.ProjectDeleteRequest{Folder: folder, Project: name})
	return err
}

// SetValue sets or clears a server-side parameter value, checked against
// the project's current version. Sensitive literals are sealed.
func (c *Catalog) SetValue(ctx context.Context, folder, name string, req *api.SetValueRequest) error {
	_, cur, err := c.Project(folder, name)
	if err != nil {
		return err
	}
	defs := cur.Parameters
	if req.Package != "" {
		pkg := cur.Package(req.Package)
		if pkg == nil {
			return service.Classify(catalog.ErrNotFound, fmt.Errorf("package %q is not in version %d of %s/%s", req.Package, cur.Version, folder, name))
		}
		defs = pkg.Parameters
	}
	d := findParam(defs, req.Name)
	if d == nil {
		return invalidf("%s %q: declared are %s", pkgspec.ErrUnknownParam, req.Name, paramNames(defs))
	}
	v := catalog.ParamValue{Package: req.Package, Name: req.Name, Sensitive: d.Sensitive}
	switch {
	case req.Clear:
	case (req.Value == nil) == (req.Variable == ""):
		return invalidf("give exactly one of a value and a variable reference")
	case req.Value != nil:
		if err := catalog.CheckValue("value of parameter "+d.Name, *req.Value, false); err != nil {
			return err
		}
		cv, err := pkgspec.Canonical(d.Type, *req.Value)
		if err != nil {
			shown := fmt.Sprintf("%q", *req.Value)
			if d.Sensitive {
				shown = "(sensitive value hidden)"
			}
			return invalidf("parameter %q (%s): invalid value %s: %v", d.Name, d.Type, shown, err)
		}
		v.Kind, v.Value = catalog.ValueLiteral, cv
		if d.Sensitive {
			if v.Value, err = c.cfg.Cipher.Seal(cv); err != nil {
				return err
			}
		}
	default:
		if err := pkgspec.ValidateParamName(req.Variable); err != nil {
			return invalidf("variable name %q: %v", req.Variable, err)
		}
		v.Kind, v.Variable = catalog.ValueReference, req.Variable
	}
	_, err = c.apply(ctx, fsm.ProjectSetValueType, &fsm.ProjectSetValueRequest{Time: c.now(), Folder: folder, Project: name, Value: v, Clear: req.Clear})
	return err
}

// SetReference adds or removes an environment reference of a project.
func (c *Catalog) SetReference(ctx context.Context, folder, name, env string, remove bool) error {
	ref := catalog.ParseEnvRef(env)
	if err := catalog.ValidateObjectName("environment", ref.Name); err != nil {
		return err
	}
	if ref.Folder != "" {
		if err := catalog.ValidateObjectName("folder", ref.Folder); err != nil {
			return err
		}
	}
	_, err := c.apply(ctx, fsm.ProjectEnvRefType, &fsm.ProjectEnvRefRequest{Time: c.now(), Folder: folder, Project: name, Ref: ref, Remove: remove})
	return err
}

// CreateEnvironment creates an environment.
func (c *Catalog) CreateEnvironment(ctx context.Context, folder, name, description string) error {
	if err := catalog.ValidateObjectName("environment", name); err != nil {
		return err
	}
	if err := catalog.CheckDescription("environment", description); err != nil {
		return err
	}
	_, err := c.apply(ctx, fsm.EnvironmentCreateType, &fsm.EnvironmentCreateRequest{Time: c.now(), Folder: folder, Name: name, Description: description})
	return err
}

// DeleteEnvironment deletes an environment and the references to it.
func (c *Catalog) DeleteEnvironment(ctx context.Context, folder, name string) error {
	_, err := c.apply(ctx, fsm.EnvironmentDeleteType, &fsm.EnvironmentDeleteRequest{Folder: folder, Name: name})
	return err
}

// Environments lists the environments of a folder.
func (c *Catalog) Environments(folder string) (out []*catalog.Environment, err error) {
	return catalog.Read(c.store, func(tx *catalog.Tx) ([]*catalog.Environment, error) { return tx.Environments(folder) })
}

// Environment reads one environment.
func (c *Catalog) Environment(folder, name string) (e *catalog.Environment, err error) {
	return catalog.Read(c.store, func(tx *catalog.Tx) (*catalog.Environment, error) { return tx.Environment(folder, name) })
}

// SetVariable sets (or with remove, deletes) a variable. The value is
// checked against the type in clear, then sealed if sensitive.
func (c *Catalog) SetVariable(ctx context.Context, folder, env, name string, req *api.VariableRequest, remove bool) error {
	v := catalog.Variable{Name: name, Type: req.Type, Value: req.Value, Description: req.Description}
	if !remove {
		if err := catalog.CheckValue("value of variable "+name, req.Value, false); err != nil {
			return err
		}
		checked, err := catalog.ValidateVariable(v)
		if err != nil {
			if req.Sensitive {
				err = fmt.Errorf("%w: variable %q (%s): the value does not match the type", catalog.ErrInvalid, name, v.Type)
			}
			return err
		}
		v = checked
		if req.Sensitive {
			v.Sensitive = true
			if v.Value, err = c.cfg.Cipher.Seal(checked.Value); err != nil {
				return err
			}
		}
	}
	_, err := c.apply(ctx, fsm.EnvironmentSetVariableType, &fsm.EnvironmentSetVariableRequest{Folder: folder, Environment: env, Variable: v, Remove: remove})
	return err
}

// CreateExecution resolves and freezes the values of an execution of a
// deployed package and creates it. Nothing is written when any check fails.
func (c *Catalog) CreateExecution(ctx context.Context, folder, projectName, pkgName string, req *api.CreateExecutionRequest, caller string) (uint64, error) {
	spec, err := c.executionSpec(folder, projectName, pkgName, req)
	if err != nil {
		return 0, err
	}
	ids, err := c.exec.Create(ctx, []catalog.ExecutionSpec{spec}, caller)
	if err != nil {
		return 0, err
	}
	return ids[0], nil
}

// executionSpec resolves the values of an execution of a deployed package
// into its spec (CreateExecution; a schedule's fires).
func (c *Catalog) executionSpec(folder, projectName, pkgName string, req *api.CreateExecutionRequest) (catalog.ExecutionSpec, error) {
	fail := func(err error) (catalog.ExecutionSpec, error) { return catalog.ExecutionSpec{}, err }
	if req.Retries < 0 {
		return fail(invalidf("retries must not be negative (got %d)", req.Retries))
	}
	level := req.LoggingLevel
	if level == "" {
		level = c.cfg.DefaultLoggingLevel
	}
	if !catalog.ValidLoggingLevel(level) {
		return fail(invalidf("unknown logging level %q (want one of: none, basic, performance, verbose)", level))
	}
	in := resolveInput{overrides: req.Params, seal: c.cfg.Cipher.Seal}
	err := c.view(func(tx *catalog.Tx) error {
		var err error
		if in.project, err = tx.Project(folder, projectName); err != nil {
			return err
		}
		if in.version, err = tx.ProjectVersion(folder, projectName, in.project.Version); err != nil {
			return err
		}
		if in.pkg = in.version.Package(pkgName); in.pkg == nil {
			names := make([]string, 0, len(in.version.Packages))
			for _, p := range in.version.Packages {
				names = append(names, p.Name)
			}
			return fmt.Errorf("package %q in version %d of %s/%s (packages: %v): %w", pkgName, in.version.Version, folder, projectName, names, catalog.ErrNotFound)
		}
		if !in.pkg.EntryPoint {
			return invalidf("package %q is not an entry point (entry_point: false): it can only run from another package", pkgName)
		}
		if req.Environment != "" {
			ref := catalog.ParseEnvRef(req.Environment)
			ef, en := ref.Resolve(folder)
			if in.env, err = tx.Environment(ef, en); err != nil {
				return err
			}
			if !in.project.HasEnvRef(ref) {
				return invalidf("project %s/%s does not reference environment %s/%s (add it with 'scaleout projects reference-env')", folder, projectName, ef, en)
			}
		}
		return nil
	})
	if err != nil {
		return fail(err)
	}
	r, err := resolve(in)
	if err != nil {
		return fail(invalid(err))
	}
	conns, err := resolveConnections(in.version.Connections, r.projectParams, c.cfg.Cipher)
	if err != nil {
		return fail(invalid(err))
	}
	spec := catalog.ExecutionSpec{
		PackageName: pkgName, PackageFile: in.pkg.File, Params: r.params, Sensitive: r.sensitive, Retries: req.Retries,
		Folder: folder, Project: projectName, ProjectVersion: in.version.Version, ArchiveHash: in.version.Hash,
		ProjectParams: r.projectParams, ProjectSensitive: r.projectSensitive, Connections: conns, LoggingLevel: level,
		TargetWorkers: req.TargetWorkers, TargetLabels: req.TargetLabels, MaxEvents: c.cfg.MaxEvents,
		Notify: in.pkg.Notify,
	}
	if in.env != nil {
		spec.Environment = in.env.Folder + "/" + in.env.Name
	}
	if err := QueueSpec(&spec, req.QueueOptions); err != nil {
		return fail(err)
	}
	if spec.IdempotencyKey != "" {
		r := *req
		r.IdempotencyKey = ""
		spec.RequestHash = requestHash(struct {
			Folder, Project, Package string
			Req                      *api.CreateExecutionRequest
		}{folder, projectName, pkgName, &r})
	}
	return spec, nil
}

// WriteSnapshot writes a consistent copy of the whole catalog to w, in the
// format RestoreSnapshot and Raft snapshots use.
func (c *Catalog) WriteSnapshot(w io.Writer) error {
	sn, err := c.store.Snapshot()
	if err != nil {
		return err
	}
	defer sn.Release()
	_, err = sn.WriteTo(w)
	return err
}

// RestoreSnapshot replaces the state of the cluster with a snapshot written
// by WriteSnapshot. The snapshot is checked (opened as a catalog) first; the
// FSM resets its applied index when raft restores it (fsm.FSM.Restore).
func (c *Catalog) RestoreSnapshot(ctx context.Context, r io.Reader) error {
	if !c.raft.IsLeader() {
		return cluster.ErrNotLeader
	}
	dir, err := os.MkdirTemp("", "scaleout-restore-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	tmp, err := catalog.Open(filepath.Join(dir, "catalog.db"), catalog.Options{NoSync: true})
	if err != nil {
		return err
	}
	defer tmp.Close()
	if err := tmp.Restore(r); err != nil {
		if errors.Is(err, catalog.ErrInvalid) {
			return err // names what is wrong: size, checksum, format
		}
		return fmt.Errorf("restore snapshot: %w", err)
	}
	var buf bytes.Buffer
	sn, err := tmp.Snapshot()
	if err != nil {
		return err
	}
	_, err = sn.WriteTo(&buf)
	sn.Release()
	if err != nil {
		return err
	}
	if err := c.raft.RestoreSnapshot(ctx, &buf, int64(buf.Len())); err != nil {
		return err
	}
	// The restored catalog carries the backup's operations log: the
	// restore is the first entry after it.
	_, _, err = c.raft.Apply(ctx, fsm.OperationType, &fsm.OperationRequest{Time: c.now().UTC(),
		Caller: service.CallerFrom(ctx), Kind: "restore_snapshot", Object: fmt.Sprintf("%d bytes", buf.Len())})
	if errors.Is(err, service.ErrOlderServers) {
		return nil // restored; an older server could not record it
	}
	return err
}
