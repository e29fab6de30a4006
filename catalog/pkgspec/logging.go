package pkgspec

// Logging levels of an execution, as in SSIS: which events are kept. The
// catalog stores an execution's level and the executor filters its events
// by it; both use these.
const (
	// LoggingNone keeps only error and task_failed events.
	LoggingNone = "none"
	// LoggingBasic keeps every event except diagnostic ones. The default.
	LoggingBasic = "basic"
	// LoggingPerformance keeps what measures the run: post_execute (with
	// durations), progress, warning, error and task_failed events.
	LoggingPerformance = "performance"
	// LoggingVerbose keeps every event, diagnostic ones included.
	LoggingVerbose = "verbose"
)

// LoggingLevels lists the logging levels from least to most.
var LoggingLevels = []string{LoggingNone, LoggingBasic, LoggingPerformance, LoggingVerbose}
