package pkgspec

import (
	"fmt"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

func (p *parser) tasks(n *yaml.Node) []*Task {
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		p.addf(n.Line, "tasks must be a list of tasks")
		return nil
	}
	tasks := make([]*Task, 0, len(n.Content))
	for i, item := range n.Content {
		if t := p.task(i+1, deref(item)); t != nil {
			tasks = append(tasks, t)
		}
	}
	return tasks
}

// task decodes the idx-th (1-based) entry of the task list.
func (p *parser) task(idx int, n *yaml.Node) *Task {
	if n.Kind != yaml.MappingNode {
		p.addf(n.Line, "task #%d must be a mapping with a name and a task type", idx)
		return nil
	}
	t := &Task{Line: n.Line}
	// Name the task in messages once its name is known; the name may come
	// after other fields.
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k, v := deref(n.Content[i]), deref(n.Content[i+1]); k.Value == "name" && v.Kind == yaml.ScalarNode && !isNull(v) {
			t.Name = v.Value
			break
		}
	}
	what := fmt.Sprintf("task #%d", idx)
	if t.Name != "" {
		what = fmt.Sprintf("task %q", t.Name)
	}
	known := []string{"name", "description", "after"}
	for _, k := range p.kinds {
		known = append(known, k.key)
	}
	var nameNode *yaml.Node
	var kinds []string
	p.fields(n, what, known, func(k, v *yaml.Node) {
		switch k.Value {
		case "name":
			nameNode = v
			p.str(v, what+" name")
		case "description":
			t.Description = p.str(v, what+" description")
		case "after":
			t.After = p.after(v, what, t.Name)
		default:
			for _, kind := range p.kinds {
				if kind.key == k.Value {
					kinds = append(kinds, kind.key)
					kind.decode(p, t, k, v)
				}
			}
		}
	})
	switch {
	case nameNode == nil:
		p.addf(n.Line, "%s has no name", what)
	case nameNode.Kind != yaml.ScalarNode: // reported by str
	case t.Name == "":
		p.addf(nameNode.Line, "%s has an empty name", what)
	default:
		if err := ValidateName(t.Name); err != nil {
			p.addf(nameNode.Line, "invalid task name %q: %v", t.Name, err)
		}
	}
	switch len(kinds) {
	case 0:
		p.addf(n.Line, "%s has no task type (want one of: %s)", what, strings.Join(p.kindKeys(), ", "))
	case 1:
	default:
		p.addf(n.Line, "%s has %d task types (%s); want exactly one", what, len(kinds), strings.Join(kinds, ", "))
	}
	return t
}

func (p *parser) kindKeys() []string {
	keys := make([]string, len(p.kinds))
	for i, k := range p.kinds {
		keys[i] = k.key
	}
	return keys
}

// afterRef remembers where an "after" entry is, for later checks.
type afterRef struct {
	from, name string
	line       int
}

// after decodes the "after" list of the task self, described as what.
func (p *parser) after(n *yaml.Node, what, self string) []string {
	items := []*yaml.Node{n}
	switch {
	case isNull(n):
		return nil
	case n.Kind == yaml.SequenceNode:
		items = n.Content
	case n.Kind != yaml.ScalarNode:
		p.addf(n.Line, "%s after must be a list of task names", what)
		return nil
	}
	var names []string
	for _, item := range items {
		item = deref(item)
		name := p.str(item, what+" after entry")
		if item.Kind != yaml.ScalarNode {
			continue
		}
		if name == self && self != "" {
			p.addf(item.Line, "%s lists itself in after", what)
			continue
		}
		if slices.Contains(names, name) {
			p.addf(item.Line, "%s lists %q twice in after", what, name)
			continue
		}
		names = append(names, name)
		p.afterLines = append(p.afterLines, afterRef{from: what, name: name, line: item.Line})
	}
	return names
}

func (p *parser) decodeExec(t *Task, key, n *yaml.Node) {
	what := "exec"
	if t.Name != "" {
		what = fmt.Sprintf("task %q exec", t.Name)
	}
	if n.Kind != yaml.MappingNode {
		p.addf(n.Line, "%s must be a mapping with a command", what)
		t.Exec = &ExecTask{}
		return
	}
	e := &ExecTask{}
	t.Exec = e
	var cmdNode *yaml.Node
	p.fields(n, what, []string{"command", "env", "dir"}, func(k, v *yaml.Node) {
		switch k.Value {
		case "command":
			cmdNode = v
			e.Command = p.command(v, what)
		case "env":
			e.Env = p.env(v, what)
		case "dir":
			e.Dir = p.str(v, what+" dir")
			p.templates = append(p.templates, template{line: v.Line, where: what + " dir", s: e.Dir})
		}
	})
	switch {
	case cmdNode == nil:
		p.addf(key.Line, "%s has no command", what)
	case cmdNode.Kind != yaml.SequenceNode: // reported by command
	case len(e.Command) == 0:
		p.addf(cmdNode.Line, "%s command is empty", what)
	case e.Command[0] == "":
		p.addf(cmdNode.Line, "%s command[0] (the program) is empty", what)
	}
}

func (p *parser) command(n *yaml.Node, what string) []string {
	if n.Kind != yaml.SequenceNode {
		p.addf(n.Line, "%s command must be a list such as [/bin/sh, -c, 'echo hi']", what)
		return nil
	}
	args := make([]string, 0, len(n.Content))
	for i, item := range n.Content {
		item = deref(item)
		where := fmt.Sprintf("%s command[%d]", what, i)
		args = append(args, p.str(item, where))
		p.templates = append(p.templates, template{line: item.Line, where: where, s: args[i]})
	}
	return args
}

func (p *parser) env(n *yaml.Node, what string) map[string]string {
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		p.addf(n.Line, "%s env must be a mapping from variable name to value", what)
		return nil
	}
	env := make(map[string]string, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := deref(n.Content[i]), deref(n.Content[i+1])
		name := p.str(k, what+" env name")
		switch {
		case k.Kind != yaml.ScalarNode:
			continue
		case name == "" || strings.ContainsAny(name, "=\x00"):
			p.addf(k.Line, "%s env has invalid variable name %q", what, name)
			continue
		}
		if _, dup := env[name]; dup {
			p.addf(k.Line, "%s env sets %q twice", what, name)
			continue
		}
		where := fmt.Sprintf("%s env %s", what, name)
		env[name] = p.str(v, where)
		p.templates = append(p.templates, template{line: v.Line, where: where, s: env[name]})
	}
	return env
}

// checkTasks reports duplicate task names, bad "after" references and
// dependency cycles.
func (p *parser) checkTasks(pkg *Package) {
	byName := make(map[string]*Task, len(pkg.Tasks))
	for _, t := range pkg.Tasks {
		if t.Name == "" {
			continue
		}
		if first, dup := byName[t.Name]; dup {
			p.addf(t.Line, "duplicate task name %q (lines %d and %d)", t.Name, first.Line, t.Line)
			continue
		}
		byName[t.Name] = t
	}
	for _, ref := range p.afterLines {
		if byName[ref.name] == nil {
			p.addf(ref.line, "%s: after names unknown task %q", ref.from, ref.name)
		}
	}
	for _, cycle := range findCycles(pkg.Tasks, byName) {
		names := make([]string, len(cycle)+1)
		for i, t := range cycle {
			names[i] = t.Name
		}
		names[len(cycle)] = cycle[0].Name
		p.addf(cycle[0].Line, "dependency cycle: %s (each task runs after the next)", strings.Join(names, " -> "))
	}
}

// checkTemplates reports ${...} references in exec fields that are malformed
// or name undeclared parameters.
func (p *parser) checkTemplates(pkg *Package) {
	for _, tm := range p.templates {
		names, err := References(tm.s)
		if err != nil {
			p.addf(tm.line, "%s: %v", tm.where, err)
			continue
		}
		for _, name := range names {
			if pkg.Param(name) == nil {
				p.addf(tm.line, "%s references undeclared parameter %q", tm.where, name)
			}
		}
	}
}

// findCycles returns one cycle per strongly connected component of the
// "after" graph that has more than one task (self references never enter
// Task.After), each starting at its first task in file order.
func findCycles(tasks []*Task, byName map[string]*Task) [][]*Task {
	// Tarjan's algorithm over the unique, known tasks.
	index := map[*Task]int{}
	low := map[*Task]int{}
	onStack := map[*Task]bool{}
	var stack []*Task
	var cycles [][]*Task
	edges := func(t *Task) []*Task {
		var out []*Task
		for _, name := range t.After {
			if d := byName[name]; d != nil && d != t {
				out = append(out, d)
			}
		}
		return out
	}
	var visit func(t *Task)
	visit = func(t *Task) {
		index[t], low[t] = len(index), len(index)
		stack = append(stack, t)
		onStack[t] = true
		for _, d := range edges(t) {
			if _, seen := index[d]; !seen {
				visit(d)
				low[t] = min(low[t], low[d])
			} else if onStack[d] {
				low[t] = min(low[t], index[d])
			}
		}
		if low[t] != index[t] {
			return
		}
		var scc []*Task
		for {
			top := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			onStack[top] = false
			scc = append(scc, top)
			if top == t {
				break
			}
		}
		if len(scc) > 1 {
			cycles = append(cycles, cyclePath(scc, edges, tasks))
		}
	}
	for _, t := range tasks {
		if _, seen := index[t]; !seen && byName[t.Name] == t {
			visit(t)
		}
	}
	slices.SortFunc(cycles, func(a, b []*Task) int { return a[0].Line - b[0].Line })
	return cycles
}

// cyclePath finds a shortest cycle through the first task (in file order) of
// the strongly connected component scc.
func cyclePath(scc []*Task, edges func(*Task) []*Task, tasks []*Task) []*Task {
	in := map[*Task]bool{}
	for _, t := range scc {
		in[t] = true
	}
	var start *Task
	for _, t := range tasks {
		if in[t] {
			start = t
			break
		}
	}
	prev := map[*Task]*Task{}
	queue := []*Task{start}
	for len(queue) > 0 {
		t := queue[0]
		queue = queue[1:]
		for _, d := range edges(t) {
			if !in[d] {
				continue
			}
			if d == start {
				var path []*Task
				for x := t; x != start; x = prev[x] {
					path = append(path, x)
				}
				path = append(path, start)
				slices.Reverse(path)
				return path
			}
			if _, seen := prev[d]; !seen {
				prev[d] = t
				queue = append(queue, d)
			}
		}
	}
	return scc // unreachable for a real strongly connected component
}
