package ssisexpr

import (
	"fmt"
	"strings"
)

// Ref is a name an expression reads: a variable or parameter
// (@[Namespace::Name], @Name) or a data flow column (Name, [Name],
// Source.Name).
type Ref struct {
	// Namespace is "User", "System", "$Package", "$Project" (or any custom
	// namespace) for a variable written with one, "" otherwise.
	Namespace string
	// Name is the variable, parameter or column name, as written.
	Name string
	// Column is true for a column (no @).
	Column bool
}

// String writes the reference as an expression would: @[User::X], @X,
// [Col].
func (r Ref) String() string {
	switch {
	case r.Column:
		return "[" + r.Name + "]"
	case r.Namespace != "":
		return "@[" + r.Namespace + "::" + r.Name + "]"
	}
	return "@[" + r.Name + "]"
}

// Expr is a parsed expression, not yet type-checked.
type Expr struct {
	src  string
	root node
	refs []Ref
}

// Source returns the expression's text.
func (e *Expr) Source() string { return e.src }

// Refs lists the names the expression reads, each once, in order of first
// use.
func (e *Expr) Refs() []Ref { return e.refs }

type node interface{ at() int }

type (
	litNode struct {
		p int
		v Value
	}
	refNode struct {
		p   int
		ref Ref
	}
	unaryNode struct {
		p  int
		op string
		x  node
	}
	binaryNode struct {
		p    int
		op   string
		l, r node
	}
	condNode struct {
		p       int
		c, a, b node
	}
	castNode struct {
		p int
		t Type
		x node
	}
	callNode struct {
		p    int
		name string
		args []node
	}
	nullNode struct {
		p int
		t Type
	}
)

func (n *litNode) at() int    { return n.p }
func (n *refNode) at() int    { return n.p }
func (n *unaryNode) at() int  { return n.p }
func (n *binaryNode) at() int { return n.p }
func (n *condNode) at() int   { return n.p }
func (n *castNode) at() int   { return n.p }
func (n *callNode) at() int   { return n.p }
func (n *nullNode) at() int   { return n.p }

// Parse parses an SSIS expression. Errors are [*Error] wrapping ErrSyntax,
// with the character position.
func Parse(src string) (*Expr, error) {
	if len(src) > MaxSource {
		return nil, &Error{Kind: ErrSyntax, Msg: fmt.Sprintf("expression is %d bytes, over the limit of %d", len(src), MaxSource)}
	}
	if strings.TrimSpace(src) == "" {
		return nil, &Error{Kind: ErrSyntax, Pos: 1, Msg: "empty expression"}
	}
	l := &lexer{src: src}
	var toks []token
	for {
		t, err := l.next()
		if err != nil {
			return nil, err
		}
		toks = append(toks, t)
		if t.kind == tEOF {
			break
		}
	}
	p := &parser{src: src, toks: toks}
	root, err := p.cond()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, p.errAt(t.pos, "unexpected %s after the end of the expression", describe(t))
	}
	return &Expr{src: src, root: root, refs: p.refs}, nil
}

type parser struct {
	src   string
	toks  []token
	i     int
	depth int
	refs  []Ref
	seen  map[Ref]bool
}

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) advance() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

func (p *parser) isOp(s string) bool { t := p.peek(); return t.kind == tOp && t.text == s }

func (p *parser) errAt(off int, format string, args ...any) error {
	return &Error{Kind: ErrSyntax, Pos: charPos(p.src, off), Msg: fmt.Sprintf(format, args...)}
}

func describe(t token) string {
	switch t.kind {
	case tEOF:
		return "end of expression"
	case tString:
		return "string literal"
	case tInt, tReal:
		return "number"
	case tVar:
		return "variable @" + t.text
	case tIdent, tBracketT:
		return fmt.Sprintf("name %q", t.text)
	}
	return fmt.Sprintf("%q", t.text)
}

func (p *parser) expect(op string) error {
	if !p.isOp(op) {
		t := p.peek()
		return p.errAt(t.pos, "expected %q, found %s", op, describe(t))
	}
	p.advance()
	return nil
}

func (p *parser) enter() error {
	p.depth++
	if p.depth > maxDepth {
		return p.errAt(p.peek().pos, "expression nested deeper than %d levels", maxDepth)
	}
	return nil
}

// cond parses "c ? a : b" (right-associative), the lowest precedence.
func (p *parser) cond() (node, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	c, err := p.binary(0)
	if err != nil {
		return nil, err
	}
	if !p.isOp("?") {
		return c, nil
	}
	q := p.advance()
	a, err := p.cond()
	if err != nil {
		return nil, err
	}
	if err := p.expect(":"); err != nil {
		return nil, err
	}
	b, err := p.cond()
	if err != nil {
		return nil, err
	}
	return &condNode{p: q.pos, c: c, a: a, b: b}, nil
}

// levels lists the binary operators from the lowest precedence up; all
// are left-associative.
var levels = [][]string{
	{"||"}, {"&&"}, {"|"}, {"^"}, {"&"}, {"==", "!="}, {"<", ">", "<=", ">="}, {"+", "-"}, {"*", "/", "%"},
}

func (p *parser) binary(level int) (node, error) {
	if level == len(levels) {
		return p.unary()
	}
	l, err := p.binary(level + 1)
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		if t.kind != tOp || !contains(levels[level], t.text) {
			return l, nil
		}
		p.advance()
		r, err := p.binary(level + 1)
		if err != nil {
			return nil, err
		}
		l = &binaryNode{p: t.pos, op: t.text, l: l, r: r}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// unary parses the prefix operators - ! ~ and casts (right-associative).
func (p *parser) unary() (node, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	t := p.peek()
	if t.kind == tOp && (t.text == "-" || t.text == "!" || t.text == "~") {
		p.advance()
		x, err := p.unary()
		if err != nil {
			return nil, err
		}
		return &unaryNode{p: t.pos, op: t.text, x: x}, nil
	}
	if p.isCast() {
		p.advance() // (
		ty, err := p.typeSpec()
		if err != nil {
			return nil, err
		}
		x, err := p.unary()
		if err != nil {
			return nil, err
		}
		return &castNode{p: t.pos, t: ty, x: x}, nil
	}
	return p.primary()
}

// isCast reports "(" DT_name followed by "," or ")".
func (p *parser) isCast() bool {
	if !p.isOp("(") || p.i+2 >= len(p.toks) {
		return false
	}
	n, after := p.toks[p.i+1], p.toks[p.i+2]
	if n.kind != tIdent {
		return false
	}
	_, ok := kindByName[strings.ToUpper(n.text)]
	return ok && after.kind == tOp && (after.text == "," || after.text == ")")
}

// typeSpec reads `DT_name [, n [, n]] )` (the "(" is already read).
func (p *parser) typeSpec() (Type, error) {
	n := p.advance()
	if n.kind != tIdent {
		return Type{}, p.errAt(n.pos, "expected a data type such as DT_I4, found %s", describe(n))
	}
	var args []int
	for p.isOp(",") {
		p.advance()
		a := p.advance()
		if a.kind != tInt {
			return Type{}, p.errAt(a.pos, "data type %s: expected an integer parameter, found %s", strings.ToUpper(n.text), describe(a))
		}
		x, _ := a.val.v.(int64)
		if u, ok := a.val.v.(uint64); ok {
			x = int64(min(u, 1<<31))
		}
		args = append(args, int(min(x, 1<<31)))
	}
	if err := p.expect(")"); err != nil {
		return Type{}, err
	}
	ty, err := makeType(n.text, args)
	if err != nil {
		return Type{}, p.errAt(n.pos, "%v", err)
	}
	return ty, nil
}

func (p *parser) primary() (node, error) {
	t := p.advance()
	switch t.kind {
	case tInt, tReal, tString:
		return &litNode{p: t.pos, v: t.val}, nil
	case tVar:
		ns, name, found := strings.Cut(t.text, "::")
		if !found {
			ns, name = "", t.text
		}
		if name == "" || found && ns == "" || strings.Contains(name, "::") {
			return nil, p.errAt(t.pos, "invalid variable name @[%s] (want @[Namespace::Name] or @Name)", t.text)
		}
		return p.ref(t.pos, Ref{Namespace: ns, Name: name}), nil
	case tBracketT:
		return p.column(t)
	case tIdent:
		up := strings.ToUpper(t.text)
		if p.isOp("(") {
			return p.call(t)
		}
		switch up {
		case "TRUE", "FALSE":
			return &litNode{p: t.pos, v: NewBool(up == "TRUE")}, nil
		case "NULL":
			return nil, p.errAt(t.pos, "NULL needs a data type: write NULL(DT_WSTR, 10), NULL(DT_I4), ...")
		}
		return p.column(t)
	case tOp:
		if t.text == "(" {
			x, err := p.cond()
			if err != nil {
				return nil, err
			}
			if err := p.expect(")"); err != nil {
				return nil, err
			}
			return x, nil
		}
	}
	return nil, p.errAt(t.pos, "unexpected %s", describe(t))
}

// column reads Name, [Name] or Source.Name (dotted notation: one name).
func (p *parser) column(t token) (node, error) {
	name := t.text
	for p.isOp(".") {
		p.advance()
		n := p.advance()
		if n.kind != tIdent && n.kind != tBracketT {
			return nil, p.errAt(n.pos, "expected a column name after %q., found %s", name, describe(n))
		}
		name += "." + n.text
	}
	return p.ref(t.pos, Ref{Name: name, Column: true}), nil
}

func (p *parser) ref(pos int, r Ref) node {
	if !p.seen[r] {
		if p.seen == nil {
			p.seen = map[Ref]bool{}
		}
		p.seen[r] = true
		p.refs = append(p.refs, r)
	}
	return &refNode{p: pos, ref: r}
}

func (p *parser) call(name token) (node, error) {
	p.advance() // (
	up := strings.ToUpper(name.text)
	if up == "NULL" {
		ty, err := p.typeSpec()
		if err != nil {
			return nil, err
		}
		return &nullNode{p: name.pos, t: ty}, nil
	}
	var args []node
	if !p.isOp(")") {
		for {
			a, err := p.cond()
			if err != nil {
				return nil, err
			}
			args = append(args, a)
			if !p.isOp(",") {
				break
			}
			p.advance()
		}
	}
	if err := p.expect(")"); err != nil {
		return nil, err
	}
	return &callNode{p: name.pos, name: up, args: args}, nil
}
