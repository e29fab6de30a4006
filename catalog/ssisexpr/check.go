package ssisexpr

import (
	"fmt"
	"time"
)

// Types gives the declared type of each name an expression may read. It
// returns an error for an unknown name (the error's text is shown to the
// user).
type Types interface {
	TypeOf(r Ref) (Type, error)
}

// Env supplies values while an expression runs: Lookup returns the value
// of a name (of the type Types gave, or convertible to it) and Now the
// current time for GETDATE and GETUTCDATE.
type Env interface {
	Lookup(r Ref) (Value, error)
	Now() time.Time
}

// Program is a type-checked expression, ready to run. It is immutable and
// safe for concurrent use.
type Program struct {
	src  string
	t    Type
	fn   evalFn
	refs []Ref
}

type evalFn func(Env) (Value, error)

// Source returns the expression's text.
func (p *Program) Source() string { return p.src }

// Type returns the type of the expression's result.
func (p *Program) Type() Type { return p.t }

// Refs lists the names the expression reads.
func (p *Program) Refs() []Ref { return p.refs }

// Eval runs the expression. Errors are [*Error] wrapping ErrEval (or
// the error Env.Lookup returned, wrapped).
func (p *Program) Eval(env Env) (v Value, err error) {
	return p.fn(&meteredEnv{Env: env, left: MaxEvalBytes})
}

// MaxEvalBytes bounds the strings and byte arrays one evaluation may
// produce in all (each at most MaxString): an expression has no loops, but
// a long one can repeat REPLICATE of MaxString many thousand times.
const MaxEvalBytes = 64 << 20

// meteredEnv carries what is left of one evaluation's MaxEvalBytes.
type meteredEnv struct {
	Env
	left int
}

// node compiles n (nodeOf) and meters what it produces when that is a
// string or byte array.
func (c *checker) node(n node, root, cast bool) (Type, evalFn, error) {
	t, fn, err := c.nodeOf(n, root, cast)
	if err != nil || fn == nil {
		return t, fn, err
	}
	switch t.Kind {
	case KindStr, KindWStr, KindText, KindNText, KindBytes, KindImage:
	default:
		return t, fn, nil
	}
	return t, func(env Env) (Value, error) {
		v, err := fn(env)
		if err != nil {
			return v, err
		}
		if m, ok := env.(*meteredEnv); ok {
			switch x := v.v.(type) {
			case string:
				m.left -= len(x)
			case []byte:
				m.left -= len(x)
			}
			if m.left < 0 {
				return Value{}, c.evalErr(n, fmt.Errorf("the expression builds more than %d bytes of strings in one evaluation (ssisexpr.MaxEvalBytes)", MaxEvalBytes))
			}
		}
		return v, nil
	}, nil
}

// Compile parses and type-checks src.
func Compile(src string, types Types) (*Program, error) {
	e, err := Parse(src)
	if err != nil {
		return nil, err
	}
	return e.Check(types)
}

// Check type-checks the expression against the declared types of the
// names it reads. Errors are [*Error] wrapping ErrType.
func (e *Expr) Check(types Types) (*Program, error) {
	c := &checker{src: e.src, types: types}
	t, fn, err := c.node(e.root, true, false)
	if err != nil {
		return nil, err
	}
	return &Program{src: e.src, t: t, fn: fn, refs: e.refs}, nil
}

type checker struct {
	src   string
	types Types
}

func (c *checker) errAt(n node, format string, args ...any) error {
	return &Error{Kind: ErrType, Pos: charPos(c.src, n.at()), Msg: fmt.Sprintf(format, args...)}
}

// evalErr wraps a run-time failure with the position of the node.
func (c *checker) evalErr(n node, err error) error {
	if _, ok := err.(*Error); ok {
		return err
	}
	return &Error{Kind: ErrEval, Pos: charPos(c.src, n.at()), Msg: err.Error()}
}

// node checks n and returns its type and evaluator. root is true for the
// whole expression (where DT_STR may stay DT_STR), cast for the operand of
// a cast (where NULL(DT_STR, ...) is allowed).
func (c *checker) nodeOf(n node, root, cast bool) (Type, evalFn, error) {
	switch n := n.(type) {
	case *litNode:
		v := n.v
		return v.T, func(Env) (Value, error) { return v, nil }, nil
	case *nullNode:
		t := n.t
		if t.Kind == KindStr && !root && !cast {
			return Type{}, nil, c.errAt(n, "NULL(DT_STR, ...) is only allowed at the root of an expression or under a cast; use NULL(DT_WSTR, ...) inside")
		}
		if !root {
			t = t.wide()
		}
		return t, func(Env) (Value, error) { return NullOf(t), nil }, nil
	case *refNode:
		return c.ref(n)
	case *castNode:
		xt, xf, err := c.node(n.x, false, true)
		if err != nil {
			return Type{}, nil, err
		}
		if err := castAllowed(xt, n.t); err != nil {
			return Type{}, nil, c.errAt(n, "%v", err)
		}
		t := n.t
		if !root {
			t = t.wide()
		}
		return t, func(env Env) (Value, error) {
			v, err := xf(env)
			if err != nil {
				return Value{}, err
			}
			r, err := convert(v, n.t)
			if err != nil {
				return Value{}, c.evalErr(n, err)
			}
			r.T = t
			return r, nil
		}, nil
	case *unaryNode:
		return c.unary(n)
	case *binaryNode:
		return c.binary(n)
	case *condNode:
		return c.cond(n)
	case *callNode:
		return c.call(n)
	}
	return Type{}, nil, c.errAt(n, "unknown expression node %T", n)
}

func (c *checker) ref(n *refNode) (Type, evalFn, error) {
	if c.types == nil {
		return Type{}, nil, c.errAt(n, "unknown name %s (no names are defined here)", n.ref)
	}
	t, err := c.types.TypeOf(n.ref)
	if err != nil {
		return Type{}, nil, c.errAt(n, "%v", err)
	}
	if t.Kind == KindInvalid || t.Kind == KindNull {
		return Type{}, nil, c.errAt(n, "%s has no SSIS data type", n.ref)
	}
	t = t.wide()
	r := n.ref
	return t, func(env Env) (Value, error) {
		v, err := env.Lookup(r)
		if err != nil {
			return Value{}, &Error{Kind: ErrEval, Pos: charPos(c.src, n.p), Msg: err.Error()}
		}
		if v.Null {
			return NullOf(t), nil
		}
		if v.T != t {
			if v.T.wide() == t {
				v.T = t
				return v, nil
			}
			cv, err := convert(v, t)
			if err != nil {
				return Value{}, c.evalErr(n, fmt.Errorf("%s: %w", r, err))
			}
			return cv, nil
		}
		return v, nil
	}, nil
}

// convertTo returns an evaluator that converts fn's result to t.
func (c *checker) convertTo(n node, fn evalFn, from, t Type) evalFn {
	if from == t {
		return fn
	}
	return func(env Env) (Value, error) {
		v, err := fn(env)
		if err != nil {
			return Value{}, err
		}
		if v.Null {
			return NullOf(t), nil
		}
		r, err := convert(v, t)
		if err != nil {
			return Value{}, c.evalErr(n, err)
		}
		return r, nil
	}
}

func (c *checker) cond(n *condNode) (Type, evalFn, error) {
	ct, cf, err := c.node(n.c, false, false)
	if err != nil {
		return Type{}, nil, err
	}
	if ct.Kind != KindBool {
		return Type{}, nil, c.errAt(n, "the condition of ? : is %s, not DT_BOOL", ct)
	}
	t, af, bf, err := c.either(n.a, n.b, func(at, bt Type, err error) error {
		return c.errAt(n, "the two results of ? : are %s and %s: %v", at, bt, err)
	})
	if err != nil {
		return Type{}, nil, err
	}
	return t, func(env Env) (Value, error) {
		cv, err := cf(env)
		if err != nil {
			return Value{}, err
		}
		if cv.Null {
			return NullOf(t), nil
		}
		if cv.v.(bool) {
			return af(env)
		}
		return bf(env)
	}, nil
}

// either checks two expressions of which one gives the result (the arms
// of ? :, the arguments of REPLACENULL) and converts both to their common
// type; when they have none, fail words the error.
func (c *checker) either(a, b node, fail func(at, bt Type, err error) error) (Type, evalFn, evalFn, error) {
	at, af, err := c.node(a, false, false)
	if err != nil {
		return Type{}, nil, nil, err
	}
	bt, bf, err := c.node(b, false, false)
	if err != nil {
		return Type{}, nil, nil, err
	}
	t, err := commonType(at, bt)
	if err != nil {
		return Type{}, nil, nil, fail(at, bt, err)
	}
	return t, c.convertTo(a, af, at, t), c.convertTo(b, bf, bt, t), nil
}

// commonType is the type two values are converted to so that they can
// be compared or chosen between (? :, REPLACENULL).
func commonType(a, b Type) (Type, error) {
	a, b = a.wide(), b.wide()
	switch {
	case a == b:
		return a, nil
	case a.Kind.IsNumeric() && b.Kind.IsNumeric():
		return numericResult(a, b)
	case a.Kind.IsString() && b.Kind.IsString():
		if a.Kind == KindNText || b.Kind == KindNText || a.Kind == KindText || b.Kind == KindText {
			return Type{Kind: KindNText}, nil
		}
		return Type{Kind: KindWStr, Length: max(a.Length, b.Length) * boolInt(a.Length > 0 && b.Length > 0)}, nil
	case a.Kind.IsDate() && b.Kind.IsDate():
		return dateCommon(a, b)
	case a.Kind == b.Kind:
		return Type{Kind: a.Kind}, nil
	}
	return Type{}, fmt.Errorf("the data types %s and %s are incompatible", a.Kind, b.Kind)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// dateCommon applies SSIS's date comparison rules: the same type stays;
// DT_DBTIMESTAMPOFFSET, then DT_DBTIMESTAMP2, then DT_DBTIME2 win; else
// both become DT_DBTIMESTAMP. A time never meets a date.
func dateCommon(a, b Type) (Type, error) {
	if a.Kind.isTimeOnly() != b.Kind.isTimeOnly() {
		return Type{}, fmt.Errorf("a time (%s) cannot be compared with a date (%s)", pick(a, b, true).Kind, pick(a, b, false).Kind)
	}
	if a.Kind == b.Kind {
		return Type{Kind: a.Kind, Scale: max(a.Scale, b.Scale)}, nil
	}
	for _, k := range []Kind{KindDBTimestampOffset, KindDBTimestamp2, KindDBTime2} {
		if a.Kind == k || b.Kind == k {
			return Type{Kind: k, Scale: max(a.Scale, b.Scale, 3)}, nil
		}
	}
	if a.Kind.isTimeOnly() {
		return Type{Kind: KindDBTime}, nil
	}
	return DBTimestamp, nil
}

func pick(a, b Type, timeOnly bool) Type {
	if a.Kind.isTimeOnly() == timeOnly {
		return a
	}
	return b
}
