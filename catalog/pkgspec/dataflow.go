package pkgspec

import (
	"github.com/expr-lang/expr/vm"
	"github.com/scaleout/scaleout/catalog/ssisexpr"
)

// KindDataFlow is the YAML key of the data flow task type.
const KindDataFlow = "dataflow"

// DataFlowTask is a Data Flow task: a graph of components (sources,
// transformations, destinations) joined by paths, through which rows
// stream in buffers. docs/dataflow.md describes it.
type DataFlowTask struct {
	// Components in file order; Order lists them so that every component
	// comes after the components it reads.
	Components []*Component
	Order      []*Component
	// BufferRows is the number of rows per buffer (default 4096).
	BufferRows int
	// MemoryLimit bounds the rows a blocking component (sort, aggregate,
	// lookup cache) holds, in bytes; past it the component fails.
	MemoryLimit int64
	Line        int
}

// Defaults of DataFlowTask.
const (
	DefaultBufferRows  = 4096
	DefaultMemoryLimit = 128 << 20
)

// Component types, the YAML keys that select them (SSIS names in
// docs/dataflow.md).
const (
	CompFlatFileSource  = "flat_file_source"
	CompJSONSource      = "json_source"
	CompSQLSource       = "sql_source"
	CompExcelSource     = "excel_source"
	CompParquetSource   = "parquet_source"
	CompDerivedColumn   = "derived_column"
	CompConditionalSplt = "conditional_split"
	CompDataConversion  = "data_conversion"
	CompLookup          = "lookup"
	CompMergeJoin       = "merge_join"
	CompSort            = "sort"
	CompAggregate       = "aggregate"
	CompUnionAll        = "union_all"
	CompMulticast       = "multicast"
	CompRowCount        = "row_count"
	CompTop             = "top"
	CompFlatFileDest    = "flat_file_destination"
	CompJSONDest        = "json_destination"
	CompSQLDest         = "sql_destination"
	CompParquetDest     = "parquet_destination"
	CompSQLCommand      = "sql_command"
	CompRecordsetDest   = "recordset_destination"
)

// Error dispositions, the values of Component.OnError (SSIS error row
// disposition).
const (
	OnErrorFail     = "fail"
	OnErrorIgnore   = "ignore"
	OnErrorRedirect = "redirect"
)

// Output names.
const (
	OutputDefault = "output"
	OutputError   = "error"
	OutputMatch   = "match"
	OutputNoMatch = "no_match"
)

// Component is one node of a data flow. Exactly one of the configuration
// pointers matching Type is set.
type Component struct {
	Name        string
	Type        string
	Description string
	// Inputs are the paths the component reads, in order (merge join:
	// left then right).
	Inputs []*PathRef
	// OnError is OnErrorFail (default), OnErrorIgnore or OnErrorRedirect.
	OnError string
	Line    int

	// In is the metadata of each input, and Outputs of each output,
	// filled in by validation.
	In      []*Output
	Outputs []*Output

	FlatFile   *FlatFileConfig // flat files, excel_source, parquet (path only)
	JSON       *JSONConfig     // json_source and json_destination
	SQL        *SQLConfig      // sql_source and sql_destination
	Derived    []*DerivedColumn
	Split      *SplitConfig
	Convert    []*ConvertColumn
	Lookup     *LookupConfig
	MergeJoin  *MergeJoinConfig
	Sort       *SortConfig
	Aggregate  *AggregateConfig
	Multicast  []string // output names
	RowCount   string   // variable
	Command    *SQLCommandConfig
	Recordset  string // variable of a recordset_destination
	Top        int64
	SourceCols []*SourceColumn // columns of sources
	// SortedBy (sources) declares the columns the rows come sorted on.
	SortedBy []string
	// lines holds the line of each field of the component's body, for
	// messages about it.
	lines map[string]int
}

// line returns the line of the component's field, or of the component.
func (c *Component) line(field string) int {
	if l := c.lines[field]; l > 0 {
		return l
	}
	return c.Line
}

// Output returns the output called name, or nil.
func (c *Component) Output(name string) *Output {
	return first(c.Outputs, func(o *Output) bool { return o.Name == name })
}

// PathRef names the output a component reads: "comp" (its default output)
// or "comp.output".
type PathRef struct {
	Component string
	Output    string
	Line      int
}

// String formats the reference as written.
func (r *PathRef) String() string { return r.Component + "." + r.Output }

// Output is the metadata of one output of a component.
type Output struct {
	Name    string
	Columns []Column
	// SortedBy lists the columns the rows are sorted on (ascending), when
	// known: after a sort, or as a source declares.
	SortedBy []string
	// Error marks an error output (input columns plus ErrorCode,
	// ErrorColumn, ErrorDescription).
	Error bool
	// Used reports that a component reads this output.
	Used bool
}

// Index returns the position of the column called name, or -1.
func (o *Output) Index(name string) int { return indexOf(o.Columns, name) }

// SourceColumn is a column a source reads, with its type.
type SourceColumn struct {
	Column
	// Field is the JSON key (json_source) or the query column
	// (sql_source); default the column name.
	Field string
	// Width is the field width of a fixed-width flat file.
	Width int
}

// Flat file formats.
const (
	FormatDelimited  = "delimited"
	FormatFixedWidth = "fixed_width"
)

// FlatFileConfig configures a flat file source or destination.
type FlatFileConfig struct {
	Path      string // template
	Format    string // FormatDelimited (default) or FormatFixedWidth
	Delimiter rune   // default ','
	Quote     rune   // default '"'; 0 for none
	// Escape is the character that escapes a quote inside a quoted field;
	// default the quote itself (doubled quotes, RFC 4180).
	Escape rune
	// Header reports a first line of column names (default true).
	Header bool
	// SkipRows are lines skipped before the header or data.
	SkipRows int
	// Encoding is utf-8 (default), latin1, windows-1252, utf-16le or
	// utf-16be.
	Encoding string
	// NullValue is the text that means NULL; an empty field is NULL for
	// non-text columns in any case.
	NullValue string
	// Append (destination) appends instead of replacing the file.
	Append bool
	// CRLF (destination) ends lines with CR LF instead of LF.
	CRLF bool
	// Sheet is the worksheet of an Excel source; default the first.
	Sheet string
}

// JSONConfig configures a JSON lines source or destination.
type JSONConfig struct {
	Path string // template
	// Append (destination) appends instead of replacing the file.
	Append bool
}

// SQLConfig configures a SQL source or destination.
type SQLConfig struct {
	Connection string
	Query      string   // source
	Params     []string // source: templates bound to ? markers
	Table      string   // destination
	// BatchSize is the rows per batch: per SQLite transaction (0: 10000),
	// per PostgreSQL COPY and transaction, per SQL Server bulk copy batch
	// (0: everything in one).
	BatchSize int
	TableLock bool
	Truncate  bool
	// Mapping maps table columns to input columns; empty means every input
	// column to the table column of the same name. In file order.
	Mapping [][2]string
	Line    int
}

// DerivedColumn is one column of a Derived Column component.
type DerivedColumn struct {
	Name string
	Expr *RowExpr
	Type DataType
	// Replace is set when Name is an input column that is replaced.
	Replace bool
	Line    int
}

// SplitConfig configures a Conditional Split.
type SplitConfig struct {
	Cases   []*SplitCase
	Default string // the default output's name
}

// SplitCase routes rows for which Cond is true to Output.
type SplitCase struct {
	Output string
	Cond   *RowExpr
	Line   int
}

// ConvertColumn is one column of a Data Conversion.
type ConvertColumn struct {
	Input string
	Name  string // output column; Input replaces it when equal
	Type  DataType
	Line  int
}

// SQLCommandConfig configures a sql_command (SSIS's OLE DB Command): a
// statement run for each row, its ? markers bound to Params, columns of
// the row.
type SQLCommandConfig struct {
	Connection string
	Statement  string
	Params     []string
	Line       int
}

// Lookup no-match behaviours.
const (
	NoMatchFail     = "fail"
	NoMatchIgnore   = "ignore"
	NoMatchRedirect = "redirect"
)

// Lookup cache modes (SSIS CacheType).
const (
	CacheFull    = "full"
	CachePartial = "partial"
	CacheNone    = "none"
)

// DefaultLookupCacheSize is a partial cache's default bound (SSIS's
// MaxMemoryUsage64 default, 25 MB).
const DefaultLookupCacheSize = 25 << 20

// LookupConfig configures a Lookup.
type LookupConfig struct {
	// Reference: either SQL (connection, query, params) or a flat file.
	SQL      *SQLConfig
	File     *FlatFileConfig
	RefCols  []*SourceColumn // typed columns of the reference
	JoinIn   []string        // input columns
	JoinRef  []string        // reference columns, same order
	Add      []string        // reference columns added to the row
	AddAs    []string        // their names in the output
	NoMatch  string
	MemLimit int64
	// Cache is full (the reference read once), partial (a query per row
	// whose key is not in an LRU cache of CacheSize bytes) or none (a
	// query per row).
	Cache string
	// CacheSize bounds a partial cache (bytes); MissPercent of it holds
	// keys without a match (0: misses are not cached).
	CacheSize   int64
	MissPercent int
	// RowQuery is the per-row query of partial and none with ? markers
	// bound to the input columns RowParams; empty: the reference query
	// filtered on the join columns.
	RowQuery  string
	RowParams []string
}

// Merge join types.
const (
	JoinInner = "inner"
	JoinLeft  = "left"
	JoinFull  = "full"
)

// MergeJoinConfig configures a Merge Join of two sorted inputs.
type MergeJoinConfig struct {
	Type        string
	LeftKeys    []string
	RightKeys   []string
	RightPrefix string
}

// SortKey is one column of a sort order.
type SortKey struct {
	Column string
	Desc   bool
}

// SortConfig configures a Sort.
type SortConfig struct {
	Keys             []SortKey
	RemoveDuplicates bool
	MemLimit         int64
}

// Aggregate operations.
const (
	AggCount         = "count"
	AggCountDistinct = "count_distinct"
	AggSum           = "sum"
	AggAvg           = "avg"
	AggMin           = "min"
	AggMax           = "max"
)

// Aggregation is one output column of an Aggregate.
type Aggregation struct {
	Name   string
	Op     string
	Column string // empty for count(*)
	Type   DataType
	Line   int
}

// AggregateConfig configures an Aggregate.
type AggregateConfig struct {
	GroupBy  []string
	Aggs     []*Aggregation
	MemLimit int64
}

// RowExpr is an expression over the columns of a row, compiled against
// the input's metadata.
type RowExpr struct {
	Src string
	// Prog is the compiled program; run it with an environment holding the
	// columns named in Names plus param, vars and sys.
	Prog *vm.Program
	// Cols are the input column indexes the expression reads, Names their
	// names.
	Cols  []int
	Names []string
	// Type is the inferred result type; Known is false when it cannot be
	// inferred (then a derived column needs a type).
	Type  DataType
	Known bool
	refs  []string // param, vars and sys names read
	// ssis is the checked SSIS program (package expressions: ssis), run
	// by EvalSSIS instead of Prog; colTypes are the SSIS types of Cols.
	ssis     *ssisexpr.Program
	colTypes []ssisexpr.Type
}
