package pkgspec

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// ParseFile reads and parses the package file at path; see Parse.
func ParseFile(path string) (*Package, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read package: %w", err)
	}
	return Parse(path, src)
}

// Parse parses and validates a package file. file names the source in error
// messages. On failure the error is a *ValidationError listing every problem
// found, each with its line where one is known.
func Parse(file string, src []byte) (*Package, error) {
	return ParseContext(context.Background(), file, src)
}

// ParseContext is Parse that gives up when ctx ends, with ctx's error. The
// work of a parse is bounded anyway (MaxPackageBytes, MaxNodes, MaxTasks).
func ParseContext(ctx context.Context, file string, src []byte) (*Package, error) {
	p := &parser{file: file, kinds: defaultKinds, ctx: ctx}
	pkg := p.parse(src)
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("parse %s: %w", file, err)
	}
	if len(p.problems) > 0 {
		slices.SortStableFunc(p.problems, func(a, b Problem) int { return a.Line - b.Line })
		if p.dropped > 0 {
			p.problems = append(p.problems, Problem{File: p.file, Msg: fmt.Sprintf("... and %d more problems (only the first %d are listed)", p.dropped, MaxProblems)})
		}
		return nil, &ValidationError{Problems: p.problems}
	}
	return pkg, nil
}

// taskKind is one task type: the YAML key that selects it, the function
// that decodes its body into the task and the test of whether a task has
// it (Task.Kind).
type taskKind struct {
	key string
	// decode decodes the value n of the key k into t.
	decode func(p *parser, t *Task, k, n *yaml.Node)
	// is reports whether t's pointer field of this type is set.
	is func(t *Task) bool
}

// defaultKinds are the task types of format v0. A new task type adds an
// entry here and a pointer field to Task.
var defaultKinds = []taskKind{
	{KindExec, (*parser).decodeExec, func(t *Task) bool { return t.Exec != nil }},
	{KindSQL, (*parser).decodeSQL, func(t *Task) bool { return t.SQL != nil }},
	{KindFile, (*parser).decodeFile, func(t *Task) bool { return t.File != nil }},
	{KindHTTP, (*parser).decodeHTTP, func(t *Task) bool { return t.HTTP != nil }},
	{KindMail, (*parser).decodeMail, func(t *Task) bool { return t.Mail != nil }},
	{KindBulkInsert, (*parser).decodeBulkInsert, func(t *Task) bool { return t.BulkInsert != nil }},
	{KindPackage, (*parser).decodePackage, func(t *Task) bool { return t.Package != nil }},
	{KindSet, (*parser).decodeSet, func(t *Task) bool { return t.Set != nil }},
	{KindDataFlow, (*parser).decodeDataFlow, func(t *Task) bool { return t.DataFlow != nil }},
	{KindSequence, (*parser).decodeSequence, func(t *Task) bool { return t.Sequence != nil }},
	{KindForEach, (*parser).decodeForEach, func(t *Task) bool { return t.ForEach != nil }},
	{KindFor, (*parser).decodeFor, func(t *Task) bool { return t.For != nil }},
	{KindUnsupported, (*parser).decodeUnsupported, func(t *Task) bool { return t.Unsupported != nil }},
}

// parser holds the state of one Parse call.
type parser struct {
	file     string
	kinds    []taskKind
	problems []Problem
	// exprs are the templates and expressions to check once every task
	// is known.
	exprs []exprRef
	// targets are the variables tasks assign, checked like exprs.
	targets []targetRef
	// scope is the variable scope being decoded.
	scope *scope
	pkg   *Package
	// lists are all task lists, checked once every task is known.
	lists [][]*Task
	// varHooks run once the current container's variables are declared.
	varHooks []func()
	// ctx ends the parse early (the request is gone); taskCount counts
	// the tasks decoded, against MaxTasks.
	ctx       context.Context
	taskCount int
	dropped   int // problems beyond MaxProblems, counted only
}

func (p *parser) addf(line int, format string, args ...any) {
	if len(p.problems) >= MaxProblems {
		p.dropped++
		return
	}
	p.problems = append(p.problems, Problem{File: p.file, Line: line, Msg: fmt.Sprintf(format, args...)})
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// yamlError turns a yaml.v3 error into problems, taking the line from the
// message.
func (p *parser) yamlError(err error) {
	for _, msg := range strings.Split(err.Error(), "\n") {
		msg = strings.TrimSpace(msg)
		if msg == "" || msg == "yaml: unmarshal errors:" {
			continue
		}
		line := 0
		if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
			line, _ = strconv.Atoi(m[1])
			msg = m[2]
		} else {
			msg = strings.TrimPrefix(msg, "yaml: ")
		}
		p.addf(line, "YAML syntax error: %s", msg)
	}
}

func (p *parser) parse(src []byte) *Package {
	if len(src) > MaxPackageBytes {
		p.addf(0, "package file is %d bytes, over the limit of %d", len(src), MaxPackageBytes)
		return nil
	}
	dec := yaml.NewDecoder(bytes.NewReader(src))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		p.yamlError(err)
		return nil
	}
	if n, line := expandedNodes(&doc, MaxNodes); n > MaxNodes {
		p.addf(line, "package expands to more than %d YAML nodes (the limit; aliases count each time they are used)", MaxNodes)
		return nil
	}
	if p.done() {
		return nil
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		p.addf(extra.Line, "file holds more than one YAML document")
	} else if !errors.Is(err, io.EOF) {
		p.yamlError(err)
	}
	root := &doc
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		root = deref(doc.Content[0])
	}
	pkg := &Package{File: p.file}
	switch {
	case doc.Kind == 0 || isNull(root):
		p.addf(0, "file is empty")
		return pkg
	case root.Kind != yaml.MappingNode:
		p.addf(root.Line, "package must be a YAML mapping with name and tasks")
		return pkg
	}
	var nameNode, tasksKey, tasksVal, paramsNode, varsNode, connsNode, handlersNode *yaml.Node
	p.pkg = pkg
	p.fields(root, "package", []string{"name", "description", "parameters", "variables", "connections", "max_parallel", "max_errors", "timeout", "allow_paths", "entry_point", "expressions", "handlers", "notify", "tasks"}, func(k, v *yaml.Node) {
		switch k.Value {
		case "name":
			nameNode = v
			pkg.Name = p.str(v, "package name")
		case "description":
			pkg.Description = p.str(v, "package description")
			if n := len(pkg.Description); n > MaxDescriptionBytes {
				p.addf(v.Line, "package description is %d bytes, over the limit of %d bytes", n, MaxDescriptionBytes)
			}
		case "parameters":
			paramsNode = v
		case "variables":
			varsNode = v
		case "connections":
			connsNode = v
		case "max_parallel":
			pkg.MaxParallel = p.integer(v, "package max_parallel", 1)
		case "max_errors":
			pkg.MaxErrors = p.integer(v, "package max_errors", 1)
		case "timeout":
			pkg.Timeout = p.duration(v, "package timeout")
		case "allow_paths":
			pkg.AllowPaths = p.strList(v, "package allow_paths")
			for _, ap := range pkg.AllowPaths {
				if !filepath.IsAbs(ap) {
					p.addf(v.Line, "package allow_paths entry %q is not an absolute path", ap)
				}
			}
		case "entry_point":
			ep := p.boolean(v, "package entry_point")
			pkg.EntryPoint = &ep
		case "expressions":
			pkg.Expressions = p.str(v, "package expressions")
			if !slices.Contains(ExprLanguages, pkg.Expressions) {
				p.addf(v.Line, "package expressions %q is not a language (want one of: %s)", pkg.Expressions, strings.Join(ExprLanguages, ", "))
				pkg.Expressions = ""
			}
		case "handlers":
			handlersNode = v
		case "notify":
			pkg.Notify = p.notify(v)
		case "tasks":
			tasksKey, tasksVal = k, v
		}
	})
	// Parameters, variables and connections first: tasks refer to them.
	if paramsNode != nil {
		pkg.Parameters = p.parameters(paramsNode)
	}
	p.scope = &scope{vars: map[string]string{}}
	if varsNode != nil {
		pkg.Variables = p.variables(varsNode, "package")
	}
	if connsNode != nil {
		pkg.Connections = p.connections(connsNode)
	}
	if tasksVal != nil {
		pkg.Tasks = p.tasks(tasksVal)
	}
	if handlersNode != nil {
		pkg.Handlers = p.handlers(handlersNode, "package")
	}
	switch {
	case nameNode == nil:
		p.addf(0, "package has no name")
	case nameNode.Kind != yaml.ScalarNode: // reported by str
	case pkg.Name == "":
		p.addf(nameNode.Line, "package name is empty")
	default:
		if err := ValidateName(pkg.Name); err != nil {
			p.addf(nameNode.Line, "invalid package name %q: %v", pkg.Name, err)
		}
	}
	// A task list that is not a list, or whose entries are all broken, has
	// been reported already.
	switch {
	case tasksKey == nil:
		p.addf(0, "package has no tasks")
	case isNull(tasksVal) || tasksVal.Kind == yaml.SequenceNode && len(tasksVal.Content) == 0:
		p.addf(tasksKey.Line, "package has no tasks")
	}
	p.checkTasks(pkg)
	p.checkRefs(pkg)
	return pkg
}

func deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n != nil && n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

// fields walks the mapping n (described as what), calling fn for each key in
// known with the key node and the dereferenced value. It reports keys that
// are not strings, duplicate keys and unknown keys.
func (p *parser) fields(n *yaml.Node, what string, known []string, fn func(k, v *yaml.Node)) {
	seen := map[string]int{}
	for k, v := range pairs(n) {
		if k.Kind != yaml.ScalarNode {
			p.addf(k.Line, "%s has a key that is not a string", what)
			continue
		}
		if prev, dup := seen[k.Value]; dup {
			p.addf(k.Line, "duplicate field %q in %s (first at line %d)", k.Value, what, prev)
			continue
		}
		seen[k.Value] = k.Line
		if !slices.Contains(known, k.Value) {
			p.addf(k.Line, "unknown field %q in %s (%s)", k.Value, what, suggest(k.Value, known))
			continue
		}
		fn(k, v)
	}
}

// suggest names the known field closest to an unknown one, or lists them all.
func suggest(key string, known []string) string {
	best, bestDist := "", 3
	for _, k := range known {
		if d := editDistance(strings.ToLower(key), k); d < bestDist {
			best, bestDist = k, d
		}
	}
	if best != "" {
		return fmt.Sprintf("did you mean %q?", best)
	}
	return "known fields: " + strings.Join(known, ", ")
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// str returns the scalar n as a string ("" for null), reporting other kinds.
func (p *parser) str(n *yaml.Node, what string) string {
	if n.Kind != yaml.ScalarNode {
		p.addf(n.Line, "%s must be a string", what)
		return ""
	}
	if isNull(n) {
		return ""
	}
	return n.Value
}

// recordedStr returns the string n (see str) after passing it to record
// (tpl, expr, boolExpr or target) with n's line.
func (p *parser) recordedStr(n *yaml.Node, what string, record func(line int, where, s string)) string {
	s := p.str(n, what)
	record(n.Line, what, s)
	return s
}

// tplStr returns the string n (see str) and records it as a template.
func (p *parser) tplStr(n *yaml.Node, what string) string { return p.recordedStr(n, what, p.tpl) }

// exprStr returns the string n (see str) and records it as an expression.
func (p *parser) exprStr(n *yaml.Node, what string) string { return p.recordedStr(n, what, p.expr) }

// boolExprStr is exprStr for a condition.
func (p *parser) boolExprStr(n *yaml.Node, what string) string {
	return p.recordedStr(n, what, p.boolExpr)
}

// targetStr returns the string n (see str) and records it as the name of
// a variable the task assigns.
func (p *parser) targetStr(n *yaml.Node, what string) string { return p.recordedStr(n, what, p.target) }

// oneOf returns the string n (see str); a value that is not in allowed is
// reported as an unknown noun of owner, and ok is false.
func (p *parser) oneOf(n *yaml.Node, what, owner, noun string, allowed []string) (s string, ok bool) {
	s = p.str(n, what)
	if !slices.Contains(allowed, s) {
		p.addf(n.Line, "%s has unknown %s %q (want one of: %s)", owner, noun, s, strings.Join(allowed, ", "))
		return s, false
	}
	return s, true
}

// tplList returns the list of strings n (see strList) and records each
// entry as a template, named what[i].
func (p *parser) tplList(n *yaml.Node, what string) []string {
	l := p.strList(n, what)
	for i, s := range l {
		p.tpl(n.Line, fmt.Sprintf("%s[%d]", what, i), s)
	}
	return l
}

// holds reports whether n is a node of kind with entries to decode: null
// holds none, and any other kind is reported with msg.
func (p *parser) holds(n *yaml.Node, kind yaml.Kind, msg string) bool {
	if isNull(n) {
		return false
	}
	if n.Kind != kind {
		p.addf(n.Line, "%s", msg)
		return false
	}
	return true
}

// pairs yields the keys and values of the mapping n, aliases resolved.
func pairs(n *yaml.Node) iter.Seq2[*yaml.Node, *yaml.Node] {
	return func(yield func(k, v *yaml.Node) bool) {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if !yield(deref(n.Content[i]), deref(n.Content[i+1])) {
				return
			}
		}
	}
}

// boolean returns the YAML bool n, reporting anything else.
func (p *parser) boolean(n *yaml.Node, what string) bool {
	var b bool
	if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" || n.Decode(&b) != nil {
		p.addf(n.Line, "%s must be true or false", what)
	}
	return b
}

func (p *parser) parameters(n *yaml.Node) []*Parameter {
	if !p.holds(n, yaml.MappingNode, "parameters must be a mapping from parameter name to {type, default, ...}") {
		return nil
	}
	if c := len(n.Content) / 2; c > MaxParameters {
		p.addf(n.Line, "package has %d parameters, over the limit of %d (pkgspec.MaxParameters)", c, MaxParameters)
		return nil
	}
	var params []*Parameter
	seen := map[string]int{}
	for k, v := range pairs(n) {
		if k.Kind != yaml.ScalarNode {
			p.addf(k.Line, "parameter name must be a string")
			continue
		}
		if prev, dup := seen[k.Value]; dup {
			p.addf(k.Line, "duplicate parameter %q (lines %d and %d)", k.Value, prev, k.Line)
			continue
		}
		seen[k.Value] = k.Line
		if err := ValidateParamName(k.Value); err != nil {
			p.addf(k.Line, "invalid parameter name %q: %v", k.Value, err)
		}
		params = append(params, p.parameter(k.Value, k.Line, v))
	}
	return params
}

func (p *parser) parameter(name string, line int, n *yaml.Node) *Parameter {
	pr := &Parameter{Name: name, Type: TypeString, Line: line}
	what := fmt.Sprintf("parameter %q", name)
	if n.Kind != yaml.MappingNode {
		p.addf(n.Line, "%s must be a mapping such as {type: string, default: x}", what)
		return pr
	}
	var def *yaml.Node
	typeOK := true
	p.decodeFields(n, what, []field{
		{"type", func(v *yaml.Node, w string) { pr.Type, typeOK = p.oneOf(v, w, what, "type", Types) }},
		{"default", func(v *yaml.Node, _ string) { def = v }},
		{"description", set(&pr.Description, p.str)},
		{"required", set(&pr.Required, p.boolean)},
		{"sensitive", set(&pr.Sensitive, p.boolean)},
	})
	switch {
	case def == nil:
		pr.Required = true
	case pr.Required:
		p.addf(def.Line, "%s is required and so cannot have a default", what)
	case def.Kind != yaml.ScalarNode || isNull(def):
		p.addf(def.Line, "%s default must be a single value (quote \"\" for an empty string)", what)
	case typeOK:
		c, err := Canonical(pr.Type, def.Value)
		if err != nil {
			shown := strconv.Quote(def.Value)
			if pr.Sensitive {
				shown = "(sensitive value hidden)"
			}
			detail := strings.TrimPrefix(err.Error(), ErrParamType.Error()+": ")
			p.addf(def.Line, "%s default %s does not match type %s: %s", what, shown, pr.Type, detail)
			break
		}
		pr.Default = &c
	}
	return pr
}
