package ssisexpr

import (
	"fmt"
	"math"
	"math/big"
	"sort"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// fnDef describes a function: its argument count and classes, its result
// type, and its body. Argument classes: s string, i integer, n numeric,
// d date (or a string in date format), p datepart (a string naming a date
// part), a any.
type fnDef struct {
	args   string
	result func(ts []Type) Type
	// keepNull: the body sees NULL arguments; otherwise any NULL argument
	// makes the result NULL.
	keepNull bool
	eval     func(env Env, a []Value, t Type) (Value, error)
}

func same(ts []Type) Type { return ts[0] }
func fixed(t Type) func([]Type) Type {
	return func([]Type) Type { return t }
}

var funcs map[string]fnDef

// FunctionNames lists the functions the package implements, sorted.
func FunctionNames() []string {
	names := make([]string, 0, len(funcs)+1)
	for n := range funcs {
		names = append(names, n)
	}
	names = append(names, "NULL", "REPLACENULL")
	sort.Strings(names)
	return names
}

func init() {
	funcs = map[string]fnDef{}
	for k, v := range stringFuncs {
		funcs[k] = v
	}
	for k, v := range dateFuncs {
		funcs[k] = v
	}
	for k, v := range mathFuncs {
		funcs[k] = v
	}
	funcs["ISNULL"] = fnDef{args: "a", result: fixed(Bool), keepNull: true,
		eval: func(_ Env, a []Value, _ Type) (Value, error) { return NewBool(a[0].Null), nil }}
}

func (c *checker) call(n *callNode) (Type, evalFn, error) {
	if n.name == "REPLACENULL" {
		return c.replaceNull(n)
	}
	def, ok := funcs[n.name]
	if !ok {
		return Type{}, nil, c.errAt(n, "unknown function %s", n.name)
	}
	if len(n.args) != len(def.args) {
		return Type{}, nil, c.errAt(n, "%s takes %d argument(s), not %d", n.name, len(def.args), len(n.args))
	}
	ts := make([]Type, len(n.args))
	fns := make([]evalFn, len(n.args))
	for i, a := range n.args {
		t, f, err := c.node(a, false, false)
		if err != nil {
			return Type{}, nil, err
		}
		ts[i], fns[i] = t, f
		if err := checkArg(def.args[i], t); err != nil {
			return Type{}, nil, c.errAt(a, "argument %d of %s: %v", i+1, n.name, err)
		}
		if def.args[i] == 'p' {
			if lit, ok := a.(*litNode); ok {
				if _, err := datePart(lit.v.v.(string)); err != nil {
					return Type{}, nil, c.errAt(a, "%s: %v", n.name, err)
				}
			}
		}
	}
	t := def.result(ts)
	return t, func(env Env) (Value, error) {
		args := make([]Value, len(fns))
		null := false
		for i, f := range fns {
			v, err := f(env)
			if err != nil {
				return Value{}, err
			}
			args[i] = v
			null = null || v.Null
		}
		if null && !def.keepNull {
			return NullOf(t), nil
		}
		v, err := def.eval(env, args, t)
		if err != nil {
			return Value{}, c.evalErr(n, fmt.Errorf("%s: %w", n.name, err))
		}
		return v, nil
	}, nil
}

func checkArg(class byte, t Type) error {
	k := t.Kind
	ok := true
	want := ""
	switch class {
	case 's', 'p':
		ok, want = k.IsString(), "a string (DT_WSTR or DT_STR); cast other types with (DT_WSTR, n)"
	case 'i':
		ok, want = k.IsInteger(), "an integer"
	case 'n':
		ok, want = k.IsNumeric(), "numeric"
	case 'd':
		ok, want = k.IsDate() || k.IsString(), "a date"
	}
	if !ok {
		return fmt.Errorf("is %s, want %s", t, want)
	}
	return nil
}

// replaceNull is REPLACENULL(expression, replacement): the replacement
// when the expression is NULL; both convert to their common type.
func (c *checker) replaceNull(n *callNode) (Type, evalFn, error) {
	if len(n.args) != 2 {
		return Type{}, nil, c.errAt(n, "REPLACENULL takes 2 arguments, not %d", len(n.args))
	}
	t, af, bf, err := c.either(n.args[0], n.args[1], func(_, _ Type, err error) error {
		return c.errAt(n, "REPLACENULL: %v", err)
	})
	if err != nil {
		return Type{}, nil, err
	}
	return t, func(env Env) (Value, error) {
		v, err := af(env)
		if err != nil || !v.Null {
			return v, err
		}
		return bf(env)
	}, nil
}

// Argument accessors: the checker has already ensured the class.

func strOf(v Value) string { s, _ := v.v.(string); return s }

func intOf(v Value) (int64, error) {
	i, err := toBigInt(v)
	if err != nil {
		return 0, err
	}
	if !i.IsInt64() {
		return 0, fmt.Errorf("%s is out of range", i)
	}
	return i.Int64(), nil
}

func timeOf(v Value) (time.Time, error) {
	if t, ok := v.v.(time.Time); ok {
		return t, nil
	}
	return parseDate(strOf(v), KindDBTimestamp)
}

// args2 reads the first two arguments with the accessors fa and fb, in
// order, stopping at the first error.
func args2[A, B any](a []Value, fa func(Value) (A, error), fb func(Value) (B, error)) (A, B, error) {
	x, err := fa(a[0])
	if err != nil {
		var y B
		return x, y, err
	}
	y, err := fb(a[1])
	return x, y, err
}

// args3 is args2 for three arguments.
func args3[A, B, C any](a []Value, fa func(Value) (A, error), fb func(Value) (B, error), fc func(Value) (C, error)) (A, B, C, error) {
	x, y, err := args2(a, fa, fb)
	var z C
	if err == nil {
		z, err = fc(a[2])
	}
	return x, y, z, err
}

func units(s string) []uint16    { return utf16.Encode([]rune(s)) }
func fromUnits(u []uint16) Value { return strValue(string(utf16.Decode(u))) }

func trimSpaces(s string, left, right bool) string {
	if left {
		s = strings.TrimLeft(s, " ")
	}
	if right {
		s = strings.TrimRight(s, " ")
	}
	return s
}

var stringFuncs = map[string]fnDef{
	"LEN": {args: "s", result: fixed(I4), eval: func(_ Env, a []Value, _ Type) (Value, error) {
		return NewI4(int32(len(units(strOf(a[0]))))), nil
	}},
	"LEFT": {args: "si", result: fixed(WStr), eval: func(_ Env, a []Value, _ Type) (Value, error) {
		u := units(strOf(a[0]))
		n, err := intOf(a[1])
		if err != nil || n < 0 {
			return Value{}, fmt.Errorf("the length %s must be zero or more", a[1])
		}
		return fromUnits(u[:min(int64(len(u)), n)]), nil
	}},
	"RIGHT": {args: "si", result: fixed(WStr), eval: func(_ Env, a []Value, _ Type) (Value, error) {
		u := units(strOf(a[0]))
		n, err := intOf(a[1])
		if err != nil || n < 0 {
			return Value{}, fmt.Errorf("the length %s must be zero or more", a[1])
		}
		return fromUnits(u[int64(len(u))-min(int64(len(u)), n):]), nil
	}},
	"SUBSTRING": {args: "sii", result: fixed(WStr), eval: func(_ Env, a []Value, _ Type) (Value, error) {
		u := units(strOf(a[0]))
		pos, err1 := intOf(a[1])
		n, err2 := intOf(a[2])
		if err1 != nil || pos < 1 {
			return Value{}, fmt.Errorf("the position %s must be 1 or more", a[1])
		}
		if err2 != nil || n < 0 {
			return Value{}, fmt.Errorf("the length %s must be zero or more", a[2])
		}
		if pos > int64(len(u)) {
			return strValue(""), nil
		}
		end := min(int64(len(u)), pos-1+n)
		return fromUnits(u[pos-1 : end]), nil
	}},
	"UPPER": {args: "s", result: fixed(WStr), eval: func(_ Env, a []Value, _ Type) (Value, error) {
		return strValue(strings.ToUpper(strOf(a[0]))), nil
	}},
	"LOWER": {args: "s", result: fixed(WStr), eval: func(_ Env, a []Value, _ Type) (Value, error) {
		return strValue(strings.ToLower(strOf(a[0]))), nil
	}},
	"LTRIM": {args: "s", result: fixed(WStr), eval: func(_ Env, a []Value, _ Type) (Value, error) {
		return strValue(trimSpaces(strOf(a[0]), true, false)), nil
	}},
	"RTRIM": {args: "s", result: fixed(WStr), eval: func(_ Env, a []Value, _ Type) (Value, error) {
		return strValue(trimSpaces(strOf(a[0]), false, true)), nil
	}},
	"TRIM": {args: "s", result: fixed(WStr), eval: func(_ Env, a []Value, _ Type) (Value, error) {
		return strValue(trimSpaces(strOf(a[0]), true, true)), nil
	}},
	"REPLACE": {args: "sss", result: fixed(WStr), eval: func(_ Env, a []Value, _ Type) (Value, error) {
		s, old, repl := strOf(a[0]), strOf(a[1]), strOf(a[2])
		if old == "" {
			return Value{}, fmt.Errorf("the search string is empty")
		}
		if n := strings.Count(s, old); len(s)+n*(len(repl)-len(old)) > MaxString {
			return Value{}, fmt.Errorf("the result is over %d bytes", MaxString)
		}
		return strValue(strings.ReplaceAll(s, old, repl)), nil
	}},
	"REPLICATE": {args: "si", result: fixed(WStr), eval: func(_ Env, a []Value, _ Type) (Value, error) {
		s := strOf(a[0])
		n, err := intOf(a[1])
		if err != nil || n < 0 {
			return Value{}, fmt.Errorf("the count %s must be zero or more", a[1])
		}
		if n > 0 && int64(len(s)) > MaxString/n {
			return Value{}, fmt.Errorf("the result is over %d bytes", MaxString)
		}
		return strValue(strings.Repeat(s, int(n))), nil
	}},
	"REVERSE": {args: "s", result: fixed(WStr), eval: func(_ Env, a []Value, _ Type) (Value, error) {
		r := []rune(strOf(a[0]))
		for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
			r[i], r[j] = r[j], r[i]
		}
		return strValue(string(r)), nil
	}},
	"FINDSTRING": {args: "ssi", result: fixed(I4), eval: func(_ Env, a []Value, _ Type) (Value, error) {
		occ, err := intOf(a[2])
		if err != nil || occ < 1 {
			return Value{}, fmt.Errorf("the occurrence %s must be 1 or more", a[2])
		}
		return NewI4(int32(findString(strOf(a[0]), strOf(a[1]), occ))), nil
	}},
	"CODEPOINT": {args: "s", result: fixed(UI2), eval: func(_ Env, a []Value, t Type) (Value, error) {
		u := units(strOf(a[0]))
		if len(u) == 0 {
			return NullOf(t), nil
		}
		return Value{T: t, v: uint64(u[0])}, nil
	}},
	"HEX": {args: "i", result: fixed(WStr), eval: func(_ Env, a []Value, _ Type) (Value, error) {
		switch x := a[0].v.(type) {
		case int64:
			bits := a[0].T.Kind.intBits()
			u := uint64(x)
			if bits < 64 {
				u &= 1<<bits - 1
			}
			return strValue(fmt.Sprintf("%X", u)), nil
		case uint64:
			return strValue(fmt.Sprintf("%X", x)), nil
		}
		return Value{}, fmt.Errorf("not an integer")
	}},
	"TOKEN": {args: "ssi", result: fixed(WStr), eval: func(_ Env, a []Value, _ Type) (Value, error) {
		occ, err := intOf(a[2])
		if err != nil || occ < 1 {
			return Value{}, fmt.Errorf("the occurrence %s must be 1 or more", a[2])
		}
		toks := tokens(strOf(a[0]), strOf(a[1]))
		if occ > int64(len(toks)) {
			return strValue(""), nil
		}
		return strValue(toks[occ-1]), nil
	}},
	"TOKENCOUNT": {args: "ss", result: fixed(I4), keepNull: true, eval: func(_ Env, a []Value, t Type) (Value, error) {
		if a[0].Null {
			return NewI4(0), nil
		}
		if a[1].Null {
			return NullOf(t), nil
		}
		return NewI4(int32(len(tokens(strOf(a[0]), strOf(a[1]))))), nil
	}},
}

// findString returns the 1-based position (in UTF-16 code units) of the
// occ-th occurrence of sub in s, occurrences may overlap; 0 if there are
// fewer (or sub is empty).
func findString(s, sub string, occ int64) int {
	if sub == "" {
		return 0
	}
	pos, units := 0, 0 // byte offset searched from, and its UTF-16 position
	for {
		i := strings.Index(s[pos:], sub)
		if i < 0 {
			return 0
		}
		units += utf16Len(s[pos : pos+i])
		if occ--; occ == 0 {
			return units + 1
		}
		r, size := utf8.DecodeRuneInString(s[pos+i:])
		units += max(utf16.RuneLen(r), 1)
		pos += i + size
	}
}

func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		n += max(utf16.RuneLen(r), 1)
	}
	return n
}

// tokens splits s at any of the delimiter characters, skipping empty
// tokens (so leading, trailing and repeated delimiters count for nothing).
func tokens(s, delims string) []string {
	if delims == "" {
		if s == "" {
			return nil
		}
		return []string{s}
	}
	return strings.FieldsFunc(s, func(r rune) bool { return strings.ContainsRune(delims, r) })
}

var mathFuncs = map[string]fnDef{
	"ABS": {args: "n", result: same, eval: func(_ Env, a []Value, t Type) (Value, error) {
		switch x := a[0].v.(type) {
		case int64:
			if x == minInt[t.Kind.intBits()] {
				return Value{}, fmt.Errorf(errOverflow, a[0], t)
			}
			if x < 0 {
				x = -x
			}
			return Value{T: t, v: x}, nil
		case float64:
			return Value{T: t, v: math.Abs(x)}, nil
		case *big.Rat:
			return Value{T: t, v: new(big.Rat).Abs(x)}, nil
		}
		return a[0], nil
	}},
	"CEILING": {args: "n", result: same, eval: func(_ Env, a []Value, t Type) (Value, error) { return roundTo(a[0], t, math.Ceil) }},
	"FLOOR":   {args: "n", result: same, eval: func(_ Env, a []Value, t Type) (Value, error) { return roundTo(a[0], t, math.Floor) }},
	"ROUND": {args: "ni", result: same, eval: func(_ Env, a []Value, t Type) (Value, error) {
		n, err := intOf(a[1])
		if err != nil || n < 0 {
			return Value{}, fmt.Errorf("the length %s must be zero or more", a[1])
		}
		n = min(n, 38)
		switch x := a[0].v.(type) {
		case float64:
			r, _ := toRat(a[0])
			f, _ := roundRat(r, int(n)).Float64()
			if t.Kind == KindR4 {
				f = float64(float32(f))
			}
			_ = x
			return Value{T: t, v: f}, nil
		case *big.Rat:
			r, err := fitDecimal(roundRat(x, int(n)), decimalType(t))
			if err != nil {
				return Value{}, err
			}
			return Value{T: t, v: r}, nil
		}
		return a[0], nil
	}},
	"POWER": {args: "nn", result: fixed(R8), eval: func(_ Env, a []Value, _ Type) (Value, error) {
		x, _ := toFloat(a[0])
		y, _ := toFloat(a[1])
		return real8(math.Pow(x, y))
	}},
	"SQRT":   {args: "n", result: fixed(R8), eval: floatFn(math.Sqrt, func(x float64) bool { return x >= 0 }, "a negative number")},
	"SQUARE": {args: "n", result: fixed(R8), eval: floatFn(func(x float64) float64 { return x * x }, nil, "")},
	"EXP":    {args: "n", result: fixed(R8), eval: floatFn(math.Exp, nil, "")},
	"LN":     {args: "n", result: fixed(R8), eval: floatFn(math.Log, func(x float64) bool { return x > 0 }, "zero or a negative number")},
	"LOG":    {args: "n", result: fixed(R8), eval: floatFn(math.Log10, func(x float64) bool { return x > 0 }, "zero or a negative number")},
	"SIGN": {args: "n", result: fixed(I4), eval: func(_ Env, a []Value, _ Type) (Value, error) {
		switch x := a[0].v.(type) {
		case int64:
			return NewI4(int32(cmp3(x, 0))), nil
		case uint64:
			return NewI4(int32(cmp3(x, 0))), nil
		case float64:
			return NewI4(int32(cmp3(x, 0))), nil
		case *big.Rat:
			return NewI4(int32(x.Sign())), nil
		}
		return Value{}, fmt.Errorf("not a number")
	}},
}

// roundTo applies CEILING or FLOOR: integers are unchanged, reals and
// decimals keep their type.
func roundTo(v Value, t Type, f func(float64) float64) (Value, error) {
	switch x := v.v.(type) {
	case float64:
		return Value{T: t, v: f(x)}, nil
	case *big.Rat:
		q := truncRat(x) // toward zero
		if x.IsInt() {
			return v, nil
		}
		if f(0.5) == 1 && x.Sign() > 0 { // ceiling
			q.Add(q, big.NewInt(1))
		} else if f(0.5) == 0 && x.Sign() < 0 { // floor
			q.Sub(q, big.NewInt(1))
		}
		r, err := fitDecimal(new(big.Rat).SetInt(q), decimalType(t))
		if err != nil {
			return Value{}, err
		}
		return Value{T: t, v: r}, nil
	}
	return v, nil
}

func real8(f float64) (Value, error) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return Value{}, fmt.Errorf("the result is not a finite DT_R8 (overflow)")
	}
	return NewR8(f), nil
}

func floatFn(f func(float64) float64, valid func(float64) bool, invalid string) func(Env, []Value, Type) (Value, error) {
	return func(_ Env, a []Value, _ Type) (Value, error) {
		x, err := toFloat(a[0])
		if err != nil {
			return Value{}, err
		}
		if valid != nil && !valid(x) {
			return Value{}, fmt.Errorf("the argument %s is %s", a[0], invalid)
		}
		return real8(f(x))
	}
}
