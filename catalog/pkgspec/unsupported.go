package pkgspec

import (
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

// KindUnsupported is the YAML key of the unsupported task type: a
// placeholder an importer (scaleout import of SSIS packages) writes where
// an element could not be converted, so that the package is still
// deployed, reviewed and fixed, but never runs with a piece missing.
const KindUnsupported = "unsupported"

// UnsupportedTask names the element it stands for. A package holding one,
// at any depth, validates but refuses to start (executor.Run fails it
// before any task runs, with Message()).
type UnsupportedTask struct {
	// Element is where the element was in its source, e.g. the SSIS path
	// \Package\Load\Script Task.
	Element string
	// Type is the source's type name for it, e.g. Microsoft.ScriptTask.
	Type string
	// Reason says why it was not converted and what to do.
	Reason string
}

// Message describes the element for the refusal to start.
func (u *UnsupportedTask) Message() string {
	msg := u.Element
	if u.Type != "" {
		msg += " (" + u.Type + ")"
	}
	if u.Reason != "" {
		msg += ": " + u.Reason
	}
	return msg
}

func (p *parser) decodeUnsupported(t *Task, _, n *yaml.Node) {
	what := kindWhat(t, KindUnsupported)
	u := &UnsupportedTask{}
	t.Unsupported = u
	if !p.body(n, what, "an element") {
		return
	}
	p.fields(n, what, []string{"element", "type", "reason"}, func(k, v *yaml.Node) {
		switch k.Value {
		case "element":
			u.Element = p.str(v, what+" element")
		case "type":
			u.Type = p.str(v, what+" type")
		case "reason":
			u.Reason = p.str(v, what+" reason")
		}
	})
	if strings.TrimSpace(u.Element) == "" {
		p.addf(n.Line, "%s has no element (what it stands for)", what)
	}
}

// Unsupported lists the unsupported tasks of the package, at any depth
// and in event handlers too, in file order.
func (p *Package) Unsupported() []*Task {
	var out []*Task
	for _, t := range p.AllTasks() {
		if t.Unsupported != nil {
			out = append(out, t)
		}
	}
	return out
}

// UnsupportedTasks lists the unsupported tasks among tasks and the tasks
// of their containers, in order.
func UnsupportedTasks(tasks []*Task) []*Task {
	var out []*Task
	for _, t := range tasks {
		if t.Unsupported != nil {
			out = append(out, t)
		}
		if b := t.Body(); b != nil {
			out = append(out, UnsupportedTasks(b.Tasks)...)
		}
	}
	return out
}

// UnsupportedError is the refusal to start a package that holds
// unsupported tasks.
func UnsupportedError(tasks []*Task) error {
	var parts []string
	for _, t := range tasks {
		parts = append(parts, fmt.Sprintf("task %q stands for %s", t.Name, t.Unsupported.Message()))
	}
	return fmt.Errorf("package holds %d element(s) scaleout cannot run, so it does not start: %s", len(tasks), strings.Join(parts, "; "))
}
