package api

import "time"

// Folder is a catalog folder.
type Folder struct {
	Name        string    `json:"name"`
	Description string    `json:"description,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
}

// FolderRequest creates a folder (POST /v1/folders) or renames one (POST
// /v1/folders/{folder}/rename, Name is the new name).
type FolderRequest struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
}

// Param is a declared parameter of a project or package.
type Param struct {
	Name        string  `json:"name"`
	Type        string  `json:"type"`
	Default     *string `json:"default,omitempty"`
	Required    bool    `json:"required,omitempty"`
	Sensitive   bool    `json:"sensitive,omitempty"`
	Description string  `json:"description,omitempty"`
}

// Connection is a connection manager declared in project.yaml.
type Connection struct {
	Name        string            `json:"name"`
	Type        string            `json:"type,omitempty"`
	Description string            `json:"description,omitempty"`
	Properties  map[string]string `json:"properties,omitempty"`
}

// Package is a package of a deployed project version.
type Package struct {
	Name        string  `json:"name"`
	File        string  `json:"file"`
	EntryPoint  bool    `json:"entry_point"`
	Description string  `json:"description,omitempty"`
	Parameters  []Param `json:"parameters,omitempty"`
}

// ProjectVersion is one deployment of a project.
type ProjectVersion struct {
	Version     uint64       `json:"version"`
	Current     bool         `json:"current"`
	Hash        string       `json:"hash"`
	Size        int64        `json:"size"`
	Deployer    string       `json:"deployer,omitempty"`
	DeployedAt  time.Time    `json:"deployed_at"`
	Description string       `json:"description,omitempty"`
	Parameters  []Param      `json:"parameters,omitempty"`
	Connections []Connection `json:"connections,omitempty"`
	Packages    []Package    `json:"packages,omitempty"`
}

// ParamValue is a server-side value of a project parameter (Package empty)
// or a package parameter: a literal Value (Masked when sensitive) or a
// reference to the environment variable Variable.
type ParamValue struct {
	Package   string `json:"package,omitempty"`
	Name      string `json:"name"`
	Kind      string `json:"kind"` // literal or reference
	Value     string `json:"value,omitempty"`
	Variable  string `json:"variable,omitempty"`
	Sensitive bool   `json:"sensitive,omitempty"`
}

// Project is a deployed project with its current version.
type Project struct {
	Folder      string          `json:"folder"`
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Version     uint64          `json:"version"`
	Current     *ProjectVersion `json:"current,omitempty"`
	Values      []ParamValue    `json:"values,omitempty"`
	// References are the environments the project may run with: "name"
	// (same folder) or "folder/name".
	References []string  `json:"references,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// UploadRequest starts (or resumes) an archive upload: POST /v1/archives.
type UploadRequest struct {
	Hash string `json:"hash"` // hex SHA-256 of the archive
	Size int64  `json:"size"`
}

// UploadStatus tells a client which chunks of an archive to send (PUT
// /v1/archives/{hash}/chunks/{n}, raw bytes). Exists means the archive is
// already stored and nothing needs uploading.
type UploadStatus struct {
	Hash      string `json:"hash"`
	Size      int64  `json:"size"`
	ChunkSize int    `json:"chunk_size"`
	Chunks    int    `json:"chunks"`
	Have      []int  `json:"have,omitempty"`
	Exists    bool   `json:"exists"`
}

// DeployRequest deploys an uploaded archive as the next version of a
// project: POST /v1/folders/{folder}/projects/{project}/versions.
type DeployRequest struct {
	Hash string `json:"hash"`
}

// RestoreRequest makes an earlier version current: POST
// /v1/folders/{folder}/projects/{project}/restore.
type RestoreRequest struct {
	Version uint64 `json:"version"`
}

// SetValueRequest sets, or with Clear removes, the server-side value of a
// parameter: PUT /v1/folders/{folder}/projects/{project}/values. Exactly one
// of Value and Variable is given unless Clear is set.
type SetValueRequest struct {
	Package  string  `json:"package,omitempty"`
	Name     string  `json:"name"`
	Value    *string `json:"value,omitempty"`
	Variable string  `json:"variable,omitempty"`
	Clear    bool    `json:"clear,omitempty"`
}

// ReferenceRequest adds or removes an environment reference: POST
// /v1/folders/{folder}/projects/{project}/references.
type ReferenceRequest struct {
	Environment string `json:"environment"` // "name" or "folder/name"
	Remove      bool   `json:"remove,omitempty"`
}

// Variable is an environment variable; a sensitive one's Value is Masked in
// every answer.
type Variable struct {
	Name        string `json:"name"`
	Type        string `json:"type"`
	Value       string `json:"value"`
	Sensitive   bool   `json:"sensitive,omitempty"`
	Description string `json:"description,omitempty"`
}

// Environment is a set of variables in a folder.
type Environment struct {
	Folder      string     `json:"folder"`
	Name        string     `json:"name"`
	Description string     `json:"description,omitempty"`
	Variables   []Variable `json:"variables,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
}

// EnvironmentRequest creates an environment: POST
// /v1/folders/{folder}/environments.
type EnvironmentRequest struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
}

// VariableRequest sets (PUT) a variable:
// /v1/folders/{folder}/environments/{env}/variables/{name}.
type VariableRequest struct {
	Type        string `json:"type,omitempty"`
	Value       string `json:"value"`
	Sensitive   bool   `json:"sensitive,omitempty"`
	Description string `json:"description,omitempty"`
}

// Logging levels of an execution.
const (
	LoggingNone        = "none"
	LoggingBasic       = "basic"
	LoggingPerformance = "performance"
	LoggingVerbose     = "verbose"
)

// CreateExecutionRequest creates an execution of a deployed package: POST
// /v1/folders/{folder}/projects/{project}/packages/{package}/executions.
// Params are overrides by name ("NAME" for the package's parameter, else the
// project's; "project.NAME" for the project's).
type CreateExecutionRequest struct {
	Environment   string            `json:"environment,omitempty"` // "name" or "folder/name"
	Params        map[string]string `json:"params,omitempty"`
	LoggingLevel  string            `json:"logging_level,omitempty"`
	Retries       int               `json:"retries,omitempty"`
	TargetWorkers []string          `json:"target_workers,omitempty"`
	TargetLabels  map[string]string `json:"target_labels,omitempty"`
	QueueOptions
}
