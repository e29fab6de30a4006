package ssis

// Project is an SSIS project: from an .ispac, a project folder, or a
// single .dtsx (then Name is the package's and there is one package).
type Project struct {
	Name string
	// Source is the path the project was read from, for messages.
	Source string
	// Params are the project parameters (Project.params).
	Params []*Parameter
	// Connections are the project connection managers (*.conmgr).
	Connections []*ConnectionManager
	// Packages are the packages, in the order of the manifest or by file
	// name.
	Packages []*Package
	// Notes are things the reader met but the model does not hold (files
	// of the archive it ignores), for the report.
	Notes []string
}

// Parameter is a project or package parameter.
type Parameter struct {
	Name        string
	DataType    int // a TypeCode: 3 Int32, 8 String, 11 Boolean, ...
	Value       string
	HasValue    bool
	Sensitive   bool
	Required    bool
	Description string
	// Encrypted is set when the value is sensitive and the file holds it
	// encrypted (EncryptSensitiveWithUserKey or ...WithPassword).
	Encrypted bool
	// Decrypted is set when Project.Decrypt decrypted the value (now in
	// Value) with the package password.
	Decrypted bool
	enc       *Node  // the encrypted value element
	where     string // file:line of enc, for messages
}

// Variable is a package or container variable.
type Variable struct {
	Namespace string // User or System
	Name      string
	DataType  int
	Value     string
	ReadOnly  bool
	// RaiseChangedEvent raises OnVariableValueChanged on assignments.
	RaiseChangedEvent bool
	// Expression is set when EvaluateAsExpression is true.
	Expression string
}

// QualifiedName is Namespace::Name.
func (v *Variable) QualifiedName() string { return v.Namespace + "::" + v.Name }

// ConnectionManager is a package or project connection manager.
type ConnectionManager struct {
	Name         string
	CreationName string // OLEDB, ADO.NET:..., ODBC, FLATFILE, FILE, SMTP, EXCEL, ...
	DTSID        string
	RefID        string
	// ConnectionString is the inner ConnectionManager's ConnectionString
	// (for FILE and FLATFILE: the path).
	ConnectionString string
	// FileUsage is the FILE connection's FileUsageType: 0 existing file,
	// 1 create file, 2 existing folder, 3 create folder.
	FileUsage string
	FlatFile  *FlatFile
	// Expressions are property expressions, by property name.
	Expressions map[string]string
	// Sensitive reports an encrypted or removed password.
	Sensitive bool
	// Password is the password Project.Decrypt decrypted (empty if none).
	Password string
	encPW    []*Node // encrypted password elements
	file     string
	Project  bool // a project connection manager (.conmgr)
	Line     int
}

// FlatFile is the format of a FLATFILE connection manager.
type FlatFile struct {
	Format                    string // Delimited, FixedWidth, RaggedRight
	HeaderRowsToSkip          int
	ColumnNamesInFirstDataRow bool
	TextQualifier             string
	CodePage                  int
	Unicode                   bool
	HeaderRowDelimiter        string
	Columns                   []*FlatFileColumn
}

// FlatFileColumn is one column of a flat file connection manager.
type FlatFileColumn struct {
	Name          string
	DataType      int // a DBTYPE code: 129 DT_STR, 130 DT_WSTR, 3 DT_I4, ...
	Delimiter     string
	Width         int // ColumnWidth (fixed width)
	MaxWidth      int // MaximumWidth
	Precision     int
	Scale         int
	TextQualified bool
}

// Package is one .dtsx.
type Package struct {
	File            string
	Name            string
	FormatVersion   int
	ProtectionLevel string
	// EntryPoint is the project manifest's EntryPoint flag (true outside a
	// project).
	EntryPoint  bool
	Params      []*Parameter
	Connections []*ConnectionManager
	// Root is the package itself as an executable (its Variables,
	// Children and Constraints are the package's).
	Root *Executable
	// Configurations are old-style package configurations.
	Configurations []*Configuration
}

// Configuration is an old-style package configuration (format 3 to 8).
type Configuration struct {
	Name   string
	Type   string // DTSConfigurationType: 0 parent variable, 1 XML file, 2 environment variable, 3 registry, 4-6 indirect, 7 SQL Server
	String string
	Target string
	// Entries are what the .dtsConfig file of an XML file configuration
	// sets, read from the file of that name beside the package (Load);
	// FileErr says why it was not read.
	Entries []ConfigEntry
	FileErr string
}

// Constraint is a precedence constraint between two executables of the
// same container.
type Constraint struct {
	Name       string
	From, To   string // SSIS paths of the executables
	Value      int    // 0 success, 1 failure, 2 completion
	EvalOp     int    // 1 constraint, 2 expression, 3 expression and constraint, 4 expression or constraint
	Expression string
	LogicalAnd bool
	Line       int
}

// Executable is a task or container, or the package itself.
type Executable struct {
	Path         string // \Package\Load\Sequence 1
	Name         string
	CreationName string // normalised: Microsoft.ExecuteSQLTask, STOCK:SEQUENCE, ...
	RawCreation  string // as in the file
	DTSID        string
	Description  string
	Disabled     bool
	// MaximumErrorCount is 1 unless the file says otherwise.
	MaximumErrorCount    int
	FailPackageOnFailure bool
	FailParentOnFailure  bool
	// ForceExecutionResult: -1 none, 0 success, 1 failure, 2 completion.
	ForceExecutionResult int
	// Attr holds every attribute (and format 3 property) of the element
	// by local name: loops' InitExpression, EvalExpression, ...
	Attr        map[string]string
	Expressions map[string]string // property expressions, by property
	Variables   []*Variable
	Children    []*Executable
	Constraints []*Constraint
	// Data is the task's ObjectData content (the first child element), nil
	// for containers.
	Data *Node
	// Enumerator is the Foreach Loop's enumerator.
	Enumerator *Enumerator
	// VarMappings are the Foreach Loop's variable mappings, by index.
	VarMappings []VarMapping
	// EventHandlers are the handlers at this scope, by event name.
	EventHandlers []*Executable
	// Pipeline is the Data Flow's content.
	Pipeline *Pipeline
	Line     int
}

// Enumerator is a Foreach Loop's enumerator.
type Enumerator struct {
	CreationName string // Microsoft.ForEachFileEnumerator, ...
	Data         *Node
	Expressions  map[string]string
}

// VarMapping maps the enumerator's value index to a variable.
type VarMapping struct {
	Index    int
	Variable string // User::X
}

// Pipeline is a Data Flow task's components and paths.
type Pipeline struct {
	Components []*Component
	Paths      []*Path
}

// Path joins an output to an input.
type Path struct {
	Name       string
	Start, End string // output and input refIds (or ids in format 3)
}

// Component is one pipeline component.
type Component struct {
	Path        string // SSIS path, \Package\Load\Orders
	Name        string
	ClassID     string // normalised: Microsoft.FlatFileSource, ...
	RawClassID  string
	Props       map[string]string
	Connections []ComponentConnection
	Inputs      []*Input
	Outputs     []*Output
	Line        int
}

// ComponentConnection is a component's use of a connection manager.
type ComponentConnection struct {
	Name    string
	Manager string // connectionManagerRefId or connectionManagerID
}

// Input is a component input.
type Input struct {
	ID      string // refId or id
	Name    string
	Columns []*Column
	// ErrorDisposition is the input's error row disposition (for
	// destinations).
	ErrorDisposition string
}

// Output is a component output.
type Output struct {
	ID             string
	Name           string
	IsError        bool
	IsSorted       bool
	Props          map[string]string
	Columns        []*Column
	External       []*Column // external metadata columns
	SyncInput      string
	ExclusionGroup string
}

// Column is an input, output or external metadata column.
type Column struct {
	ID                    string // refId or id
	LineageID             string
	Name                  string // name, or cachedName for input columns
	DataType              string // pipeline names: str, wstr, i4, numeric, dbTimeStamp, ...
	Length                int
	Precision             int
	Scale                 int
	CodePage              int
	SortKeyPosition       int
	ErrorDisposition      string
	TruncationDisposition string
	ExternalID            string
	UsageType             string
	Props                 map[string]string
}
