package pkgspec

import (
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Event handler events (SSIS's OnError, OnWarning, ...), the keys of
// handlers:.
const (
	OnError                = "on_error"
	OnWarning              = "on_warning"
	OnPreExecute           = "on_pre_execute"
	OnPostExecute          = "on_post_execute"
	OnTaskFailed           = "on_task_failed"
	OnVariableValueChanged = "on_variable_value_changed"
)

// HandlerEvents lists the events a handler may be declared for.
var HandlerEvents = []string{OnError, OnWarning, OnPreExecute, OnPostExecute, OnTaskFailed, OnVariableValueChanged}

// PropagateVar is the variable every handler's scope declares (bool,
// true): a handler task that sets it to false stops the event from
// reaching the handlers of the enclosing containers and the package
// (SSIS's System::Propagate).
const PropagateVar = "Propagate"

// Handlers are the event handlers of a task, a container or the package:
// a task list per event, each run in a scope of its own.
type Handlers map[string][]*Task

// handlers decodes a handlers mapping (event -> task list) in the current
// scope.
func (p *parser) handlers(n *yaml.Node, what string) Handlers {
	if !p.holds(n, yaml.MappingNode, what+" handlers must be a mapping from event to a list of tasks") {
		return nil
	}
	hs := Handlers{}
	for k, v := range pairs(n) {
		ev := p.str(k, what+" handlers event")
		if !slices.Contains(HandlerEvents, ev) {
			p.addf(k.Line, "%s handlers: unknown event %q (want one of: %s)", what, ev, strings.Join(HandlerEvents, ", "))
			continue
		}
		if isNull(v) || v.Kind == yaml.SequenceNode && len(v.Content) == 0 {
			p.addf(k.Line, "%s handlers %s has no tasks", what, ev)
			continue
		}
		func() {
			defer p.push()()
			p.scope.vars[PropagateVar] = TypeBool
			p.scope.handler = true
			hs[ev] = p.tasks(v)
		}()
	}
	return hs
}

// inHandler reports whether the scope is (inside) an event handler.
func (s *scope) inHandler() bool {
	for ; s != nil; s = s.parent {
		if s.handler {
			return true
		}
	}
	return false
}

// handlerLists returns every handler task list of ts and of their
// containers, at any depth.
func handlerLists(hs Handlers) [][]*Task {
	var out [][]*Task
	for _, ev := range HandlerEvents {
		if l, ok := hs[ev]; ok {
			out = append(out, l)
		}
	}
	return out
}

// walkTasks calls fn for every task of ts, of their containers and of
// their handlers, at any depth.
func walkTasks(ts []*Task, fn func(*Task)) {
	for _, t := range ts {
		fn(t)
		if b := t.Body(); b != nil {
			walkTasks(b.Tasks, fn)
		}
		for _, l := range handlerLists(t.Handlers) {
			walkTasks(l, fn)
		}
	}
}

// AllTasks returns every task of the package: its tasks, the tasks of
// containers and of event handlers, at any depth, in file order of
// discovery.
func (p *Package) AllTasks() []*Task {
	var out []*Task
	collect := func(t *Task) { out = append(out, t) }
	walkTasks(p.Tasks, collect)
	for _, l := range handlerLists(p.Handlers) {
		walkTasks(l, collect)
	}
	return out
}

// HasHandlers reports whether the package declares any event handler.
func (p *Package) HasHandlers() bool {
	if len(p.Handlers) > 0 {
		return true
	}
	for _, t := range p.AllTasks() {
		if len(t.Handlers) > 0 {
			return true
		}
	}
	return false
}
