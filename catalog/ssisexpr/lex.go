package ssisexpr

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Sentinel errors: every [*Error] unwraps to one of them.
var (
	// ErrSyntax is an expression that does not parse.
	ErrSyntax = errors.New("syntax error")
	// ErrType is an expression that parses but is not well typed (unknown
	// name, incompatible operands, wrong arguments).
	ErrType = errors.New("type error")
	// ErrEval is an error while evaluating: divide by zero, overflow, a
	// value that does not convert, an invalid argument.
	ErrEval = errors.New("evaluation error")
)

// MaxSource is the longest expression Parse accepts, in bytes.
const MaxSource = 1 << 20

// maxDepth bounds the nesting of the parser (parentheses, operators).
const maxDepth = 200

// Error is an expression error. Pos is the 1-based character position in
// the source (0 when the error is not tied to a place), Msg says what is
// wrong, and Kind is ErrSyntax, ErrType or ErrEval.
type Error struct {
	Kind error
	Pos  int
	Msg  string
}

// Error formats the error as "at character N: MSG".
func (e *Error) Error() string {
	if e.Pos > 0 {
		return fmt.Sprintf("at character %d: %s", e.Pos, e.Msg)
	}
	return e.Msg
}

// Unwrap returns ErrSyntax, ErrType or ErrEval.
func (e *Error) Unwrap() error { return e.Kind }

type tokKind uint8

const (
	tEOF  tokKind = iota
	tInt          // integer literal: val holds the Value
	tReal         // non-integral literal
	tString
	tIdent    // regular or [qualified] identifier, possibly dotted: text
	tVar      // @Name or @[NS::Name]: text is what follows @, unbracketed
	tOp       // operator or punctuation: text
	tBracketT // a bracketed identifier (for dotted columns)
)

type token struct {
	kind tokKind
	text string
	val  Value
	pos  int // byte offset
}

type lexer struct {
	src string
	off int
}

func (l *lexer) errAt(off int, format string, args ...any) error {
	return &Error{Kind: ErrSyntax, Pos: charPos(l.src, off), Msg: fmt.Sprintf(format, args...)}
}

// charPos converts a byte offset into a 1-based character position.
func charPos(src string, off int) int {
	if off > len(src) {
		off = len(src)
	}
	return utf8.RuneCountInString(src[:off]) + 1
}

func isIdentStart(r rune) bool { return r == '_' || unicode.IsLetter(r) }
func isIdentPart(r rune) bool {
	return isIdentStart(r) || unicode.IsDigit(r) || r == '@' || r == '$' || r == '#'
}

var ops3 = []string{"&&", "||", "==", "!=", "<=", ">="}

func (l *lexer) next() (token, error) {
	for l.off < len(l.src) {
		r, n := utf8.DecodeRuneInString(l.src[l.off:])
		if !unicode.IsSpace(r) {
			break
		}
		l.off += n
	}
	start := l.off
	if l.off >= len(l.src) {
		return token{kind: tEOF, pos: start}, nil
	}
	c := l.src[l.off]
	r, n := utf8.DecodeRuneInString(l.src[l.off:])
	switch {
	case c >= '0' && c <= '9' || c == '.' && l.off+1 < len(l.src) && l.src[l.off+1] >= '0' && l.src[l.off+1] <= '9':
		return l.number()
	case c == '"':
		return l.str()
	case c == '@':
		l.off++
		if l.off < len(l.src) && l.src[l.off] == '[' {
			name, err := l.bracket()
			if err != nil {
				return token{}, err
			}
			return token{kind: tVar, text: name, pos: start}, nil
		}
		name := l.ident()
		if name == "" {
			return token{}, l.errAt(start, "@ must be followed by a variable name, as in @Count or @[User::Count]")
		}
		if strings.HasPrefix(l.src[l.off:], "::") {
			return token{}, l.errAt(start, "a namespace-qualified variable must be in brackets: write @[%s::...]", name)
		}
		return token{kind: tVar, text: name, pos: start}, nil
	case c == '[':
		name, err := l.bracket()
		if err != nil {
			return token{}, err
		}
		return token{kind: tBracketT, text: name, pos: start}, nil
	case c == '#':
		return token{}, l.errAt(start, "lineage identifiers (#123) are not supported: name the column")
	case c == '\'':
		return token{}, l.errAt(start, "string literals use double quotes (\"...\"), not single quotes")
	case isIdentStart(r):
		return token{kind: tIdent, text: l.ident(), pos: start}, nil
	}
	_ = n
	for _, op := range ops3 {
		if strings.HasPrefix(l.src[l.off:], op) {
			l.off += 2
			return token{kind: tOp, text: op, pos: start}, nil
		}
	}
	if strings.ContainsRune("+-*/%()!~&|^<>?:,.", rune(c)) {
		l.off++
		return token{kind: tOp, text: string(c), pos: start}, nil
	}
	if c == '=' {
		return token{}, l.errAt(start, `"=" is not an operator: write "==" to compare`)
	}
	return token{}, l.errAt(start, "unexpected character %q", r)
}

func (l *lexer) ident() string {
	start := l.off
	for l.off < len(l.src) {
		r, n := utf8.DecodeRuneInString(l.src[l.off:])
		if l.off == start && !isIdentStart(r) || l.off > start && !isIdentPart(r) {
			break
		}
		l.off += n
	}
	return l.src[start:l.off]
}

// bracket reads "[name]" and returns name.
func (l *lexer) bracket() (string, error) {
	start := l.off
	end := strings.IndexByte(l.src[start+1:], ']')
	if end < 0 {
		return "", l.errAt(start, `"[" without a closing "]"`)
	}
	name := l.src[start+1 : start+1+end]
	if name == "" || strings.ContainsRune(name, '[') {
		return "", l.errAt(start, "invalid bracketed name [%s]", name)
	}
	l.off = start + end + 2
	return name, nil
}

func (l *lexer) str() (token, error) {
	start := l.off
	l.off++
	var b strings.Builder
	for {
		if l.off >= len(l.src) {
			return token{}, l.errAt(start, "string literal without a closing quote")
		}
		c := l.src[l.off]
		if c == '"' {
			l.off++
			return token{kind: tString, val: strValue(b.String()), pos: start}, nil
		}
		if c != '\\' {
			r, n := utf8.DecodeRuneInString(l.src[l.off:])
			b.WriteRune(r)
			l.off += n
			continue
		}
		if l.off+1 >= len(l.src) {
			return token{}, l.errAt(l.off, "string literal ends in a backslash")
		}
		esc := l.src[l.off+1]
		l.off += 2
		switch esc {
		case 'a':
			b.WriteByte('\a')
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'v':
			b.WriteByte('\v')
		case '"':
			b.WriteByte('"')
		case '\\':
			b.WriteByte('\\')
		case 'x', 'X':
			if l.off+4 > len(l.src) {
				return token{}, l.errAt(l.off-2, `\x needs four hexadecimal digits`)
			}
			v, err := strconv.ParseUint(l.src[l.off:l.off+4], 16, 16)
			if err != nil {
				return token{}, l.errAt(l.off-2, `\x needs four hexadecimal digits, not %q`, l.src[l.off:l.off+4])
			}
			if v == 0 {
				return token{}, l.errAt(l.off-2, `\x0000 is not allowed in a string (it ends strings)`)
			}
			b.WriteRune(rune(v))
			l.off += 4
		default:
			return token{}, l.errAt(l.off-2, `unknown escape sequence "\%c" (known: \a \b \f \n \r \t \v \" \\ \xhhhh)`, esc)
		}
	}
}

func (l *lexer) number() (token, error) {
	start := l.off
	s := l.src
	digits := func() {
		for l.off < len(s) && s[l.off] >= '0' && s[l.off] <= '9' {
			l.off++
		}
	}
	if strings.HasPrefix(s[l.off:], "0x") || strings.HasPrefix(s[l.off:], "0X") {
		l.off += 2
		h := l.off
		for l.off < len(s) && strings.IndexByte("0123456789abcdefABCDEF", s[l.off]) >= 0 {
			l.off++
		}
		hex := s[h:l.off]
		suffix := l.suffix()
		if hex == "" {
			return token{}, l.errAt(start, "hexadecimal literal without digits")
		}
		u, err := strconv.ParseUint(hex, 16, 64)
		if err != nil {
			return token{}, l.errAt(start, "hexadecimal literal %s does not fit in 64 bits", s[start:l.off])
		}
		return l.intLit(start, u, suffix)
	}
	digits()
	intPart := l.off
	real := false
	if l.off < len(s) && s[l.off] == '.' {
		real = true
		l.off++
		digits()
	}
	exp := false
	if l.off < len(s) && (s[l.off] == 'e' || s[l.off] == 'E') {
		save := l.off
		l.off++
		if l.off < len(s) && (s[l.off] == '+' || s[l.off] == '-') {
			l.off++
		}
		d := l.off
		digits()
		if l.off == d {
			l.off = save // not an exponent: leave it to the suffix check
		} else {
			exp, real = true, true
		}
	}
	text := s[start:l.off]
	suffix := l.suffix()
	if !real {
		u, err := strconv.ParseUint(s[start:intPart], 10, 64)
		if err != nil {
			return token{}, l.errAt(start, "integer literal %s does not fit in 64 bits", text)
		}
		return l.intLit(start, u, suffix)
	}
	switch strings.ToLower(suffix) {
	case "":
		if !exp {
			v, err := numericLiteral(text)
			if err != nil {
				return token{}, l.errAt(start, "%v", err)
			}
			return token{kind: tReal, val: v, pos: start}, nil
		}
		fallthrough
	case "l":
		f, err := strconv.ParseFloat(text, 64)
		if err != nil {
			return token{}, l.errAt(start, "real literal %s is out of range", text)
		}
		return token{kind: tReal, val: Value{T: R8, v: f}, pos: start}, nil
	case "f":
		f, err := strconv.ParseFloat(text, 32)
		if err != nil {
			return token{}, l.errAt(start, "real literal %s is out of the DT_R4 range", text)
		}
		return token{kind: tReal, val: Value{T: Type{Kind: KindR4}, v: f}, pos: start}, nil
	}
	return token{}, l.errAt(start, "invalid suffix %q on real literal %s (want F or L)", suffix, text)
}

// suffix reads the letters after a number; any letter or digit glued to a
// number is part of its suffix (and an error unless a known one).
func (l *lexer) suffix() string {
	start := l.off
	for l.off < len(l.src) {
		r, n := utf8.DecodeRuneInString(l.src[l.off:])
		if !isIdentPart(r) {
			break
		}
		l.off += n
	}
	return l.src[start:l.off]
}

// intLit types an integral literal by its suffix: none DT_I4, U DT_UI4,
// L DT_I8, UL DT_UI8.
func (l *lexer) intLit(start int, u uint64, suffix string) (token, error) {
	text := l.src[start:l.off]
	switch strings.ToLower(suffix) {
	case "":
		if u > 1<<31-1 {
			return token{}, l.errAt(start, "integer literal %s overflows DT_I4: write %sL for DT_I8", text, text)
		}
		return token{kind: tInt, val: Value{T: I4, v: int64(u)}, pos: start}, nil
	case "u":
		if u > 1<<32-1 {
			return token{}, l.errAt(start, "integer literal %s overflows DT_UI4: write %sUL for DT_UI8", text, strings.TrimRight(text, "uU"))
		}
		return token{kind: tInt, val: Value{T: Type{Kind: KindUI4}, v: u}, pos: start}, nil
	case "l":
		if u > 1<<63-1 {
			return token{}, l.errAt(start, "integer literal %s overflows DT_I8", text)
		}
		return token{kind: tInt, val: Value{T: I8, v: int64(u)}, pos: start}, nil
	case "ul", "lu":
		return token{kind: tInt, val: Value{T: Type{Kind: KindUI8}, v: u}, pos: start}, nil
	}
	return token{}, l.errAt(start, "invalid suffix %q on integer literal (want U, L or UL)", suffix)
}
