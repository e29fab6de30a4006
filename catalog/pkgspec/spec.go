package pkgspec

// Package is a parsed and validated package file.
type Package struct {
	Name        string
	Description string
	Parameters  []*Parameter // in file order
	Tasks       []*Task      // in file order
	File        string       // file name used in error messages
}

// Parameter is a typed value the package accepts at execution time.
type Parameter struct {
	Name        string
	Type        string // one of the Type constants; a missing type means TypeString
	Description string
	// Default is the canonical string form of the default value (see
	// Canonical), nil if the file gives none.
	Default *string
	// Required reports that a value must be given at execution time. It is
	// true when the file says "required: true" and also when the parameter
	// has no default, because such a parameter has no value otherwise.
	Required bool
	// Sensitive marks a value that must not be shown in logs or messages.
	Sensitive bool
	Line      int // line of the parameter's name in the file
}

// Task is one step of a package. Exactly one of the task type fields (only
// Exec in format v0) is set; Kind reports which.
type Task struct {
	Name        string
	Description string
	// After names the tasks that must succeed before this one starts.
	After []string
	Exec  *ExecTask
	Line  int // line of the task's entry in the file
}

// ExecTask runs a program.
type ExecTask struct {
	// Command is the program and its arguments; it is never empty and
	// Command[0] is never empty. A program name without a slash is looked up
	// in the task's PATH; a relative path with a slash is relative to the
	// task's working directory.
	Command []string
	// Env holds extra environment variables for the program.
	Env map[string]string
	// Dir is the working directory; empty means the executor's default. A
	// relative Dir is relative to that default.
	Dir string
}

// KindExec is the kind of an exec task, as returned by Task.Kind and used as
// the YAML key of the task type.
const KindExec = "exec"

// Kind returns the task's type ("exec"), or "" if none is set.
func (t *Task) Kind() string {
	switch {
	case t.Exec != nil:
		return KindExec
	}
	return ""
}

// Param returns the parameter called name, or nil.
func (p *Package) Param(name string) *Parameter {
	for _, pr := range p.Parameters {
		if pr.Name == name {
			return pr
		}
	}
	return nil
}

// Task returns the task called name, or nil.
func (p *Package) Task(name string) *Task {
	for _, t := range p.Tasks {
		if t.Name == name {
			return t
		}
	}
	return nil
}

// Order groups the tasks of a valid package into stages: stage 0 holds the
// tasks without "after", and every later stage holds the tasks whose
// dependencies all lie in earlier stages. Tasks keep file order within a
// stage. Tasks on a dependency cycle (impossible in a package returned by
// Parse) are left out.
func (p *Package) Order() [][]*Task {
	stage := make(map[string]int, len(p.Tasks))
	var stages [][]*Task
	for placed := true; placed; {
		placed = false
		var next []*Task
		for _, t := range p.Tasks {
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
