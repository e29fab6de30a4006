package pkgspec

import (
	"fmt"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// tasks decodes a task list (of the package or a container) in the
// current scope.
func (p *parser) tasks(n *yaml.Node) []*Task {
	if !p.holds(n, yaml.SequenceNode, "tasks must be a list of tasks") {
		return nil
	}
	tasks := make([]*Task, 0, min(len(n.Content), MaxTasks))
	for i, item := range n.Content {
		if p.taskCount++; p.taskCount > MaxTasks {
			if p.taskCount == MaxTasks+1 {
				p.addf(item.Line, "package has more than %d tasks (the limit, counting the tasks of containers)", MaxTasks)
			}
			break
		}
		if p.done() {
			break
		}
		if t := p.task(i+1, deref(item)); t != nil {
			tasks = append(tasks, t)
		}
	}
	p.lists = append(p.lists, tasks)
	return tasks
}

// taskFields are the fields every task may have besides its type.
var taskFields = []string{"name", "description", "after", "join", "when", "timeout", "retries", "retry_delay", "result", "force_result", "fail_parent", "fail_package", "handlers"}

// task decodes the idx-th (1-based) entry of a task list.
func (p *parser) task(idx int, n *yaml.Node) *Task {
	if n.Kind != yaml.MappingNode {
		p.addf(n.Line, "task #%d must be a mapping with a name and a task type", idx)
		return nil
	}
	t := &Task{Line: n.Line}
	// Name the task in messages once its name is known; the name may come
	// after other fields.
	for k, v := range pairs(n) {
		if k.Value == "name" && v.Kind == yaml.ScalarNode && !isNull(v) {
			t.Name = v.Value
			break
		}
	}
	what := fmt.Sprintf("task #%d", idx)
	if t.Name != "" {
		what = fmt.Sprintf("task %q", t.Name)
	}
	known := slices.Clone(taskFields)
	known = append(known, p.kindKeys()...)
	var nameNode *yaml.Node
	var kinds []string
	type kindNode struct {
		kind taskKind
		k, v *yaml.Node
	}
	var bodies []kindNode
	var handlersNode *yaml.Node
	p.fields(n, what, known, func(k, v *yaml.Node) {
		switch k.Value {
		case "name":
			nameNode = v
			p.str(v, what+" name")
		case "description":
			t.Description = p.str(v, what+" description")
		case "after":
			t.After, t.Constraints = p.after(v, what, t.Name)
		case "join":
			t.Join = p.str(v, what+" join")
			if t.Join != JoinAnd && t.Join != JoinOr {
				p.addf(v.Line, "%s join must be %q or %q, not %q", what, JoinAnd, JoinOr, t.Join)
			}
		case "when":
			t.When = p.boolExprStr(v, what+" when")
		case "timeout":
			t.Timeout = p.duration(v, what+" timeout")
		case "retries":
			t.Retries = p.integer(v, what+" retries", 0)
		case "retry_delay":
			t.RetryDelay = p.duration(v, what+" retry_delay")
		case "result":
			t.Result = p.targetStr(v, what+" result")
		case "force_result":
			t.ForceResult, _ = p.oneOf(v, what+" force_result", what, "force_result", ForceResults)
		case "fail_parent":
			t.FailParent = p.boolean(v, what+" fail_parent")
		case "fail_package":
			t.FailPackage = p.boolean(v, what+" fail_package")
		case "handlers":
			handlersNode = v
		default:
			for _, kind := range p.kinds {
				if kind.key == k.Value {
					kinds = append(kinds, kind.key)
					bodies = append(bodies, kindNode{kind, k, v})
				}
			}
		}
	})
	for _, b := range bodies {
		b.kind.decode(p, t, b.k, b.v)
	}
	if handlersNode != nil {
		t.Handlers = p.handlers(handlersNode, what)
	}
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
	if t.Join == JoinOr && len(t.Constraints) < 2 {
		p.addf(n.Line, "%s join: or needs at least two entries in after", what)
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

// after decodes the "after" list of the task self, described as what. An
// entry is a task name (a success constraint) or a mapping {task, on, when}.
func (p *parser) after(n *yaml.Node, what, self string) ([]string, []*Constraint) {
	items := []*yaml.Node{n}
	switch {
	case isNull(n):
		return nil, nil
	case n.Kind == yaml.SequenceNode:
		items = n.Content
	case n.Kind != yaml.ScalarNode:
		p.addf(n.Line, "%s after must be a list of task names or {task, on, when} entries", what)
		return nil, nil
	}
	var names []string
	var cons []*Constraint
	for _, item := range items {
		item = deref(item)
		c := &Constraint{On: OnSuccess, Line: item.Line}
		switch item.Kind {
		case yaml.MappingNode:
			p.fields(item, what+" after entry", []string{"task", "on", "when"}, func(k, v *yaml.Node) {
				switch k.Value {
				case "task":
					c.Task = p.str(v, what+" after task")
				case "on":
					c.On = p.str(v, what+" after on")
					if c.On != OnSuccess && c.On != OnFailure && c.On != OnCompletion {
						p.addf(v.Line, "%s after %q: on must be success, failure or completion, not %q", what, c.Task, c.On)
					}
				case "when":
					c.When = p.str(v, what+" after when")
					p.boolExpr(v.Line, fmt.Sprintf("%s after %q when", what, c.Task), c.When)
				}
			})
			if c.Task == "" {
				p.addf(item.Line, "%s after entry has no task", what)
				continue
			}
		default:
			c.Task = p.str(item, what+" after entry")
			if item.Kind != yaml.ScalarNode {
				continue
			}
		}
		if c.Task == self && self != "" {
			p.addf(item.Line, "%s lists itself in after", what)
			continue
		}
		if slices.Contains(names, c.Task) {
			p.addf(item.Line, "%s lists %q twice in after", what, c.Task)
			continue
		}
		names = append(names, c.Task)
		cons = append(cons, c)
	}
	return names, cons
}

// checkList reports, for one task list, "after" entries naming tasks that
// are not in the list and dependency cycles.
func (p *parser) checkList(tasks []*Task) {
	byName := make(map[string]*Task, len(tasks))
	for _, t := range tasks {
		if _, dup := byName[t.Name]; !dup && t.Name != "" {
			byName[t.Name] = t
		}
	}
	for _, t := range tasks {
		what := fmt.Sprintf("task %q", t.Name)
		for _, c := range t.Constraints {
			if byName[c.Task] == nil {
				if p.pkg != nil && p.pkg.Task(c.Task) != nil {
					p.addf(c.Line, "%s: after names task %q, which is in another task list (constraints join tasks of the same list)", what, c.Task)
				} else {
					p.addf(c.Line, "%s: after names unknown task %q", what, c.Task)
				}
			}
		}
	}
	for _, cycle := range findCycles(tasks, byName) {
		names := make([]string, len(cycle)+1)
		for i, t := range cycle {
			names[i] = t.Name
		}
		names[len(cycle)] = cycle[0].Name
		p.addf(cycle[0].Line, "dependency cycle: %s (each task runs after the next)", strings.Join(names, " -> "))
	}
}

// checkTasks reports task names used twice anywhere in the package.
func (p *parser) checkTasks(pkg *Package) {
	first := map[string]*Task{}
	for _, t := range pkg.AllTasks() {
		if t.Name != "" {
			if f, dup := first[t.Name]; dup {
				p.addf(t.Line, "duplicate task name %q (lines %d and %d)", t.Name, f.Line, t.Line)
			} else {
				first[t.Name] = t
			}
		}
	}
	for _, l := range p.lists {
		p.checkList(l)
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
