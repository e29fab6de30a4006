package ssisexpr

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"strings"
	"time"
	"unicode/utf16"
)

// MaxString is the longest string (in bytes of UTF-8) an expression may
// build; longer results are an evaluation error rather than exhausting
// memory.
const MaxString = 16 << 20

var errDivZero = errors.New("divide by zero")

func (c *checker) unary(n *unaryNode) (Type, evalFn, error) {
	xt, xf, err := c.node(n.x, false, false)
	if err != nil {
		return Type{}, nil, err
	}
	switch n.op {
	case "!":
		if xt.Kind != KindBool {
			return Type{}, nil, c.errAt(n, "the operand of ! is %s, not DT_BOOL", xt)
		}
	case "~":
		if !xt.Kind.IsInteger() {
			return Type{}, nil, c.errAt(n, "the operand of ~ is %s, not an integer", xt)
		}
	case "-":
		if !xt.Kind.IsNumeric() {
			return Type{}, nil, c.errAt(n, "the operand of unary - is %s, not a number", xt)
		}
		if xt.Kind.isUnsigned() {
			return Type{}, nil, c.errAt(n, "cannot negate the unsigned type %s: cast it to a signed type first", xt)
		}
	}
	return xt, func(env Env) (Value, error) {
		v, err := xf(env)
		if err != nil || v.Null {
			return v, err
		}
		switch x := v.v.(type) {
		case bool:
			return Value{T: xt, v: !x}, nil
		case int64:
			if n.op == "~" {
				return Value{T: xt, v: ^x}, nil
			}
			if x == minInt[xt.Kind.intBits()] {
				return Value{}, c.evalErr(n, fmt.Errorf(errOverflow, v, xt))
			}
			return Value{T: xt, v: -x}, nil
		case uint64:
			return Value{T: xt, v: ^x & maxUint[xt.Kind.intBits()]}, nil
		case float64:
			return Value{T: xt, v: -x}, nil
		case *big.Rat:
			return Value{T: xt, v: new(big.Rat).Neg(x)}, nil
		}
		return Value{}, c.evalErr(n, fmt.Errorf("operator %s on %s", n.op, xt))
	}, nil
}

func (c *checker) binary(n *binaryNode) (Type, evalFn, error) {
	lt, lf, err := c.node(n.l, false, false)
	if err != nil {
		return Type{}, nil, err
	}
	rt, rf, err := c.node(n.r, false, false)
	if err != nil {
		return Type{}, nil, err
	}
	mismatch := func(why string) error {
		return c.errAt(n, "the data types %s and %s are incompatible for binary operator %q%s", lt, rt, n.op, why)
	}
	switch n.op {
	case "&&", "||":
		if lt.Kind != KindBool || rt.Kind != KindBool {
			return Type{}, nil, mismatch(" (both operands must be DT_BOOL)")
		}
		return Bool, c.logical(n, lf, rf), nil
	case "==", "!=", "<", ">", "<=", ">=":
		return c.compare(n, lt, rt, lf, rf, mismatch)
	case "+":
		if lt.Kind.IsString() && rt.Kind.IsString() {
			t := Type{Kind: KindWStr}
			if lt.Length > 0 && rt.Length > 0 {
				t.Length = lt.Length + rt.Length
			}
			return t, c.strict(t, lf, rf, func(a, b Value) (Value, error) {
				as, bs := a.v.(string), b.v.(string)
				if len(as)+len(bs) > MaxString {
					return Value{}, c.evalErr(n, fmt.Errorf("the concatenation is over %d bytes", MaxString))
				}
				return Value{T: t, v: as + bs}, nil
			}), nil
		}
		if lt.Kind.IsString() || rt.Kind.IsString() {
			return Type{}, nil, mismatch(" (cast the number or date to DT_WSTR to concatenate)")
		}
	}
	if !lt.Kind.IsNumeric() || !rt.Kind.IsNumeric() {
		return Type{}, nil, mismatch(" (both operands must be numeric)")
	}
	switch n.op {
	case "%", "&", "|", "^":
		if !lt.Kind.IsInteger() || !rt.Kind.IsInteger() {
			return Type{}, nil, mismatch(" (both operands must be integers)")
		}
	}
	ct, err := numericResult(lt, rt)
	if err != nil {
		return Type{}, nil, c.errAt(n, "operator %q: %v", n.op, err)
	}
	t := ct
	switch {
	case ct.Kind == KindNumeric && (n.op == "*" || n.op == "/"):
		t = decimalOpType(n.op, lt, rt)
	case ct.Kind == KindNumeric:
		t.Precision = min(t.Precision+1, 38) // room for the carry
	}
	lf, rf = c.convertTo(n.l, lf, lt, ct), c.convertTo(n.r, rf, rt, ct)
	return t, c.strict(t, lf, rf, func(a, b Value) (Value, error) {
		v, err := arith(n.op, a, b, t)
		if err != nil {
			return Value{}, c.evalErr(n, err)
		}
		return v, nil
	}), nil
}

// strict evaluates both operands; a NULL operand makes the result NULL of
// the operation's type (the result of op on two non-NULL values).
func (c *checker) strict(t Type, lf, rf evalFn, op func(a, b Value) (Value, error)) evalFn {
	return func(env Env) (Value, error) {
		a, err := lf(env)
		if err != nil {
			return Value{}, err
		}
		b, err := rf(env)
		if err != nil {
			return Value{}, err
		}
		if a.Null || b.Null {
			return NullOf(t), nil
		}
		return op(a, b)
	}
}

// logical implements && and || with SSIS's NULL rules: FALSE && NULL is
// FALSE, TRUE || NULL is TRUE, any other NULL operand gives NULL. The
// right operand is not evaluated when the left decides.
func (c *checker) logical(n *binaryNode, lf, rf evalFn) evalFn {
	and := n.op == "&&"
	return func(env Env) (Value, error) {
		a, err := lf(env)
		if err != nil {
			return Value{}, err
		}
		if !a.Null && a.v.(bool) != and {
			return NewBool(!and), nil
		}
		b, err := rf(env)
		if err != nil {
			return Value{}, err
		}
		if !b.Null && b.v.(bool) != and {
			return NewBool(!and), nil
		}
		if a.Null || b.Null {
			return NullOf(Bool), nil
		}
		return NewBool(and), nil
	}
}

func (c *checker) compare(n *binaryNode, lt, rt Type, lf, rf evalFn, mismatch func(string) error) (Type, evalFn, error) {
	ordered := n.op != "==" && n.op != "!="
	var ct Type
	switch {
	case lt.Kind.IsNumeric() && rt.Kind.IsNumeric():
		var err error
		if ct, err = numericResult(lt, rt); err != nil {
			return Type{}, nil, c.errAt(n, "operator %q: %v", n.op, err)
		}
	case lt.Kind.IsString() && rt.Kind.IsString():
		ct = WStr
	case lt.Kind.IsDate() && rt.Kind.IsDate():
		var err error
		if ct, err = dateCommon(lt, rt); err != nil {
			return Type{}, nil, mismatch(": " + err.Error())
		}
	case lt.Kind.IsDate() && rt.Kind.IsString():
		ct = lt
	case lt.Kind.IsString() && rt.Kind.IsDate():
		ct = rt
	case lt.Kind == rt.Kind && (lt.Kind == KindBool || lt.Kind == KindGUID || lt.Kind == KindBytes):
		if ordered {
			return Type{}, nil, mismatch(fmt.Sprintf(" (%s values are only compared with == and !=)", lt.Kind))
		}
		ct = Type{Kind: lt.Kind}
	default:
		hint := ""
		if lt.Kind.IsString() || rt.Kind.IsString() {
			hint = " (cast one operand so that both are strings or both are numbers)"
		}
		return Type{}, nil, mismatch(hint)
	}
	if !ct.Kind.IsString() {
		lf, rf = c.convertTo(n.l, lf, lt, ct), c.convertTo(n.r, rf, rt, ct)
	}
	op := n.op
	return Bool, c.strict(Bool, lf, rf, func(a, b Value) (Value, error) {
		cmp, err := compareValues(a, b)
		if err != nil {
			return Value{}, c.evalErr(n, err)
		}
		var r bool
		switch op {
		case "==":
			r = cmp == 0
		case "!=":
			r = cmp != 0
		case "<":
			r = cmp < 0
		case ">":
			r = cmp > 0
		case "<=":
			r = cmp <= 0
		default:
			r = cmp >= 0
		}
		return NewBool(r), nil
	}), nil
}

// compareValues orders two values of the same class: numbers by value,
// strings by UTF-16 code unit (case-sensitive), dates by instant, bools
// and bytes for equality.
func compareValues(a, b Value) (int, error) {
	switch x := a.v.(type) {
	case int64:
		return cmp3(x, b.v.(int64)), nil
	case uint64:
		return cmp3(x, b.v.(uint64)), nil
	case float64:
		return cmp3(x, b.v.(float64)), nil
	case *big.Rat:
		return x.Cmp(b.v.(*big.Rat)), nil
	case string:
		return compareUTF16(x, b.v.(string)), nil
	case time.Time:
		return x.Compare(b.v.(time.Time)), nil
	case bool:
		if x == b.v.(bool) {
			return 0, nil
		}
		return 1, nil
	case []byte:
		if string(x) == string(b.v.([]byte)) {
			return 0, nil
		}
		return 1, nil
	}
	return 0, fmt.Errorf("cannot compare %s values", a.T)
}

func cmp3[T int64 | uint64 | float64](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func compareUTF16(a, b string) int {
	if !strings.ContainsFunc(a+b, func(r rune) bool { return r > 0xFFFF }) {
		return strings.Compare(a, b) // same order for BMP-only text
	}
	ua, ub := utf16.Encode([]rune(a)), utf16.Encode([]rune(b))
	for i := 0; i < len(ua) && i < len(ub); i++ {
		if ua[i] != ub[i] {
			return cmp3(int64(ua[i]), int64(ub[i]))
		}
	}
	return cmp3(int64(len(ua)), int64(len(ub)))
}

// decimalOpType is the DT_NUMERIC type of a product or quotient of
// decimals (SQL Server's rules, capped at precision 38).
func decimalOpType(op string, a, b Type) Type {
	p1, s1 := decimalPS(a)
	p2, s2 := decimalPS(b)
	var p, s int
	if op == "*" {
		p, s = p1+p2+1, s1+s2
	} else {
		s = max(6, s1+p2+1)
		p = p1 - s1 + s2 + s
	}
	if p > 38 {
		s = max(s-(p-38), min(s, 6))
		p = 38
	}
	return Type{Kind: KindNumeric, Precision: p, Scale: s}
}

// arith applies a numeric operator to two values of the same type and
// returns a value of type t, checking overflow and division by zero.
func arith(op string, a, b Value, t Type) (Value, error) {
	overflow := func() error { return fmt.Errorf("arithmetic overflow: %s %s %s does not fit in %s", a, op, b, t) }
	switch x := a.v.(type) {
	case int64, uint64:
		bx, _ := toBigInt(a) // integers always convert
		by, _ := toBigInt(b)
		r, err := intArith(op, bx, by)
		if err != nil {
			return Value{}, err
		}
		v, ok := fitInt(r, t)
		if !ok {
			return Value{}, overflow()
		}
		return v, nil
	case float64:
		y := b.v.(float64)
		var r float64
		switch op {
		case "+":
			r = x + y
		case "-":
			r = x - y
		case "*":
			r = x * y
		case "/":
			if y == 0 {
				return Value{}, errDivZero
			}
			r = x / y
		}
		if t.Kind == KindR4 {
			if math.Abs(r) > math.MaxFloat32 {
				return Value{}, overflow()
			}
			r = float64(float32(r))
		}
		if math.IsInf(r, 0) || math.IsNaN(r) {
			return Value{}, overflow()
		}
		return Value{T: t, v: r}, nil
	case *big.Rat:
		y := b.v.(*big.Rat)
		r := new(big.Rat)
		switch op {
		case "+":
			r.Add(x, y)
		case "-":
			r.Sub(x, y)
		case "*":
			r.Mul(x, y)
		case "/":
			if y.Sign() == 0 {
				return Value{}, errDivZero
			}
			r.Quo(x, y)
		}
		fr, err := fitDecimal(r, decimalType(t))
		if err != nil {
			return Value{}, overflow()
		}
		return Value{T: t, v: fr}, nil
	}
	return Value{}, fmt.Errorf("operator %s on %s", op, a.T)
}

// intOps are the integer operators as big.Int methods: exact, division
// truncating toward zero, the bitwise operators on two's complement.
var intOps = map[string]func(z, x, y *big.Int) *big.Int{
	"+": (*big.Int).Add, "-": (*big.Int).Sub, "*": (*big.Int).Mul,
	"/": (*big.Int).Quo, "%": (*big.Int).Rem,
	"&": (*big.Int).And, "|": (*big.Int).Or, "^": (*big.Int).Xor,
}

// intArith applies an integer operator; the caller checks that the result
// fits its type.
func intArith(op string, x, y *big.Int) (*big.Int, error) {
	f, ok := intOps[op]
	switch {
	case !ok:
		return nil, fmt.Errorf("operator %s on integers", op)
	case (op == "/" || op == "%") && y.Sign() == 0:
		return nil, errDivZero
	}
	return f(new(big.Int), x, y), nil
}
