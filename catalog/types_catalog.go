package catalog

import (
	"errors"
	"fmt"
	"github.com/scaleout/scaleout/catalog/pkgspec"
	"strings"
	"time"
)

// Sentinel errors of the catalog objects (folders, projects, environments).
// Like the execution errors they are deterministic business errors.
var (
	// ErrExists means an object of that name already exists.
	ErrExists = errors.New("already exists")
	// ErrNotEmpty means a folder still holds projects or environments.
	ErrNotEmpty = errors.New("not empty")
	// ErrInvalid means a request breaks a catalog rule (a bad name, a
	// parameter that does not exist, a type mismatch ...).
	ErrInvalid = errors.New("invalid")
)

// Logging levels of an execution: pkgspec.LoggingLevels (the catalog keeps
// an execution's level; the executor filters events by it).

// DefaultMaxEvents is the default cap on the events kept per execution.
const DefaultMaxEvents = 100_000

// DefaultLoggingLevel is the server default logging level.
const DefaultLoggingLevel = pkgspec.LoggingBasic

// ValidLoggingLevel reports whether l is a logging level.
func ValidLoggingLevel(l string) bool {
	for _, v := range pkgspec.LoggingLevels {
		if v == l {
			return true
		}
	}
	return false
}

// Event types of the SSIS event messages. EventStatusChange is declared with
// the execution rules.
const (
	EventPreExecute  = "pre_execute"
	EventPostExecute = "post_execute"
	EventInformation = "information"
	EventWarning     = "warning"
	EventError       = "error"
	EventTaskFailed  = "task_failed"
	EventProgress    = "progress"
	EventStdout      = "stdout"
	EventStderr      = "stderr"
	// EventTruncated is the last event kept once an execution reached its
	// event cap; only status changes follow it.
	EventTruncated = "truncated"
	// EventNotification records the delivery (or the final failure) of
	// the package's notification; kept at every logging level.
	EventNotification = "notification"
)

// EventTypes lists every event type.
var EventTypes = []string{EventPreExecute, EventPostExecute, EventInformation, EventWarning, EventError,
	EventTaskFailed, EventProgress, EventStdout, EventStderr, EventStatusChange, EventTruncated, EventNotification}

// KeepEvent reports whether an event of type typ is kept at logging level
// level. Status changes, the truncation marker and notification records
// are always kept; an empty
// level (executions of inline packages) keeps everything.
//
//   - none: status changes only (SSIS: only the execution status);
//   - performance: errors, warnings, task failures and post_execute (which
//     carries each task's duration);
//   - basic: everything but progress;
//   - verbose: everything.
func KeepEvent(level, typ string) bool {
	if typ == EventStatusChange || typ == EventTruncated || typ == EventNotification {
		return true
	}
	switch level {
	case pkgspec.LoggingNone:
		return false
	case pkgspec.LoggingPerformance:
		return typ == EventError || typ == EventWarning || typ == EventTaskFailed || typ == EventPostExecute
	case pkgspec.LoggingBasic:
		return typ != EventProgress
	}
	return true
}

// Folder is a top-level container of projects and environments.
type Folder struct {
	Name        string    `json:"name"`
	Description string    `json:"description,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
}

// PackageInfo describes one package of a deployed project version.
type PackageInfo struct {
	Name        string              `json:"name"`
	File        string              `json:"file"` // path inside the archive, e.g. packages/load.yaml
	EntryPoint  bool                `json:"entry_point"`
	Description string              `json:"description,omitempty"`
	Parameters  []pkgspec.Parameter `json:"parameters,omitempty"`
	// Notify is the package's notify key, header values sealed.
	Notify *Notify `json:"notify,omitempty"`
}

// ProjectVersion is one deployment of a project: an archive identified by
// its content hash plus the manifest the leader extracted from it.
type ProjectVersion struct {
	Folder      string                      `json:"folder"`
	Project     string                      `json:"project"`
	Version     uint64                      `json:"version"`
	Hash        string                      `json:"hash"` // hex SHA-256 of the archive
	Size        int64                       `json:"size"`
	Deployer    string                      `json:"deployer,omitempty"`
	DeployedAt  time.Time                   `json:"deployed_at"`
	Description string                      `json:"description,omitempty"`
	Parameters  []pkgspec.Parameter         `json:"parameters,omitempty"`
	Connections []pkgspec.ConnectionManager `json:"connections,omitempty"`
	Packages    []PackageInfo               `json:"packages"`
}

// Package returns the package called name, or nil.
func (v *ProjectVersion) Package(name string) *PackageInfo {
	for i := range v.Packages {
		if v.Packages[i].Name == name {
			return &v.Packages[i]
		}
	}
	return nil
}

// Value kinds of a server-side parameter value.
const (
	// ValueLiteral is a value stored on the server.
	ValueLiteral = "literal"
	// ValueReference names an environment variable; the environment is
	// chosen per execution.
	ValueReference = "reference"
)

// ParamValue is a server-side value of a project parameter (Package empty)
// or of a package parameter.
type ParamValue struct {
	Package string `json:"package,omitempty"`
	Name    string `json:"name"`
	Kind    string `json:"kind"`            // ValueLiteral or ValueReference
	Value   string `json:"value,omitempty"` // literal in canonical form; sealed if Sensitive
	// Variable is the environment variable a reference names.
	Variable  string `json:"variable,omitempty"`
	Sensitive bool   `json:"sensitive,omitempty"`
}

// EnvRef is a project's reference to an environment: relative (Folder
// empty: the project's own folder) or absolute.
type EnvRef struct {
	Folder string `json:"folder,omitempty"`
	Name   string `json:"name"`
}

// String returns "name" for a relative and "folder/name" for an absolute
// reference.
func (r EnvRef) String() string {
	if r.Folder == "" {
		return r.Name
	}
	return r.Folder + "/" + r.Name
}

// Resolve returns the folder the reference points into for a project in
// projectFolder.
func (r EnvRef) Resolve(projectFolder string) (folder, name string) {
	if r.Folder == "" {
		return projectFolder, r.Name
	}
	return r.Folder, r.Name
}

// ParseEnvRef reads "name" or "folder/name".
func ParseEnvRef(s string) EnvRef {
	if f, n, ok := strings.Cut(s, "/"); ok {
		return EnvRef{Folder: f, Name: n}
	}
	return EnvRef{Name: s}
}

// Project is a deployed project in a folder. Its versions are stored
// separately; Version names the current one.
type Project struct {
	Folder      string       `json:"folder"`
	Name        string       `json:"name"`
	Description string       `json:"description,omitempty"`
	Version     uint64       `json:"version"`      // current version
	LastVersion uint64       `json:"last_version"` // highest version number ever given
	Values      []ParamValue `json:"values,omitempty"`
	EnvRefs     []EnvRef     `json:"env_refs,omitempty"`
	CreatedAt   time.Time    `json:"created_at"`
	UpdatedAt   time.Time    `json:"updated_at"`
}

// Value returns the server-side value of parameter name of pkg ("" for the
// project), or nil.
func (p *Project) Value(pkg, name string) *ParamValue {
	for i := range p.Values {
		if p.Values[i].Package == pkg && p.Values[i].Name == name {
			return &p.Values[i]
		}
	}
	return nil
}

// HasEnvRef reports whether the project references r (compared after
// resolving relative references against the project's folder).
func (p *Project) HasEnvRef(r EnvRef) bool {
	f, n := r.Resolve(p.Folder)
	for _, x := range p.EnvRefs {
		if xf, xn := x.Resolve(p.Folder); xf == f && xn == n {
			return true
		}
	}
	return false
}

// Variable is a typed environment variable. A sensitive variable's Value is
// sealed (see Cipher).
type Variable struct {
	Name        string `json:"name"`
	Type        string `json:"type"`
	Value       string `json:"value"`
	Sensitive   bool   `json:"sensitive,omitempty"`
	Description string `json:"description,omitempty"`
}

// Environment is a named set of variables in a folder.
type Environment struct {
	Folder      string     `json:"folder"`
	Name        string     `json:"name"`
	Description string     `json:"description,omitempty"`
	Variables   []Variable `json:"variables,omitempty"` // sorted by name
	CreatedAt   time.Time  `json:"created_at"`
}

// Variable returns the variable called name, or nil.
func (e *Environment) Variable(name string) *Variable {
	for i := range e.Variables {
		if e.Variables[i].Name == name {
			return &e.Variables[i]
		}
	}
	return nil
}

func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}
