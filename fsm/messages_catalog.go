package fsm

import (
	"time"

	"github.com/scaleout/scaleout/catalog"
)

// Command types of the catalog: folders, projects, environments and
// retention. The catalog owns numbers 20-49.
const (
	FolderCreateType           MessageType = 20
	FolderRenameType           MessageType = 21
	FolderDeleteType           MessageType = 22
	ArchiveChunkType           MessageType = 23
	ProjectDeployType          MessageType = 24
	ProjectRestoreType         MessageType = 25
	ProjectDeleteType          MessageType = 26
	ProjectSetValueType        MessageType = 27
	ProjectEnvRefType          MessageType = 28
	EnvironmentCreateType      MessageType = 29
	EnvironmentDeleteType      MessageType = 30
	EnvironmentSetVariableType MessageType = 31
	ExecutionCreateType        MessageType = 32 // retired: replayed from old logs only
	ExecutionPurgeType         MessageType = 33
)

// FolderCreateRequest creates a folder.
type FolderCreateRequest struct {
	Time        time.Time `json:"time"`
	Name        string    `json:"name"`
	Description string    `json:"description,omitempty"`
}

// FolderRenameRequest renames a folder with everything in it.
type FolderRenameRequest struct {
	Time    time.Time `json:"time"`
	Name    string    `json:"name"`
	NewName string    `json:"new_name"`
}

// FolderDeleteRequest deletes an empty folder.
type FolderDeleteRequest struct {
	Name string `json:"name"`
}

// ArchiveChunkRequest stores chunk N (catalog.ArchiveChunkSize bytes, the
// last one shorter) of an upload of the archive Hash of Size bytes.
type ArchiveChunkRequest struct {
	Time time.Time `json:"time"`
	Hash string    `json:"hash"`
	Size int64     `json:"size"`
	N    int       `json:"n"`
	Data []byte    `json:"data"`
}

// ProjectDeployRequest commits the uploaded archive Version.Hash and stores
// Version as the project's next version, keeping Keep versions. The leader
// validated the archive and built the manifest in Version. The response is
// a *DeployResponse.
type ProjectDeployRequest struct {
	Time    time.Time              `json:"time"`
	Version catalog.ProjectVersion `json:"version"`
	Keep    int                    `json:"keep"`
}

// DeployResponse carries the version number a deploy created.
type DeployResponse struct {
	Version uint64
}

// ProjectRestoreRequest makes a kept version current again.
type ProjectRestoreRequest struct {
	Time    time.Time `json:"time"`
	Folder  string    `json:"folder"`
	Project string    `json:"project"`
	Version uint64    `json:"version"`
}

// ProjectDeleteRequest deletes a project and its versions.
type ProjectDeleteRequest struct {
	Folder  string `json:"folder"`
	Project string `json:"project"`
}

// ProjectSetValueRequest sets or clears a server-side parameter value.
// Sensitive literals are sealed.
type ProjectSetValueRequest struct {
	Time    time.Time          `json:"time"`
	Folder  string             `json:"folder"`
	Project string             `json:"project"`
	Value   catalog.ParamValue `json:"value"`
	Clear   bool               `json:"clear,omitempty"`
}

// ProjectEnvRefRequest adds or removes an environment reference.
type ProjectEnvRefRequest struct {
	Time    time.Time      `json:"time"`
	Folder  string         `json:"folder"`
	Project string         `json:"project"`
	Ref     catalog.EnvRef `json:"ref"`
	Remove  bool           `json:"remove,omitempty"`
}

// EnvironmentCreateRequest creates an environment.
type EnvironmentCreateRequest struct {
	Time        time.Time `json:"time"`
	Folder      string    `json:"folder"`
	Name        string    `json:"name"`
	Description string    `json:"description,omitempty"`
}

// EnvironmentDeleteRequest deletes an environment and the references to it.
type EnvironmentDeleteRequest struct {
	Folder string `json:"folder"`
	Name   string `json:"name"`
}

// EnvironmentSetVariableRequest sets or removes a variable. A sensitive
// variable's value is sealed.
type EnvironmentSetVariableRequest struct {
	Folder      string           `json:"folder"`
	Environment string           `json:"environment"`
	Variable    catalog.Variable `json:"variable"`
	Remove      bool             `json:"remove,omitempty"`
}

// ExecutionCreateRequest is the payload of the retired ExecutionCreate
// command, which created an execution of a deployed package before every
// execution was created by ExecutionSubmit. Servers still apply it when
// they replay a log written then (as an ExecutionSubmit of Execution's
// spec); nothing proposes it any more.
type ExecutionCreateRequest struct {
	Time      time.Time         `json:"time"`
	Caller    string            `json:"caller,omitempty"`
	Execution catalog.Execution `json:"execution"`
}

// ExecutionPurgeRequest removes ended executions (and their events) that
// ended before Before, and uploads that started before UploadsBefore, as
// decided by the leader's retention loop. Each id is checked again.
type ExecutionPurgeRequest struct {
	Time          time.Time `json:"time"`
	Before        time.Time `json:"before"`
	IDs           []uint64  `json:"ids,omitempty"`
	UploadsBefore time.Time `json:"uploads_before"`
	Uploads       []string  `json:"uploads,omitempty"`
	// UnstartedBefore purges the executions of IDs that are still in
	// created status and were created before it (zero: none).
	UnstartedBefore time.Time `json:"unstarted_before,omitempty"`
	// IdempotencyKeys are keys the leader found expired as of Time;
	// each is removed if it still is.
	IdempotencyKeys []string `json:"idempotency_keys,omitempty"`
}

// PurgeResponse counts what a purge removed.
type PurgeResponse struct {
	Executions      int
	Uploads         int
	IdempotencyKeys int
}
