package catalog

import (
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/scaleout/scaleout/catalog/pkgspec"
)

// Limits on everything that reaches the Raft log. The master checks them
// before it proposes a command (so the user gets a 400 naming the limit)
// and the FSM checks them again when it applies one (so a command written
// by an older or buggy leader is a recorded rejection, not a key bbolt
// refuses). docs/limits.md lists them with their defaults.
const (
	// MaxNameBytes bounds every id and name: workers, folders, projects,
	// environments, variables, parameters, packages, label names, target
	// workers, callers. Object names are also at most 128 characters
	// (pkgspec.MaxNameLen); this is their size in bytes.
	MaxNameBytes = 512
	// MaxDescriptionBytes bounds descriptions (folders, environments,
	// variables, project versions and their packages).
	MaxDescriptionBytes = pkgspec.MaxDescriptionBytes
	// MaxValueBytes bounds a variable's or a parameter's value, in clear.
	MaxValueBytes = 64 << 10
	// maxSealedValueBytes bounds a sealed value as the FSM sees it: the
	// clear limit after AES-GCM (nonce + tag) and base64, with room to spare.
	maxSealedValueBytes = MaxValueBytes*4/3 + 1024
	// MaxLabels bounds the labels of a worker and the target labels of an
	// execution; MaxLabelValueBytes a label's value.
	MaxLabels          = 64
	MaxLabelValueBytes = 1024
	// MaxTargetWorkers bounds the workers an execution may name.
	MaxTargetWorkers = 256
	// MaxRetries bounds an execution's retry count; MaxPriority the size
	// of its priority (either sign); MaxRetryDelay its retry delay (also
	// the longest delay backoff reaches).
	MaxRetries    = 1000
	MaxPriority   = 1_000_000
	MaxRetryDelay = 24 * time.Hour
	// MaxParams bounds the parameter values of one execution (package and
	// project parameters each).
	MaxParams = pkgspec.MaxParameters
	// MaxFileNameBytes bounds a package's file name or archive path.
	MaxFileNameBytes = 1024
	// MaxPackageSourceBytes bounds the YAML of an inline package.
	MaxPackageSourceBytes = 4 << 20
	// MaxEventMessageBytes bounds the message of one event and the message
	// of a result; longer ones are cut (with a note saying so), not refused,
	// so that no report of a running attempt is lost over its size.
	MaxEventMessageBytes = 64 << 10
	// maxEventFieldBytes bounds an event's type and task name (cut).
	maxEventFieldBytes = 1024
	// MaxBulkStop bounds the executions one bulk stop names.
	MaxBulkStop = 10_000
	// MaxCommandBytes bounds one encoded Raft command; the request limits
	// keep commands far below it, this is the last guard before the log.
	MaxCommandBytes = 32 << 20
)

// ErrTooLarge means a request is over a size limit as a whole (one Raft
// command); a single field over its limit is ErrInvalid.
var ErrTooLarge = errors.New("too large")

// ErrStorage means this server's catalog storage is failing (a full or
// broken disk): it refuses writes until the store works again. The FSM
// retries by itself; nothing acknowledged is lost.
var ErrStorage = errors.New("catalog storage failing")

// checkBytes reports a string field over its limit, naming the limit and
// the field's size.
func checkBytes(what, s string, limit int) error {
	if len(s) > limit {
		return fmt.Errorf("%w: %s is %d bytes, over the limit of %d bytes", ErrInvalid, what, len(s), limit)
	}
	return nil
}

// checkCount reports a list over its limit.
func checkCount(what string, n, limit int) error {
	if n > limit {
		return fmt.Errorf("%w: %d %s, over the limit of %d", ErrInvalid, n, what, limit)
	}
	return nil
}

// CheckID checks an id or name that is not an object name (worker ids,
// target workers, callers): not empty, at most MaxNameBytes.
func CheckID(what, id string) error {
	if id == "" {
		return fmt.Errorf("%w: %s is empty", ErrInvalid, what)
	}
	return checkBytes(what, id, MaxNameBytes)
}

// CheckDescription checks a description's size.
func CheckDescription(what, d string) error {
	return checkBytes(what+" description", d, MaxDescriptionBytes)
}

// CheckLabels checks a set of labels: count, name and value sizes.
func CheckLabels(what string, labels map[string]string) error {
	if err := checkCount(what, len(labels), MaxLabels); err != nil {
		return err
	}
	for k, v := range labels {
		if err := CheckID(what+" name", k); err != nil {
			return err
		}
		if err := checkBytes(fmt.Sprintf("value of %s %.64q", what, k), v, MaxLabelValueBytes); err != nil {
			return err
		}
	}
	return nil
}

// CheckValue checks a parameter or variable value; a sealed value is
// measured against the sealed size of the limit.
func CheckValue(what, v string, sealed bool) error {
	if sealed {
		return checkBytes(what+" (sealed)", v, maxSealedValueBytes)
	}
	return checkBytes(what, v, MaxValueBytes)
}

// checkValues checks a map of parameter values.
func checkValues(what string, values map[string]string, sensitive []string) error {
	if err := checkCount(what, len(values), MaxParams); err != nil {
		return err
	}
	sealed := map[string]bool{}
	for _, n := range sensitive {
		sealed[n] = true
	}
	for k, v := range values {
		if err := checkBytes(what+" name", k, MaxNameBytes); err != nil {
			return err
		}
		if err := CheckValue(fmt.Sprintf("value of %s %.64q", what, k), v, sealed[k] && IsSealed(v)); err != nil {
			return err
		}
	}
	return nil
}

// CheckWorker checks a worker registration against the limits.
func CheckWorker(w *Worker) error {
	if err := CheckID("worker id", w.ID); err != nil {
		return err
	}
	if err := checkBytes("worker node name", w.Node, MaxNameBytes); err != nil {
		return err
	}
	if w.MaxTasks <= 0 {
		return fmt.Errorf("%w: worker %.64s: max tasks must be positive", ErrInvalid, w.ID)
	}
	return CheckLabels("worker labels", w.Labels)
}

// checkLimits checks the sizes of a spec's fields (part of Check).
func (s *ExecutionSpec) checkLimits() error {
	checks := []error{
		checkBytes("package name", s.PackageName, MaxNameBytes),
		checkBytes("package file name", s.PackageFile, MaxFileNameBytes),
		checkBytes("package source", s.Source, MaxPackageSourceBytes),
		checkValues("parameters", s.Params, s.Sensitive),
		checkValues("project parameters", s.ProjectParams, s.ProjectSensitive),
		checkCount("target workers", len(s.TargetWorkers), MaxTargetWorkers),
		CheckLabels("target labels", s.TargetLabels),
		checkBytes("folder name", s.Folder, MaxNameBytes),
		checkBytes("project name", s.Project, MaxNameBytes),
		checkBytes("environment", s.Environment, 2*MaxNameBytes+1),
	}
	for _, w := range s.TargetWorkers {
		checks = append(checks, CheckID("target worker id", w))
	}
	for _, err := range checks {
		if err != nil {
			return err
		}
	}
	return nil
}

// ClipMessage cuts a message over MaxEventMessageBytes at a rune boundary
// and says how much was cut. It is deterministic: the FSM applies it to
// every event it stores, the master to what it proposes.
func ClipMessage(s string) string { return clip(s, MaxEventMessageBytes) }

func clip(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	cut := limit
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + fmt.Sprintf(" [... %d bytes cut: over the limit of %d bytes per event message]", len(s)-cut, limit)
}

// ClipEvents bounds the fields of events in place (see ClipMessage).
func ClipEvents(evs []Event) {
	for i := range evs {
		evs[i].Message = ClipMessage(evs[i].Message)
		evs[i].Type = clip(evs[i].Type, maxEventFieldBytes)
		evs[i].Task = clip(evs[i].Task, maxEventFieldBytes)
	}
}

// check checks the sizes of a server-side parameter value.
func (v *ParamValue) check() error {
	for _, err := range []error{
		checkBytes("package name", v.Package, MaxNameBytes),
		checkBytes("parameter name", v.Name, MaxNameBytes),
		checkBytes("variable name", v.Variable, MaxNameBytes),
		CheckValue("value of parameter "+clip(v.Name, 64), v.Value, v.Sensitive && IsSealed(v.Value)),
	} {
		if err != nil {
			return err
		}
	}
	return nil
}

// CheckVersion checks the sizes of a project version's manifest: the
// names and descriptions that came out of project.yaml and the packages.
func CheckVersion(pv *ProjectVersion) error {
	errs := []error{
		CheckDescription("project", pv.Description),
		checkBytes("deployer", pv.Deployer, MaxNameBytes),
	}
	for _, p := range pv.Packages {
		errs = append(errs, checkBytes("package name", p.Name, MaxNameBytes),
			checkBytes("package file name", p.File, MaxFileNameBytes),
			CheckDescription("package "+clip(p.Name, 64), p.Description))
	}
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// CheckCaller checks the name of the user a request names (X-Scaleout-Caller).
func CheckCaller(caller string) error { return checkBytes("caller", caller, MaxNameBytes) }
