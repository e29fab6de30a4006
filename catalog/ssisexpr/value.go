package ssisexpr

import (
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"
)

// Value is a typed SSIS value: its type, a NULL flag and the Go value.
// The Go value is a bool (DT_BOOL), int64 (signed integers), uint64
// (unsigned integers), float64 (DT_R4, DT_R8), *big.Rat (DT_NUMERIC,
// DT_DECIMAL, DT_CY; exact, never modified), string (strings, DT_GUID),
// []byte (DT_BYTES, DT_IMAGE) or time.Time (dates and times).
type Value struct {
	T    Type
	Null bool
	v    any
}

// NullOf returns the NULL value of type t.
func NullOf(t Type) Value { return Value{T: t, Null: true} }

// NewBool returns a DT_BOOL value.
func NewBool(b bool) Value { return Value{T: Bool, v: b} }

// NewI4 returns a DT_I4 value.
func NewI4(i int32) Value { return Value{T: I4, v: int64(i)} }

// NewI8 returns a DT_I8 value.
func NewI8(i int64) Value { return Value{T: I8, v: i} }

// NewR8 returns a DT_R8 value.
func NewR8(f float64) Value { return Value{T: R8, v: f} }

// NewWStr returns an unbounded DT_WSTR value.
func NewWStr(s string) Value { return strValue(s) }

// NewTime returns a value of the date kind k (DT_DBTIMESTAMP, DT_DATE,
// DT_DBDATE, ...), cut to what the kind holds.
func NewTime(k Kind, t time.Time) Value {
	ty := Type{Kind: k}
	if k == KindDBTime2 || k == KindDBTimestamp2 || k == KindDBTimestampOffset {
		ty.Scale = 7
	}
	return Value{T: ty, v: fitTime(ty, t)}
}

// NewNumeric parses a decimal number ("123.45") as DT_NUMERIC with the
// precision and scale of its digits.
func NewNumeric(s string) (Value, error) { return numericLiteral(s) }

func strValue(s string) Value { return Value{T: WStr, v: s} }

// Interface returns the Go value: nil for NULL, else as described on
// [Value]. Decimals are returned as *big.Rat.
func (v Value) Interface() any {
	if v.Null {
		return nil
	}
	return v.v
}

// Go returns the value as the native runtime holds values: nil for NULL,
// bool, int64 for every integer type (an unsigned value above 2^63-1
// stays uint64), float64 for reals and decimals, string for strings and
// GUIDs, []byte, time.Time.
func (v Value) Go() any {
	if v.Null {
		return nil
	}
	switch x := v.v.(type) {
	case uint64:
		if x <= math.MaxInt64 {
			return int64(x)
		}
	case *big.Rat:
		f, _ := x.Float64()
		return f
	}
	return v.v
}

// String formats the value as a cast to DT_WSTR does; NULL is "NULL".
func (v Value) String() string {
	if v.Null {
		return "NULL"
	}
	s, err := toString(v)
	if err != nil {
		return fmt.Sprint(v.v)
	}
	return s
}

// FromGo converts a Go value of the native runtime into a Value: nil
// (as NULL of t, or of DT_WSTR when t is invalid), bool, ints, floats,
// string, []byte, time.Time. With a valid t the result is converted to t
// as a cast would.
func FromGo(x any, t Type) (Value, error) {
	var v Value
	switch x := x.(type) {
	case nil:
		if t.Kind == KindInvalid {
			t = WStr
		}
		return NullOf(t), nil
	case Value:
		v = x
	case bool:
		v = NewBool(x)
	case int:
		v = NewI8(int64(x))
	case int8:
		v = Value{T: Type{Kind: KindI1}, v: int64(x)}
	case int16:
		v = Value{T: Type{Kind: KindI2}, v: int64(x)}
	case int32:
		v = NewI4(x)
	case int64:
		v = NewI8(x)
	case uint8:
		v = Value{T: Type{Kind: KindUI1}, v: uint64(x)}
	case uint16:
		v = Value{T: UI2, v: uint64(x)}
	case uint32:
		v = Value{T: Type{Kind: KindUI4}, v: uint64(x)}
	case uint64:
		v = Value{T: Type{Kind: KindUI8}, v: x}
	case uint:
		v = Value{T: Type{Kind: KindUI8}, v: uint64(x)}
	case float32:
		v = Value{T: Type{Kind: KindR4}, v: float64(x)}
	case float64:
		v = NewR8(x)
	case string:
		v = strValue(x)
	case []byte:
		v = Value{T: Type{Kind: KindBytes}, v: x}
	case time.Time:
		v = NewTime(KindDBTimestamp, x)
	case *big.Rat:
		v = Value{T: Type{Kind: KindNumeric, Precision: 38, Scale: 10}, v: x}
	default:
		return Value{}, fmt.Errorf("a %T value has no SSIS data type", x)
	}
	if t.Kind == KindInvalid || v.T == t {
		return v, nil
	}
	return convert(v, t)
}

// numericLiteral parses "12.50" as DT_NUMERIC(4,2).
func numericLiteral(s string) (Value, error) {
	s = strings.TrimSpace(s)
	neg := strings.HasPrefix(s, "-")
	body := strings.TrimLeft(s, "+-")
	intPart, frac, _ := strings.Cut(body, ".")
	if body == "" || body == "." || strings.Trim(intPart+frac, "0123456789") != "" {
		return Value{}, fmt.Errorf("%q is not a decimal number", s)
	}
	p := max(len(strings.TrimLeft(intPart, "0"))+len(frac), 1)
	if p > 38 {
		return Value{}, fmt.Errorf("decimal number %s has more than 38 digits", s)
	}
	r, ok := new(big.Rat).SetString(body)
	if !ok {
		return Value{}, fmt.Errorf("%q is not a decimal number", s)
	}
	if neg {
		r.Neg(r)
	}
	return Value{T: Type{Kind: KindNumeric, Precision: p, Scale: len(frac)}, v: r}, nil
}

// ratString formats r with exactly scale digits after the point, rounding
// half away from zero.
func ratString(r *big.Rat, scale int) string {
	return roundRat(r, scale).FloatString(scale)
}

// roundRat rounds r to scale decimal digits, half away from zero.
func roundRat(r *big.Rat, scale int) *big.Rat {
	m := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(scale)), nil)
	x := new(big.Rat).Mul(r, new(big.Rat).SetInt(m))
	num, den := x.Num(), x.Denom()
	q, rem := new(big.Int).QuoRem(num, den, new(big.Int))
	// |rem|*2 >= den: round away from zero
	rem.Abs(rem).Mul(rem, big.NewInt(2))
	if rem.Cmp(den) >= 0 {
		if num.Sign() < 0 {
			q.Sub(q, big.NewInt(1))
		} else {
			q.Add(q, big.NewInt(1))
		}
	}
	return new(big.Rat).SetFrac(q, m)
}

// truncRat cuts r toward zero to an integer.
func truncRat(r *big.Rat) *big.Int { return new(big.Int).Quo(r.Num(), r.Denom()) }

// fitDecimal rounds r to the scale of t and checks the precision.
func fitDecimal(r *big.Rat, t Type) (*big.Rat, error) {
	p, s := decimalPS(t)
	x := roundRat(r, s)
	limit := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(p-s)), nil)
	ip := truncRat(x)
	if ip.Abs(ip).Cmp(limit) >= 0 {
		return nil, fmt.Errorf("the value %s overflows %s", x.FloatString(s), t)
	}
	return x, nil
}

// decimalType is the type a decimal of type t is fitted to: DT_CY holds
// what DT_NUMERIC(19,4) does.
func decimalType(t Type) Type {
	if t.Kind == KindCY {
		return Type{Kind: KindNumeric, Precision: 19, Scale: 4}
	}
	return t
}

// formatReal formats a float as .NET (and so SSIS) shows reals: the
// shortest text that reads back exactly, in plain notation from 1E-05 up
// to 1E+15 and in scientific notation outside (1E+16, 1E-06).
func formatReal(f float64, bits int) string {
	if a := math.Abs(f); a == 0 || a >= 1e-5 && a < 1e15 {
		return strconv.FormatFloat(f, 'f', -1, bits)
	}
	return strconv.FormatFloat(f, 'E', -1, bits)
}
