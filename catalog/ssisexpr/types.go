package ssisexpr

import (
	"fmt"
	"strings"
)

// Kind is an SSIS data type (DT_...).
type Kind uint8

// The SSIS data types. KindInvalid is the zero value and no type.
const (
	KindInvalid Kind = iota
	KindBool
	KindI1
	KindI2
	KindI4
	KindI8
	KindUI1
	KindUI2
	KindUI4
	KindUI8
	KindR4
	KindR8
	KindCY
	KindDecimal
	KindNumeric
	KindStr
	KindWStr
	KindText
	KindNText
	KindBytes
	KindImage
	KindDate
	KindDBDate
	KindDBTime
	KindDBTime2
	KindDBTimestamp
	KindDBTimestamp2
	KindDBTimestampOffset
	KindFileTime
	KindGUID
	KindNull // the type of an untyped NULL; never the type of a checked expression
)

var kindNames = map[Kind]string{
	KindBool: "DT_BOOL", KindI1: "DT_I1", KindI2: "DT_I2", KindI4: "DT_I4", KindI8: "DT_I8",
	KindUI1: "DT_UI1", KindUI2: "DT_UI2", KindUI4: "DT_UI4", KindUI8: "DT_UI8",
	KindR4: "DT_R4", KindR8: "DT_R8", KindCY: "DT_CY", KindDecimal: "DT_DECIMAL", KindNumeric: "DT_NUMERIC",
	KindStr: "DT_STR", KindWStr: "DT_WSTR", KindText: "DT_TEXT", KindNText: "DT_NTEXT",
	KindBytes: "DT_BYTES", KindImage: "DT_IMAGE",
	KindDate: "DT_DATE", KindDBDate: "DT_DBDATE", KindDBTime: "DT_DBTIME", KindDBTime2: "DT_DBTIME2",
	KindDBTimestamp: "DT_DBTIMESTAMP", KindDBTimestamp2: "DT_DBTIMESTAMP2",
	KindDBTimestampOffset: "DT_DBTIMESTAMPOFFSET", KindFileTime: "DT_FILETIME", KindGUID: "DT_GUID",
	KindNull: "NULL",
}

var kindByName = func() map[string]Kind {
	m := make(map[string]Kind, len(kindNames))
	for k, n := range kindNames {
		if k != KindNull {
			m[n] = k
		}
	}
	return m
}()

// String returns the SSIS name, for example "DT_I4".
func (k Kind) String() string {
	if n, ok := kindNames[k]; ok {
		return n
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Type is an SSIS data type with its parameters: Length (characters for
// DT_WSTR, bytes for DT_STR and DT_BYTES; 0 means unbounded), CodePage
// (DT_STR, DT_TEXT), Precision and Scale (DT_NUMERIC; DT_DECIMAL has Scale
// only) and Scale as the fractional-second digits of DT_DBTIME2,
// DT_DBTIMESTAMP2 and DT_DBTIMESTAMPOFFSET.
type Type struct {
	Kind      Kind
	Length    int
	CodePage  int
	Precision int
	Scale     int
}

// Common types.
var (
	Bool        = Type{Kind: KindBool}
	I4          = Type{Kind: KindI4}
	I8          = Type{Kind: KindI8}
	UI2         = Type{Kind: KindUI2}
	R8          = Type{Kind: KindR8}
	WStr        = Type{Kind: KindWStr}
	DBTimestamp = Type{Kind: KindDBTimestamp}
)

// String formats the type as a cast would write it: "DT_WSTR, 50",
// "DT_NUMERIC, 10, 2", "DT_I4".
func (t Type) String() string {
	switch t.Kind {
	case KindStr:
		return fmt.Sprintf("%s, %d, %d", t.Kind, t.Length, t.CodePage)
	case KindWStr, KindBytes:
		if t.Length > 0 {
			return fmt.Sprintf("%s, %d", t.Kind, t.Length)
		}
	case KindNumeric:
		return fmt.Sprintf("%s, %d, %d", t.Kind, t.Precision, t.Scale)
	case KindDecimal, KindDBTime2, KindDBTimestamp2, KindDBTimestampOffset:
		return fmt.Sprintf("%s, %d", t.Kind, t.Scale)
	case KindText:
		return fmt.Sprintf("%s, %d", t.Kind, t.CodePage)
	}
	return t.Kind.String()
}

// ParseType reads a type as written in a cast or NULL() without the
// parentheses: "DT_I4", "DT_WSTR, 50", "dt_numeric,10,2". Data type names
// are not case-sensitive.
func ParseType(s string) (Type, error) {
	parts := strings.Split(s, ",")
	name := strings.TrimSpace(parts[0])
	var args []int
	for _, p := range parts[1:] {
		var n int
		p = strings.TrimSpace(p)
		if _, err := fmt.Sscanf(p, "%d", &n); err != nil || fmt.Sprint(n) != strings.TrimLeft(p, "+") {
			return Type{}, fmt.Errorf("type %s: parameter %q is not an integer", name, p)
		}
		args = append(args, n)
	}
	return makeType(name, args)
}

// makeType builds a type from its name and its integer parameters,
// checking their number and range.
func makeType(name string, args []int) (Type, error) {
	k, ok := kindByName[strings.ToUpper(name)]
	if !ok {
		return Type{}, fmt.Errorf("unknown data type %q", name)
	}
	want := 0
	switch k {
	case KindStr, KindNumeric:
		want = 2
	case KindWStr, KindBytes, KindDecimal, KindText:
		want = 1
	case KindDBTime2, KindDBTimestamp2, KindDBTimestampOffset:
		// the fractional-second digits are optional (default 7)
		if len(args) == 0 {
			return Type{Kind: k, Scale: 7}, nil
		}
		want = 1
	}
	if len(args) != want {
		return Type{}, fmt.Errorf("data type %s takes %d parameter(s), not %d", k, want, len(args))
	}
	t := Type{Kind: k}
	var err error
	switch k {
	case KindStr:
		t.Length, t.CodePage = args[0], args[1]
		if err = typeParam(k, "length", t.Length, 1, 8000); err == nil {
			err = codePage(k, t.CodePage)
		}
	case KindWStr:
		t.Length = args[0]
		err = typeParam(k, "length", t.Length, 1, 4000)
	case KindBytes:
		t.Length = args[0]
		err = typeParam(k, "length", t.Length, 1, 8000)
	case KindText:
		t.CodePage = args[0]
		err = codePage(k, t.CodePage)
	case KindNumeric:
		t.Precision, t.Scale = args[0], args[1]
		if err = typeParam(k, "precision", t.Precision, 1, 38); err == nil && (t.Scale < 0 || t.Scale > t.Precision) {
			err = fmt.Errorf("%s scale %d is outside 0..%d (the precision)", k, t.Scale, t.Precision)
		}
	case KindDecimal:
		t.Precision, t.Scale = 29, args[0]
		err = typeParam(k, "scale", t.Scale, 0, 28)
	case KindDBTime2, KindDBTimestamp2, KindDBTimestampOffset:
		t.Scale = args[0]
		err = typeParam(k, "fractional seconds", t.Scale, 0, 7)
	}
	if err != nil {
		return Type{}, err
	}
	return t, nil
}

// typeParam checks that the parameter what of a data type of kind k lies
// in lo..hi.
func typeParam(k Kind, what string, v, lo, hi int) error {
	if v < lo || v > hi {
		return fmt.Errorf("%s %s %d is outside %d..%d", k, what, v, lo, hi)
	}
	return nil
}

// codePage checks the code page parameter of DT_STR or DT_TEXT.
func codePage(k Kind, cp int) error {
	if cp < 0 || cp > 65535 {
		return fmt.Errorf("%s code page %d is not a code page", k, cp)
	}
	return nil
}

// Type classes.

func (k Kind) isSigned() bool   { return k >= KindI1 && k <= KindI8 }
func (k Kind) isUnsigned() bool { return k >= KindUI1 && k <= KindUI8 }

// IsInteger reports a signed or unsigned integer type.
func (k Kind) IsInteger() bool { return k.isSigned() || k.isUnsigned() }

// IsNumeric reports an integer, real, currency or decimal type.
func (k Kind) IsNumeric() bool { return k.IsInteger() || k.isReal() || k.isDecimal() }

func (k Kind) isReal() bool    { return k == KindR4 || k == KindR8 }
func (k Kind) isDecimal() bool { return k == KindCY || k == KindDecimal || k == KindNumeric }

// IsString reports DT_STR or DT_WSTR (and the text BLOBs).
func (k Kind) IsString() bool {
	return k == KindStr || k == KindWStr || k == KindText || k == KindNText
}

// IsDate reports a date, time or date-and-time type.
func (k Kind) IsDate() bool { return k >= KindDate && k <= KindFileTime }

func (k Kind) isTimeOnly() bool { return k == KindDBTime || k == KindDBTime2 }

// intBits returns the width of an integer type.
func (k Kind) intBits() int {
	switch k {
	case KindI1, KindUI1:
		return 8
	case KindI2, KindUI2:
		return 16
	case KindI4, KindUI4:
		return 32
	case KindI8, KindUI8:
		return 64
	}
	return 0
}

func signedOfBits(bits int) Kind {
	switch bits {
	case 8:
		return KindI1
	case 16:
		return KindI2
	case 32:
		return KindI4
	}
	return KindI8
}

// numericResult returns the type of a binary arithmetic or comparison
// operation on two numeric types: SSIS's implicit conversion table.
func numericResult(a, b Type) (Type, error) {
	ka, kb := a.Kind, b.Kind
	switch {
	case ka == kb && ka != KindDecimal && ka != KindNumeric:
		return Type{Kind: ka}, nil
	case ka == KindR8 || kb == KindR8:
		return R8, nil
	case ka == KindR4 || kb == KindR4:
		other := kb
		if kb == KindR4 {
			other = ka
		}
		if other.intBits() > 16 || other.isDecimal() {
			return R8, nil
		}
		return Type{Kind: KindR4}, nil
	case ka.isDecimal() || kb.isDecimal():
		if ka == KindCY && kb.IsInteger() || kb == KindCY && ka.IsInteger() {
			return Type{Kind: KindCY}, nil
		}
		return decimalResult(a, b), nil
	case ka.isSigned() && kb.isSigned(), ka.isUnsigned() && kb.isUnsigned():
		if ka.intBits() >= kb.intBits() {
			return Type{Kind: ka}, nil
		}
		return Type{Kind: kb}, nil
	default: // one signed, one unsigned
		if ka == KindUI8 || kb == KindUI8 {
			return Type{}, fmt.Errorf("the data types %s and %s need an explicit cast: an unsigned eight-byte integer does not combine with a signed integer", ka, kb)
		}
		bits := max(ka.intBits(), kb.intBits())
		u := ka
		if kb.isUnsigned() {
			u = kb
		}
		if u.intBits() == bits { // the unsigned one is the wider (or equal): one size up
			bits *= 2
		}
		return Type{Kind: signedOfBits(bits)}, nil
	}
}

// decimalResult is DT_NUMERIC wide enough for both operands.
func decimalResult(a, b Type) Type {
	pa, sa := decimalPS(a)
	pb, sb := decimalPS(b)
	s := max(sa, sb)
	p := min(max(pa-sa, pb-sb)+s, 38)
	return Type{Kind: KindNumeric, Precision: p, Scale: s}
}

// decimalPS returns the precision and scale a type brings to decimal
// arithmetic.
func decimalPS(t Type) (int, int) {
	switch t.Kind {
	case KindNumeric, KindDecimal:
		return t.Precision, t.Scale
	case KindCY:
		return 19, 4
	case KindI1, KindUI1:
		return 3, 0
	case KindI2, KindUI2:
		return 5, 0
	case KindI4, KindUI4:
		return 10, 0
	}
	return 20, 0
}

// wide returns the type as a value of it travels inside an expression:
// DT_STR becomes DT_WSTR (SSIS evaluates strings as DT_WSTR).
func (t Type) wide() Type {
	if t.Kind == KindStr {
		return Type{Kind: KindWStr, Length: t.Length}
	}
	return t
}
