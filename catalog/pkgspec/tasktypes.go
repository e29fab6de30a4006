package pkgspec

import (
	"fmt"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// kindWhat names a task's type body in messages.
func kindWhat(t *Task, kind string) string {
	if t.Name != "" {
		return fmt.Sprintf("task %q %s", t.Name, kind)
	}
	return kind
}

// body checks that n is a mapping; if not it reports what it should hold.
func (p *parser) body(n *yaml.Node, what, holds string) bool {
	if n.Kind != yaml.MappingNode {
		p.addf(n.Line, "%s must be a mapping with %s", what, holds)
		return false
	}
	return true
}

func (p *parser) decodeExec(t *Task, key, n *yaml.Node) {
	what := kindWhat(t, KindExec)
	e := &ExecTask{}
	t.Exec = e
	if !p.body(n, what, "a command") {
		return
	}
	var cmdNode *yaml.Node
	p.fields(n, what, []string{"command", "env", "dir", "success_codes", "capture"}, func(k, v *yaml.Node) {
		switch k.Value {
		case "command":
			cmdNode = v
			e.Command = p.command(v, what)
		case "env":
			e.Env = p.strMap(v, what+" env", true)
		case "dir":
			e.Dir = p.tplStr(v, what+" dir")
		case "success_codes":
			e.SuccessCodes = p.intList(v, what+" success_codes")
		case "capture":
			e.Capture = p.targetStr(v, what+" capture")
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
		p.tpl(item.Line, where, args[i])
	}
	return args
}

// sqlFields decodes the fields shared by the sql task and a foreach query.
func (p *parser) sqlFields(s *SQLTask, n *yaml.Node, what string, extra []string, fn func(k, v *yaml.Node)) *SQLTask {
	if !p.body(n, what, "a connection and a statement or file") {
		return s
	}
	var connNode *yaml.Node
	known := append([]string{"connection", "statement", "file", "params"}, extra...)
	p.fields(n, what, known, func(k, v *yaml.Node) {
		switch k.Value {
		case "connection":
			connNode = v
			s.Connection = p.str(v, what+" connection")
		case "statement":
			s.Statement = p.str(v, what+" statement")
		case "file":
			s.File = p.tplStr(v, what+" file")
		case "params":
			s.Params = p.tplList(v, what+" params")
		default:
			fn(k, v)
		}
	})
	if connNode == nil {
		p.addf(n.Line, "%s has no connection", what)
	} else {
		s.Line = connNode.Line
	}
	if (s.Statement == "") == (s.File == "") {
		p.addf(n.Line, "%s needs exactly one of statement and file", what)
	}
	return s
}

func (p *parser) decodeSQL(t *Task, _, n *yaml.Node) {
	what := kindWhat(t, KindSQL)
	var intoLine int
	t.SQL = &SQLTask{}
	p.sqlFields(t.SQL, n, what, []string{"mode", "into"}, func(k, v *yaml.Node) {
		switch k.Value {
		case "mode":
			t.SQL.Mode = p.str(v, what+" mode")
			if !slices.Contains([]string{ModeNone, ModeRowCount, ModeSingleRow, ModeRowset}, t.SQL.Mode) {
				p.addf(v.Line, "%s mode must be one of none, row_count, single_row, rowset; not %q", what, t.SQL.Mode)
			}
		case "into":
			intoLine = v.Line
			t.SQL.Into = p.strList(v, what+" into")
			for _, name := range t.SQL.Into {
				p.target(v.Line, what+" into", name)
			}
		}
	})
	if t.SQL.Mode == "" {
		t.SQL.Mode = ModeNone
	}
	if len(t.SQL.Into) > 0 && t.SQL.Mode != ModeSingleRow {
		p.addf(intoLine, "%s into needs mode: single_row", what)
	}
}

func (p *parser) decodeFile(t *Task, _, n *yaml.Node) {
	what := kindWhat(t, KindFile)
	f := &FileTask{}
	t.File = f
	if !p.body(n, what, "an op") {
		return
	}
	p.fields(n, what, []string{"op", "from", "to", "path", "overwrite"}, func(k, v *yaml.Node) {
		switch k.Value {
		case "op":
			f.Op = p.str(v, what+" op")
		case "from":
			f.From = p.tplStr(v, what+" from")
		case "to":
			f.To = p.tplStr(v, what+" to")
		case "path":
			f.Path = p.tplStr(v, what+" path")
		case "overwrite":
			f.Overwrite = p.boolean(v, what+" overwrite")
		}
	})
	switch f.Op {
	case OpCopy, OpMove, OpRename:
		if f.From == "" || f.To == "" || f.Path != "" {
			p.addf(n.Line, "%s %s needs from and to (and no path)", what, f.Op)
		}
	case OpDelete, OpMkdir:
		if f.Path == "" || f.From != "" || f.To != "" {
			p.addf(n.Line, "%s %s needs path (and no from or to)", what, f.Op)
		}
	default:
		p.addf(n.Line, "%s op must be one of copy, move, rename, delete, mkdir; not %q", what, f.Op)
	}
}

func (p *parser) decodeHTTP(t *Task, _, n *yaml.Node) {
	what := kindWhat(t, KindHTTP)
	h := &HTTPTask{Method: "GET"}
	t.HTTP = h
	if !p.body(n, what, "a url") {
		return
	}
	p.fields(n, what, []string{"method", "url", "headers", "body", "expect_status", "timeout", "output_file", "output_var"}, func(k, v *yaml.Node) {
		switch k.Value {
		case "method":
			h.Method = strings.ToUpper(p.str(v, what+" method"))
			if h.Method == "" || strings.ContainsAny(h.Method, " \t\r\n") {
				p.addf(v.Line, "%s method %q is not an HTTP method", what, h.Method)
			}
		case "url":
			h.URL = p.tplStr(v, what+" url")
		case "headers":
			h.Headers = p.strMap(v, what+" headers", true)
		case "body":
			h.Body = p.tplStr(v, what+" body")
		case "expect_status":
			h.ExpectStatus = p.intList(v, what+" expect_status")
		case "timeout":
			h.Timeout = p.duration(v, what+" timeout")
		case "output_file":
			h.OutputFile = p.tplStr(v, what+" output_file")
		case "output_var":
			h.OutputVar = p.targetStr(v, what+" output_var")
		}
	})
	if h.URL == "" {
		p.addf(n.Line, "%s has no url", what)
	}
}

func (p *parser) decodePackage(t *Task, _, n *yaml.Node) {
	what := kindWhat(t, KindPackage)
	pt := &PackageTask{}
	t.Package = pt
	if !p.body(n, what, "a name") {
		return
	}
	p.fields(n, what, []string{"name", "params"}, func(k, v *yaml.Node) {
		switch k.Value {
		case "name":
			pt.Name = p.str(v, what+" name")
			if err := ValidateName(pt.Name); err != nil || strings.ContainsAny(pt.Name, `/\`) || strings.HasPrefix(pt.Name, ".") {
				p.addf(v.Line, "%s name %q must name a file packages/NAME.yaml of the project (no slashes, no leading dot)", what, pt.Name)
			}
		case "params":
			pt.Params = p.strMap(v, what+" params", true)
		}
	})
	if pt.Name == "" {
		p.addf(n.Line, "%s has no name", what)
	}
}

func (p *parser) decodeSet(t *Task, _, n *yaml.Node) {
	what := kindWhat(t, KindSet)
	t.Set = &SetTask{Assign: p.assignments(n, what, false)}
	if len(t.Set.Assign) == 0 && n.Kind == yaml.MappingNode {
		p.addf(n.Line, "%s assigns nothing", what)
	}
}

// assignments decodes a mapping from variable name to expression. With
// declare, names not visible yet are declared in the current scope.
func (p *parser) assignments(n *yaml.Node, what string, declare bool) []Assignment {
	if !p.body(n, what, "variable: expression entries") {
		return nil
	}
	var out []Assignment
	for k, v := range pairs(n) {
		name := p.str(k, what+" variable name")
		src := p.str(v, fmt.Sprintf("%s %s", what, name))
		if v.Kind == yaml.ScalarNode && v.Tag != "!!str" && src != "" {
			src = v.Value // numbers and bools are expressions too
		}
		if declare && p.scope.lookup(name) == "" && ValidateParamName(name) == nil {
			p.scope.vars[name] = TypeObject
		}
		p.target(k.Line, what, name)
		p.expr(v.Line, fmt.Sprintf("%s %s", what, name), src)
		out = append(out, Assignment{Var: name, Expr: src, Line: k.Line})
	}
	return out
}
