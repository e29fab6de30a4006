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

// field is one key of a mapping and the decoder of its value, which is
// named what+" "+key in messages.
type field struct {
	key    string
	decode func(v *yaml.Node, what string)
}

// set returns a field decoder that stores what dec reads into dst.
func set[T any](dst *T, dec func(*yaml.Node, string) T) func(*yaml.Node, string) {
	return func(v *yaml.Node, what string) { *dst = dec(v, what) }
}

// decodeFields decodes the mapping n by the table fs: unknown and
// duplicate keys are reported (see fields), each known one is decoded by
// its field.
func (p *parser) decodeFields(n *yaml.Node, what string, fs []field) {
	known := make([]string, len(fs))
	for i, f := range fs {
		known[i] = f.key
	}
	p.fields(n, what, known, func(k, v *yaml.Node) {
		if i := slices.Index(known, k.Value); i >= 0 { // always: fields passes known keys only
			fs[i].decode(v, what+" "+k.Value)
		}
	})
}

// decodeBody checks that n is a mapping (see body) and decodes it by fs
// (see decodeFields); it reports whether n was a mapping.
func (p *parser) decodeBody(n *yaml.Node, what, holds string, fs []field) bool {
	if !p.body(n, what, holds) {
		return false
	}
	p.decodeFields(n, what, fs)
	return true
}

// need reports the required field key of the body n as missing when its
// value val is empty.
func (p *parser) need(n *yaml.Node, what, key, val string) {
	if val == "" {
		p.addf(n.Line, "%s has no %s", what, key)
	}
}

// tplMap is strMap for a mapping whose values are templates.
func (p *parser) tplMap(n *yaml.Node, what string) map[string]string { return p.strMap(n, what, true) }

func (p *parser) decodeExec(t *Task, key, n *yaml.Node) {
	what := kindWhat(t, KindExec)
	e := &ExecTask{}
	t.Exec = e
	var cmdNode *yaml.Node
	if p.decodeBody(n, what, "a command", []field{
		{"command", func(v *yaml.Node, _ string) { cmdNode, e.Command = v, p.command(v, what) }},
		{"arguments", set(&e.Arguments, p.tplStr)},
		{"env", set(&e.Env, p.tplMap)},
		{"dir", set(&e.Dir, p.tplStr)},
		{"success_codes", set(&e.SuccessCodes, p.intList)},
		{"capture", set(&e.Capture, p.targetStr)},
		{"stdin", set(&e.Stdin, p.tplStr)},
	}) {
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
func (p *parser) sqlFields(s *SQLTask, n *yaml.Node, what string, extra ...field) *SQLTask {
	if !p.body(n, what, "a connection and a statement or file") {
		return s
	}
	var connNode *yaml.Node
	p.decodeFields(n, what, append([]field{
		{"connection", func(v *yaml.Node, w string) { connNode, s.Connection = v, p.str(v, w) }},
		{"statement", set(&s.Statement, p.str)},
		{"file", set(&s.File, p.tplStr)},
		{"statement_expression", set(&s.StatementExpression, p.exprStr)},
		{"params", set(&s.Params, p.tplList)},
	}, extra...))
	if connNode == nil {
		p.addf(n.Line, "%s has no connection", what)
	} else {
		s.Line = connNode.Line
	}
	if k := btoi(s.Statement != "") + btoi(s.File != "") + btoi(s.StatementExpression != ""); k != 1 {
		p.addf(n.Line, "%s needs exactly one of statement, file and statement_expression", what)
	}
	return s
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (p *parser) decodeSQL(t *Task, _, n *yaml.Node) {
	what := kindWhat(t, KindSQL)
	var intoLine int
	t.SQL = &SQLTask{}
	p.sqlFields(t.SQL, n, what, field{"mode", func(v *yaml.Node, w string) {
		t.SQL.Mode = p.str(v, w)
		if !slices.Contains([]string{ModeNone, ModeRowCount, ModeSingleRow, ModeRowset}, t.SQL.Mode) {
			p.addf(v.Line, "%s mode must be one of none, row_count, single_row, rowset; not %q", what, t.SQL.Mode)
		}
	}}, field{"into", func(v *yaml.Node, w string) {
		intoLine = v.Line
		t.SQL.Into = p.strList(v, w)
		for _, name := range t.SQL.Into {
			p.target(v.Line, w, name)
		}
	}})
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
	if p.decodeBody(n, what, "an op", []field{
		{"op", set(&f.Op, p.str)},
		{"from", set(&f.From, p.tplStr)},
		{"to", set(&f.To, p.tplStr)},
		{"path", set(&f.Path, p.tplStr)},
		{"overwrite", set(&f.Overwrite, p.boolean)},
	}) {
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
}

func (p *parser) decodeHTTP(t *Task, _, n *yaml.Node) {
	what := kindWhat(t, KindHTTP)
	h := &HTTPTask{Method: "GET"}
	t.HTTP = h
	if p.decodeBody(n, what, "a url", []field{
		{"method", func(v *yaml.Node, w string) {
			h.Method = strings.ToUpper(p.str(v, w))
			if h.Method == "" || strings.ContainsAny(h.Method, " \t\r\n") {
				p.addf(v.Line, "%s method %q is not an HTTP method", what, h.Method)
			}
		}},
		{"url", set(&h.URL, p.tplStr)},
		{"headers", set(&h.Headers, p.tplMap)},
		{"body", set(&h.Body, p.tplStr)},
		{"expect_status", set(&h.ExpectStatus, p.intList)},
		{"timeout", set(&h.Timeout, p.duration)},
		{"output_file", set(&h.OutputFile, p.tplStr)},
		{"output_var", set(&h.OutputVar, p.targetStr)},
	}) {
		p.need(n, what, "url", h.URL)
	}
}

// maxMailAttachments bounds a mail task's attachments.
const maxMailAttachments = 32

func (p *parser) decodeMail(t *Task, _, n *yaml.Node) {
	what := kindWhat(t, KindMail)
	m := &MailTask{Priority: PriorityNormal}
	t.Mail = m
	var connNode *yaml.Node
	if p.decodeBody(n, what, "a connection, from and to", []field{
		{"connection", func(v *yaml.Node, w string) { connNode, m.Connection = v, p.str(v, w) }},
		{"from", set(&m.From, p.tplStr)},
		{"to", set(&m.To, p.tplStr)},
		{"cc", set(&m.CC, p.tplStr)},
		{"bcc", set(&m.BCC, p.tplStr)},
		{"subject", set(&m.Subject, p.tplStr)},
		{"body", set(&m.Body, p.tplStr)},
		{"body_file", set(&m.BodyFile, p.tplStr)},
		{"priority", func(v *yaml.Node, w string) {
			m.Priority, _ = p.oneOf(v, w, what, "priority", []string{PriorityLow, PriorityNormal, PriorityHigh})
		}},
		{"attachments", func(v *yaml.Node, w string) {
			m.Attachments = p.tplList(v, w)
			if len(m.Attachments) > maxMailAttachments {
				p.addf(v.Line, "%s has %d attachments; at most %d", what, len(m.Attachments), maxMailAttachments)
			}
		}},
		{"timeout", set(&m.Timeout, p.duration)},
	}) {
		if connNode == nil {
			p.addf(n.Line, "%s has no connection", what)
		} else {
			m.Line = connNode.Line
		}
		p.need(n, what, "from", m.From)
		if m.To == "" && m.CC == "" && m.BCC == "" {
			p.addf(n.Line, "%s has no recipient (to, cc or bcc)", what)
		}
		if m.Body != "" && m.BodyFile != "" {
			p.addf(n.Line, "%s has both body and body_file", what)
		}
	}
}

func (p *parser) decodePackage(t *Task, _, n *yaml.Node) {
	what := kindWhat(t, KindPackage)
	pt := &PackageTask{}
	t.Package = pt
	if p.decodeBody(n, what, "a name", []field{
		{"name", func(v *yaml.Node, w string) {
			pt.Name = p.str(v, w)
			if err := ValidateName(pt.Name); err != nil || strings.ContainsAny(pt.Name, `/\`) || strings.HasPrefix(pt.Name, ".") {
				p.addf(v.Line, "%s name %q must name a file packages/NAME.yaml of the project (no slashes, no leading dot)", what, pt.Name)
			}
		}},
		{"params", set(&pt.Params, p.tplMap)},
	}) {
		p.need(n, what, "name", pt.Name)
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
