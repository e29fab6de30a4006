package pkgspec

import (
	"fmt"
	"slices"
	"time"
)

// Package is a parsed and validated package file.
type Package struct {
	Name        string
	Description string
	Parameters  []*Parameter // in file order
	// Variables are the package-scope variables, in file order.
	Variables []*Variable
	// Connections are the package's named database connections.
	Connections []*Connection
	// MaxParallel caps the tasks (not containers) running at once in the
	// whole execution; 0 means the executor's default (CPUs + 2).
	MaxParallel int
	// Timeout bounds the whole run; 0 means none.
	Timeout time.Duration
	// MaxErrors is how many unhandled task failures fail the package
	// (SSIS's MaximumErrorCount); 0 and 1 mean the first does.
	MaxErrors int
	// AllowPaths are directories file operations may touch besides the
	// project and work directories.
	AllowPaths []string
	// EntryPoint is the package's entry_point flag in a project: nil means
	// true; a package with false can only run as a child of another.
	EntryPoint *bool
	// Handlers are the package's event handlers (see HandlerEvents).
	Handlers Handlers
	// Expressions is the language of every expression and ${...} in the
	// package: ExprNative (also when empty) or ExprSSIS.
	Expressions string
	// Notify, if set, is the webhook the leader calls when an execution of
	// the package ends (notify.go).
	Notify *Notify
	Tasks  []*Task // in file order
	File   string  // file name used in error messages
}

// Parameter is a typed value a package or a project accepts at execution
// time. It is the one definition of a parameter: the parser makes it, the
// catalog stores it (JSON) with each deployed project version, and the
// master resolves values against it.
type Parameter struct {
	Name string `json:"name"`
	Type string `json:"type"` // one of the Type constants; a missing type means TypeString
	// Default is the canonical string form of the default value (see
	// Canonical), nil if the file gives none.
	Default *string `json:"default,omitempty"`
	// Required reports that a value must be given at execution time. It is
	// true when the file says "required: true" and also when the parameter
	// has no default, because such a parameter has no value otherwise.
	Required bool `json:"required,omitempty"`
	// Sensitive marks a value that must not be shown in logs or messages.
	Sensitive   bool   `json:"sensitive,omitempty"`
	Description string `json:"description,omitempty"`
	Line        int    `json:"-"` // line of the parameter's name in the file (0 outside a file)
}

// Variable is a typed, named value of a scope (the package or a container)
// that tasks set and read.
type Variable struct {
	Name string
	// Type is one of Types or TypeObject.
	Type        string
	Description string
	// Value is the initial value, a template (${...} is evaluated when the
	// scope starts); empty means the zero value of the type.
	Value string
	// Expression, if set, makes the variable an expression variable (SSIS's
	// EvaluateAsExpression): the expression is evaluated, and converted to
	// Type, every time the variable is read. Such a variable has no Value
	// and cannot be assigned.
	Expression string
	// RaiseChangedEvent makes every assignment that changes the value
	// raise on_variable_value_changed (SSIS's RaiseChangedEvent).
	RaiseChangedEvent bool
	Line              int
}

// ConnectionManager is a connection a project declares (project.yaml's
// connections:): a type (one of Drivers) and properties, which may refer
// to project parameters as ${project.NAME}. It is the one definition of a
// declared connection: the project loader makes it, the catalog stores it
// with each deployed version and, resolved, with each execution, and the
// package runtime opens it (executor.NewConnection).
type ConnectionManager struct {
	Name        string            `json:"name"`
	Type        string            `json:"type,omitempty"`
	Description string            `json:"description,omitempty"`
	Properties  map[string]string `json:"properties,omitempty"`
}

// Connection is a named database connection a package declares itself.
type Connection struct {
	Name string
	// Driver is one of Drivers.
	Driver string
	// DSN is a template for the driver's data source name. When empty, the
	// DSN is built from the fields below (each a template).
	DSN      string
	Host     string
	Port     string
	Database string // for sqlite: the database file
	User     string
	Password string
	Options  map[string]string
	Line     int
}

// Database drivers, the values of Connection.Driver.
const (
	DriverSQLite    = "sqlite"
	DriverPostgres  = "postgres"
	DriverSQLServer = "sqlserver"
	// DriverSMTP is a mail server, not a database: only mail tasks use
	// it. Its DSN is smtp://[user[:password]@]host[:port][?tls=MODE]
	// (see MailTask).
	DriverSMTP = "smtp"
)

// Drivers lists the connection drivers: the databases, and smtp.
var Drivers = []string{DriverSQLite, DriverPostgres, DriverSQLServer, DriverSMTP}

// Constraint kinds, the values of Constraint.On.
const (
	OnSuccess    = "success"
	OnFailure    = "failure"
	OnCompletion = "completion"
)

// Constraint is a precedence constraint: the task runs after Task ended
// with outcome On (and When, if set, is true).
type Constraint struct {
	Task string
	On   string // OnSuccess (default), OnFailure or OnCompletion
	When string // optional expression
	Line int
}

// Join modes, the values of Task.Join.
const (
	JoinAnd = "and"
	JoinOr  = "or"
)

// Task is one step of a package. Exactly one of the task type fields is
// set; Kind reports which.
type Task struct {
	Name        string
	Description string
	// After names the tasks this one has constraints on, in order; see
	// Constraints for the details of each.
	After []string
	// Constraints has one entry per name in After.
	Constraints []*Constraint
	// Join is JoinAnd (every constraint must hold, the default) or JoinOr
	// (one is enough).
	Join string
	// When is an expression evaluated when the task is ready to start;
	// false skips it.
	When string
	// Timeout bounds each attempt of the task; 0 means none.
	Timeout time.Duration
	// Retries is how many times a failed task is run again.
	Retries int
	// RetryDelay is the pause before each retry.
	RetryDelay time.Duration
	// Result names a variable that receives the task's result value.
	Result string
	// ForceResult, when set, replaces the task's outcome once it has run
	// (after its retries): ForceSuccess or ForceFailure (SSIS's
	// ForceExecutionResult).
	ForceResult string
	// FailParent makes a failure of the task (after its retries and
	// ForceResult) fail the list it is in (its container's, or the
	// package's) even when a failure constraint handles it or MaxErrors
	// would tolerate it (SSIS's FailParentOnFailure).
	FailParent bool
	// FailPackage makes a failure of the task fail the package, whatever
	// its containers make of it (SSIS's FailPackageOnFailure).
	FailPackage bool
	// Handlers are the task's (or container's) event handlers.
	Handlers Handlers

	Exec *ExecTask
	SQL  *SQLTask
	File *FileTask
	HTTP *HTTPTask
	Mail *MailTask
	// BulkInsert loads a text file into a table (bulkinsert.go).
	BulkInsert *BulkInsertTask
	Package    *PackageTask
	Set        *SetTask
	DataFlow   *DataFlowTask
	// Unsupported stands for an element an importer could not convert
	// (unsupported.go); a package holding one refuses to start.
	Unsupported *UnsupportedTask
	Sequence    *Container
	ForEach     *ForEachTask
	For         *ForTask

	Line int // line of the task's entry in the file
}

// ExecTask runs a program.
type ExecTask struct {
	// Command is the program and its arguments; it is never empty and
	// Command[0] is never empty. A program name without a slash is looked up
	// in the task's PATH; a relative path with a slash is relative to the
	// task's working directory.
	Command []string
	// Arguments is a command line (a template) appended to Command after
	// expansion, split as Windows programs split theirs (SplitCommandLine):
	// what an SSIS Execute Process task computes with a property
	// expression. Empty: none.
	Arguments string
	// Env holds extra environment variables for the program.
	Env map[string]string
	// Dir is the working directory; empty means the executor's default. A
	// relative Dir is relative to that default.
	Dir string
	// SuccessCodes are the exit codes that count as success; nil means 0.
	SuccessCodes []int
	// Capture names a variable that receives the program's standard output.
	Capture string
	// Stdin (a template) is written to the program's standard input, which
	// is then closed: the way to hand it a secret that must not be on its
	// command line. Empty: the program's standard input is empty.
	Stdin string
}

// Values of Task.ForceResult.
const (
	ForceSuccess = "success"
	ForceFailure = "failure"
)

// ForceResults lists the values of the task field force_result.
var ForceResults = []string{ForceSuccess, ForceFailure}

// SQL result modes, the values of SQLTask.Mode.
const (
	ModeNone      = "none"
	ModeRowCount  = "row_count"
	ModeSingleRow = "single_row"
	ModeRowset    = "rowset"
)

// SQLTask runs SQL on a named connection.
type SQLTask struct {
	Connection string
	// Statement is the SQL text; File a .sql file of the project instead.
	Statement string
	File      string
	// StatementExpression is an expression whose value (text) is the SQL,
	// evaluated when the task runs, instead of Statement or File: what an
	// SSIS property expression on SqlStatementSource does. Values still
	// belong in Params.
	StatementExpression string
	// Params are bound to the "?" placeholders of the statement, in order.
	Params []string
	// Mode is one of ModeNone (default), ModeRowCount, ModeSingleRow,
	// ModeRowset.
	Mode string
	// Into names variables that receive the columns of a single_row
	// result, in column order.
	Into []string
	// Line is the line of the connection field.
	Line int
}

// File operations, the values of FileTask.Op.
const (
	OpCopy   = "copy"
	OpMove   = "move"
	OpRename = "rename"
	OpDelete = "delete"
	OpMkdir  = "mkdir"
)

// FileTask copies, moves, renames, deletes files or makes directories.
type FileTask struct {
	Op string
	// From is a glob (copy, move, delete) or one path (rename).
	From string
	// To is the destination: a directory when From matches several files.
	To string
	// Path is the path of mkdir and delete (a glob for delete).
	Path      string
	Overwrite bool
}

// Mail priorities, the values of MailTask.Priority.
const (
	PriorityLow    = "low"
	PriorityNormal = "normal"
	PriorityHigh   = "high"
)

// MailTask sends one mail through an SMTP connection (driver smtp): SSIS's
// Send Mail task. Every field but Connection and Priority is a template.
type MailTask struct {
	// Connection names a connection of driver smtp.
	Connection string
	From       string
	// To, CC and BCC are lists of addresses separated by ";" or ",".
	// At least one of them names a recipient when the task runs.
	To, CC, BCC string
	Subject     string
	// Body is the text of the mail (text/plain, UTF-8); BodyFile a file
	// (under the work directory or an allowed path) whose text is the body
	// instead.
	Body     string
	BodyFile string
	// Priority is low, normal (default) or high.
	Priority string
	// Attachments are files (under the work directory or an allowed path)
	// attached to the mail.
	Attachments []string
	// Timeout bounds the whole SMTP conversation; 0 means 1 minute.
	Timeout time.Duration
	// Line is the line of the connection field.
	Line int
}

// HTTPTask sends one HTTP request.
type HTTPTask struct {
	Method  string
	URL     string
	Headers map[string]string
	Body    string
	// ExpectStatus lists the accepted status codes; nil means any 2xx.
	ExpectStatus []int
	Timeout      time.Duration
	// OutputFile receives the response body; OutputVar names a variable
	// that receives it.
	OutputFile string
	OutputVar  string
}

// PackageTask runs another package of the same project.
type PackageTask struct {
	// Name is the package name: the file packages/NAME.yaml of the project.
	Name string
	// Params binds the child's parameters to templates.
	Params map[string]string
}

// SetTask assigns variables from expressions.
type SetTask struct {
	// Assign maps a variable name to an expression, in file order.
	Assign []Assignment
}

// Assignment is one variable set from an expression.
type Assignment struct {
	Var  string
	Expr string
	Line int
}

// Container is a group of tasks with its own variables and constraints.
type Container struct {
	Variables []*Variable
	Tasks     []*Task
	// MaxErrors is how many unhandled task failures fail the container
	// (in a loop: one iteration); 0 and 1 mean the first does.
	MaxErrors int
}

// ForEachTask runs its tasks once per item. Exactly one source is set.
type ForEachTask struct {
	Container
	// Var names the loop variable (scoped to the loop) bound to each item.
	// Declared under the loop's own variables: with a type, each item is
	// converted to that type when it is bound; otherwise the variable is
	// a string for files and items (DT_WSTR in SSIS expressions) and an
	// object for the other sources.
	Var string
	// Items is a literal list of templates.
	Items []string
	// In is an expression that returns a list.
	In string
	// Files is a glob; the items are the matching paths, sorted.
	Files string
	// CSV is a CSV file with a header line; each row is a map from header
	// to value.
	CSV string
	// Query runs SQL; each row is a map from column to value.
	Query *SQLTask
}

// ForTask runs its tasks while Condition holds.
type ForTask struct {
	Container
	// Init and Step assign variables; Init once before the first check,
	// Step after each iteration. Init declares any variable it names that
	// is not declared already, in the loop's scope.
	Init      []Assignment
	Condition string
	Step      []Assignment
}

// Task kinds, the YAML keys of the task types, as returned by Task.Kind.
const (
	KindExec     = "exec"
	KindSQL      = "sql"
	KindFile     = "file"
	KindHTTP     = "http"
	KindMail     = "mail"
	KindPackage  = "package"
	KindSet      = "set"
	KindSequence = "sequence"
	KindForEach  = "foreach"
	KindFor      = "for"
)

// Kind returns the task's type, or "" if none is set.
func (t *Task) Kind() string {
	for _, k := range defaultKinds {
		if k.is(t) {
			return k.key
		}
	}
	return ""
}

// Body returns the container of a sequence, foreach or for task, or nil.
func (t *Task) Body() *Container {
	switch {
	case t.Sequence != nil:
		return t.Sequence
	case t.ForEach != nil:
		return &t.ForEach.Container
	case t.For != nil:
		return &t.For.Container
	}
	return nil
}

// ExprLang returns the package's expression language, ExprNative when
// the file does not say.
func (p *Package) ExprLang() string {
	if p.Expressions == "" {
		return ExprNative
	}
	return p.Expressions
}

// Param returns the parameter called name, or nil.
func (p *Package) Param(name string) *Parameter {
	return first(p.Parameters, func(pr *Parameter) bool { return pr.Name == name })
}

// Task returns the task called name, at any depth (containers and event
// handlers included), or nil.
func (p *Package) Task(name string) *Task {
	return first(p.AllTasks(), func(t *Task) bool { return t.Name == name })
}

// Connection returns the connection called name, or nil.
func (p *Package) Connection(name string) *Connection {
	return first(p.Connections, func(c *Connection) bool { return c.Name == name })
}

// first returns the first of xs that match accepts, or nil.
func first[T any](xs []*T, match func(*T) bool) *T {
	if i := slices.IndexFunc(xs, match); i >= 0 {
		return xs[i]
	}
	return nil
}

// ConnectionUse is a task's use of a named connection.
type ConnectionUse struct {
	Task, Connection string
	Line             int
}

// ConnectionUses lists the connections the package's sql and mail tasks,
// foreach queries and data flow components name, at any depth, in file order. A name the package does not
// declare must come from the project (see executor.Options.Connections).
func (p *Package) ConnectionUses() []ConnectionUse {
	var out []ConnectionUse
	var walk func(ts []*Task)
	walk = func(ts []*Task) {
		for _, t := range ts {
			switch {
			case t.SQL != nil:
				out = append(out, ConnectionUse{t.Name, t.SQL.Connection, t.SQL.Line})
			case t.Mail != nil:
				out = append(out, ConnectionUse{t.Name, t.Mail.Connection, t.Mail.Line})
			case t.BulkInsert != nil:
				out = append(out, ConnectionUse{t.Name, t.BulkInsert.Connection, t.BulkInsert.Line})
			case t.ForEach != nil && t.ForEach.Query != nil:
				out = append(out, ConnectionUse{t.Name, t.ForEach.Query.Connection, t.ForEach.Query.Line})
			case t.DataFlow != nil:
				for _, c := range t.DataFlow.Components {
					if s := c.SQL; s != nil {
						out = append(out, ConnectionUse{t.Name, s.Connection, s.Line})
					}
					if c.Command != nil {
						out = append(out, ConnectionUse{t.Name, c.Command.Connection, c.Command.Line})
					}
					if c.Lookup != nil && c.Lookup.SQL != nil {
						out = append(out, ConnectionUse{t.Name, c.Lookup.SQL.Connection, c.Lookup.SQL.Line})
					}
				}
			}
			if b := t.Body(); b != nil {
				walk(b.Tasks)
			}
		}
	}
	walk(p.Tasks)
	return out
}

// UndeclaredConnections reports, for the package file file, each use of a
// connection that neither the package nor project (its project's
// connection names; nil for a package submitted alone) declares.
func (p *Package) UndeclaredConnections(file string, project []string) []Problem {
	var out []Problem
	for _, u := range p.ConnectionUses() {
		if p.Connection(u.Connection) != nil || slices.Contains(project, u.Connection) {
			continue
		}
		msg := fmt.Sprintf("task %q uses connection %q, which neither the package nor project.yaml declares", u.Task, u.Connection)
		if project == nil {
			msg = fmt.Sprintf("task %q uses connection %q, which the package does not declare (connections:)", u.Task, u.Connection)
		}
		out = append(out, Problem{File: file, Line: u.Line, Msg: msg})
	}
	return out
}

// Order groups the top-level tasks of a valid package into stages; see
// OrderTasks.
func (p *Package) Order() [][]*Task { return OrderTasks(p.Tasks) }

// OrderTasks groups tasks into stages: stage 0 holds the tasks without
// "after", and every later stage holds the tasks whose predecessors all lie
// in earlier stages. Tasks keep file order within a stage. Tasks on a
// dependency cycle (impossible in a package returned by Parse) are left out.
func OrderTasks(tasks []*Task) [][]*Task {
	stage := make(map[string]int, len(tasks))
	var stages [][]*Task
	for placed := true; placed; {
		placed = false
		var next []*Task
		for _, t := range tasks {
			if _, done := stage[t.Name]; done {
				continue
			}
			ready := true
			for _, dep := range t.After {
				if _, ok := stage[dep]; !ok { // placed stages only: stage is filled after the scan
					ready = false
					break
				}
			}
			if ready {
				next = append(next, t)
			}
		}
		for _, t := range next {
			stage[t.Name] = len(stages)
			placed = true
		}
		if placed {
			stages = append(stages, next)
		}
	}
	return stages
}
