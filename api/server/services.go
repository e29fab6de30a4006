package server

import (
	"context"
	"io"
	"net/http"

	"github.com/scaleout/scaleout/api"
	"github.com/scaleout/scaleout/catalog"
	"github.com/scaleout/scaleout/catalog/service"
)

// The handlers declare, per resource, the small interface they need. Read
// methods serve local state; write methods go through Raft. Errors are the
// services' sentinel errors, mapped to status codes by errorStatus.
// Implementations must be safe for concurrent use.

// StatusService answers for the cluster: leader, Raft peers, gossip members.
type StatusService interface {
	// Leader returns the leader this agent knows, or cluster.ErrNoLeader.
	Leader() (service.LeaderStatus, error)
	Peers() ([]api.Peer, error)
	Members() []api.Member
	RemovePeer(ctx context.Context, id string) error
}

// HealthChecker is implemented by a StatusService that can tell whether
// this agent's catalog store works (GET /v1/status/health).
type HealthChecker interface {
	// Health returns nil, or an error wrapping catalog.ErrStorage.
	Health() error
}

// ExecutionService submits, reads and stops executions of inline packages.
type ExecutionService interface {
	// Changed returns a channel closed at the next applied change.
	Changed() <-chan struct{}
	Submit(ctx context.Context, req *api.SubmitRequest, caller string) (uint64, error)
	// SubmitBulk creates many executions in one Raft command, all or none.
	SubmitBulk(ctx context.Context, reqs []api.SubmitRequest, caller string) ([]uint64, error)
	Execution(id uint64) (*catalog.Execution, error)
	Executions(o catalog.ListOptions) ([]*catalog.Execution, error)
	Events(id, after uint64, limit int) ([]catalog.Event, *catalog.Execution, error)
	Stop(ctx context.Context, id uint64, caller string) (catalog.Status, error)
	// StopMany stops executions with one command: per id the status
	// afterwards or its own error; the error is for the request as a whole.
	StopMany(ctx context.Context, ids []uint64, caller string) ([]catalog.Status, []error, error)
	// PendingReason says why a pending execution waits ("" if a worker can take it).
	PendingReason(e *catalog.Execution) string
}

// QueueService is SSIS's create-then-start of executions and the
// concurrency caps of the queue.
type QueueService interface {
	// Start queues a created execution and returns its status afterwards.
	Start(ctx context.Context, id uint64, caller string) (catalog.Status, error)
	// SetExecution changes the values, targets or priority of a created
	// execution.
	SetExecution(ctx context.Context, id uint64, req *api.SetExecutionRequest) error
	SetCap(ctx context.Context, c api.Cap) error
	Caps() ([]api.CapStatus, error)
}

// WorkerService is the worker protocol (register, poll, report) and the
// management of workers.
type WorkerService interface {
	RegisterWorker(ctx context.Context, w *catalog.Worker) error
	Workers() ([]service.WorkerStatus, error)
	SetWorkerEnabled(ctx context.Context, id string, enabled bool) error
	RemoveWorker(ctx context.Context, id string) error
	Poll(ctx context.Context, workerID string, req *api.PollRequest) (*api.PollResponse, error)
	// ReportEvents appends a batch of an attempt's events; first numbers
	// evs[0] among them (0: not numbered), so that a batch sent again is
	// applied once.
	ReportEvents(ctx context.Context, id uint64, attempt int, first uint64, evs []catalog.Event) error
	ReportResult(ctx context.Context, id uint64, attempt int, r *api.ResultReport, evs []catalog.Event) error
}

// CatalogService is the SSISDB catalog: folders, projects, environments,
// archives and executions of deployed packages.
type CatalogService interface {
	CreateFolder(ctx context.Context, name, description string) error
	RenameFolder(ctx context.Context, name, newName string) error
	DeleteFolder(ctx context.Context, name string) error
	Folders() ([]*catalog.Folder, error)
	Folder(name string) (*catalog.Folder, error)

	StartUpload(hash string, size int64) (*api.UploadStatus, error)
	PutChunk(ctx context.Context, hash string, size int64, n int, data []byte) error
	WriteArchive(hash string, w io.Writer) error

	Deploy(ctx context.Context, folder, name, hash, deployer string) (*catalog.ProjectVersion, error)
	Projects(folder string) ([]*catalog.Project, error)
	Project(folder, name string) (*catalog.Project, *catalog.ProjectVersion, error)
	ProjectVersions(folder, name string) ([]*catalog.ProjectVersion, uint64, error)
	RestoreVersion(ctx context.Context, folder, name string, version uint64) error
	DeleteProject(ctx context.Context, folder, name string) error
	SetValue(ctx context.Context, folder, name string, req *api.SetValueRequest) error
	SetReference(ctx context.Context, folder, name, env string, remove bool) error

	CreateEnvironment(ctx context.Context, folder, name, description string) error
	DeleteEnvironment(ctx context.Context, folder, name string) error
	Environments(folder string) ([]*catalog.Environment, error)
	Environment(folder, name string) (*catalog.Environment, error)
	SetVariable(ctx context.Context, folder, env, name string, req *api.VariableRequest, remove bool) error

	CreateExecution(ctx context.Context, folder, project, pkg string, req *api.CreateExecutionRequest, caller string) (uint64, error)
}

// OperatorService saves and restores snapshots of the whole catalog.
type OperatorService interface {
	WriteSnapshot(w io.Writer) error
	RestoreSnapshot(ctx context.Context, r io.Reader) error
}

// Services is what the API serves. A nil service makes its routes answer
// 501 (an agent without a catalog never reaches them: a worker-only agent
// forwards every catalog route to a server). A nil Router serves every
// route here, as a one-agent leader would (tests).
type Services struct {
	Router     Router
	Status     StatusService
	Executions ExecutionService
	Queue      QueueService
	Workers    WorkerService
	Catalog    CatalogService
	Operator   OperatorService
	Schedules  ScheduleService
	// ACL resolves tokens and serves the acl, operations, settings and
	// worker approval routes (nil: no access control on this agent).
	ACL ACLService
	// Keyring lists and rotates the gossip keyring (nil: 501).
	Keyring KeyringService
	// Ready answers GET /v1/health/ready (nil: ready whenever the API serves).
	Ready ReadyChecker
	// Metrics serves GET /v1/metrics (nil: 501).
	Metrics http.Handler
	// UI, if set, serves the web console at /ui/ (and / redirects there).
	UI http.Handler
}

// ReadyChecker tells whether this agent should receive traffic: nil when
// ready, else an error saying why not (answered 503).
type ReadyChecker interface {
	Ready(ctx context.Context) error
}

// selfRouter is the Router of an agent that leads and holds the catalog.
type selfRouter struct{}

func (selfRouter) LeaderAPI() (string, bool, error) { return "", true, nil }
func (selfRouter) HasState() bool                   { return true }
func (selfRouter) Barrier(context.Context) error    { return nil }
