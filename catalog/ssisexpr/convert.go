package ssisexpr

import (
	"encoding/hex"
	"fmt"
	"math"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// castAllowed reports whether SSIS allows a cast from one type to another
// (the "legal casts" chart of the Cast reference).
func castAllowed(from, to Type) error {
	f, t := from.Kind, to.Kind
	switch {
	case f == KindNull || f == t:
		return nil
	case t.IsString():
		if f == KindImage {
			break
		}
		return nil
	case f.IsString():
		if t == KindImage {
			break
		}
		return nil
	case t == KindBool:
		if f.IsNumeric() {
			return nil
		}
	case t.IsNumeric():
		if f.IsNumeric() || f == KindBool {
			return nil
		}
	case t.IsDate():
		if f.IsDate() && !(f.isTimeOnly() && !t.isTimeOnly() && t != KindDBTimestamp && t != KindDBTimestamp2) &&
			!(t.isTimeOnly() && f == KindDBDate) {
			return nil
		}
	case t == KindBytes || t == KindImage:
		if f == KindBytes || f == KindImage || f == KindGUID {
			return nil
		}
	case t == KindGUID:
		if f == KindBytes {
			return nil
		}
	}
	return fmt.Errorf("cannot cast %s to %s", from, to)
}

var (
	errOverflow = "the value %s overflows %s"
	minInt      = map[int]int64{8: math.MinInt8, 16: math.MinInt16, 32: math.MinInt32, 64: math.MinInt64}
	maxInt      = map[int]int64{8: math.MaxInt8, 16: math.MaxInt16, 32: math.MaxInt32, 64: math.MaxInt64}
	maxUint     = map[int]uint64{8: math.MaxUint8, 16: math.MaxUint16, 32: math.MaxUint32, 64: math.MaxUint64}
)

// convert converts a value to type t as a cast does. A NULL stays NULL,
// of the new type.
func convert(v Value, t Type) (Value, error) {
	if err := castAllowed(v.T, t); err != nil {
		return Value{}, err
	}
	if v.Null {
		return NullOf(t), nil
	}
	k := t.Kind
	switch {
	case k.IsInteger():
		i, err := toBigInt(v)
		if err != nil {
			return Value{}, err
		}
		r, ok := fitInt(i, t)
		if !ok {
			return Value{}, fmt.Errorf(errOverflow, v, t)
		}
		return r, nil
	case k.isReal():
		f, err := toFloat(v)
		if err != nil {
			return Value{}, err
		}
		if k == KindR4 {
			if math.Abs(f) > math.MaxFloat32 {
				return Value{}, fmt.Errorf(errOverflow, v, t)
			}
			f = float64(float32(f))
		}
		return Value{T: t, v: f}, nil
	case k.isDecimal():
		r, err := toRat(v)
		if err != nil {
			return Value{}, err
		}
		if r, err = fitDecimal(r, decimalType(t)); err != nil {
			return Value{}, err
		}
		return Value{T: t, v: r}, nil
	case k == KindBool:
		switch x := v.v.(type) {
		case bool:
			return Value{T: t, v: x}, nil
		case string:
			s := strings.TrimSpace(x)
			switch {
			case strings.EqualFold(s, "true"):
				return Value{T: t, v: true}, nil
			case strings.EqualFold(s, "false"):
				return Value{T: t, v: false}, nil
			}
			if n, err := strconv.ParseInt(s, 10, 64); err == nil {
				return Value{T: t, v: n != 0}, nil
			}
			return Value{}, fmt.Errorf("cannot convert %q to DT_BOOL (want TRUE, FALSE or an integer)", x)
		}
		f, err := toFloat(v)
		if err != nil {
			return Value{}, err
		}
		return Value{T: t, v: f != 0}, nil
	case k.IsString():
		s, err := toString(v)
		if err != nil {
			return Value{}, err
		}
		return Value{T: t, v: fitString(s, t)}, nil
	case k.IsDate():
		var tm time.Time
		switch x := v.v.(type) {
		case time.Time:
			tm = x
			if x.Location() != time.UTC && k != KindDBTimestampOffset {
				tm = x.UTC()
			}
		case string:
			var err error
			if tm, err = parseDate(x, k); err != nil {
				return Value{}, err
			}
		default:
			return Value{}, fmt.Errorf("cannot convert %s to %s", v.T, t)
		}
		return Value{T: t, v: fitTime(t, tm)}, nil
	case k == KindGUID:
		s, ok := v.v.(string)
		if !ok {
			b, _ := v.v.([]byte)
			if len(b) != 16 {
				return Value{}, fmt.Errorf("cannot convert %d bytes to DT_GUID (want 16)", len(b))
			}
			s = fmt.Sprintf("{%X-%X-%X-%X-%X}", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
		}
		g, err := parseGUID(s)
		if err != nil {
			return Value{}, err
		}
		return Value{T: t, v: g}, nil
	case k == KindBytes || k == KindImage:
		switch x := v.v.(type) {
		case []byte:
			if t.Length > 0 && len(x) > t.Length {
				x = x[:t.Length]
			}
			return Value{T: t, v: x}, nil
		case string:
			b, err := hex.DecodeString(strings.TrimPrefix(strings.TrimPrefix(x, "0x"), "0X"))
			if err != nil {
				return Value{}, fmt.Errorf("cannot convert %q to %s: not hexadecimal digits", x, t)
			}
			if t.Length > 0 && len(b) > t.Length {
				b = b[:t.Length]
			}
			return Value{T: t, v: b}, nil
		}
	}
	return Value{}, fmt.Errorf("cannot convert %s to %s", v.T, t)
}

// fitInt returns i as a value of the integer type t, or false when i is
// outside the range of t.
func fitInt(i *big.Int, t Type) (Value, bool) {
	bits := t.Kind.intBits()
	if t.Kind.isUnsigned() {
		if i.Sign() < 0 || !i.IsUint64() || i.Uint64() > maxUint[bits] {
			return Value{}, false
		}
		return Value{T: t, v: i.Uint64()}, true
	}
	if !i.IsInt64() || i.Int64() < minInt[bits] || i.Int64() > maxInt[bits] {
		return Value{}, false
	}
	return Value{T: t, v: i.Int64()}, true
}

// fitString cuts a string to the type's length: characters (UTF-16 code
// units) for DT_WSTR, bytes for DT_STR. SSIS does not check truncation at
// run time; casts cut silently.
func fitString(s string, t Type) string {
	if t.Length <= 0 {
		return s
	}
	if t.Kind == KindStr && t.CodePage == 65001 {
		n := 0
		for i, r := range s {
			if i+utf8.RuneLen(r) > t.Length {
				break
			}
			n = i + utf8.RuneLen(r)
		}
		return s[:n]
	}
	u := utf16.Encode([]rune(s))
	if len(u) <= t.Length {
		return s
	}
	return string(utf16.Decode(u[:t.Length]))
}

// toBigInt converts a numeric, bool or string value to an integer; reals
// and decimals are rounded half away from zero, as SSIS casts do.
func toBigInt(v Value) (*big.Int, error) {
	switch x := v.v.(type) {
	case int64:
		return big.NewInt(x), nil
	case uint64:
		return new(big.Int).SetUint64(x), nil
	case bool:
		if x {
			return big.NewInt(-1), nil
		}
		return big.NewInt(0), nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, fmt.Errorf("cannot convert %v to an integer", x)
		}
		r := math.Round(x)
		if math.Abs(r) > 1e20 {
			return nil, fmt.Errorf("the value %v overflows an integer", x)
		}
		b, _ := big.NewFloat(r).Int(nil)
		return b, nil
	case *big.Rat:
		return truncRat(roundRat(x, 0)), nil
	case string:
		s := strings.TrimSpace(x)
		i, ok := new(big.Int).SetString(strings.TrimPrefix(s, "+"), 10)
		if !ok || s == "" {
			return nil, fmt.Errorf("cannot convert %q to an integer", x)
		}
		return i, nil
	}
	return nil, fmt.Errorf("cannot convert %s to an integer", v.T)
}

func toFloat(v Value) (float64, error) {
	switch x := v.v.(type) {
	case int64:
		return float64(x), nil
	case uint64:
		return float64(x), nil
	case float64:
		return x, nil
	case bool:
		if x {
			return -1, nil
		}
		return 0, nil
	case *big.Rat:
		f, _ := x.Float64()
		return f, nil
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return 0, fmt.Errorf("cannot convert %q to a real number", x)
		}
		return f, nil
	}
	return 0, fmt.Errorf("cannot convert %s to a real number", v.T)
}

func toRat(v Value) (*big.Rat, error) {
	switch x := v.v.(type) {
	case int64:
		return new(big.Rat).SetInt64(x), nil
	case uint64:
		return new(big.Rat).SetUint64(x), nil
	case bool:
		if x {
			return big.NewRat(-1, 1), nil
		}
		return new(big.Rat), nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, fmt.Errorf("cannot convert %v to a decimal", x)
		}
		// the shortest decimal text of the float, not its binary expansion
		r, _ := new(big.Rat).SetString(strconv.FormatFloat(x, 'g', -1, 64))
		return r, nil
	case *big.Rat:
		return x, nil
	case string:
		s := strings.TrimSpace(x)
		if len(s) > 80 || strings.ContainsAny(s, "/eE") {
			return nil, fmt.Errorf("cannot convert %q to a decimal", x)
		}
		r, ok := new(big.Rat).SetString(s)
		if !ok {
			return nil, fmt.Errorf("cannot convert %q to a decimal", x)
		}
		return r, nil
	}
	return nil, fmt.Errorf("cannot convert %s to a decimal", v.T)
}

// toString formats a value as a cast to DT_WSTR does.
func toString(v Value) (string, error) {
	switch x := v.v.(type) {
	case string:
		return x, nil
	case bool:
		if x {
			return "True", nil
		}
		return "False", nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case uint64:
		return strconv.FormatUint(x, 10), nil
	case float64:
		if v.T.Kind == KindR4 {
			return formatReal(x, 32), nil
		}
		return formatReal(x, 64), nil
	case *big.Rat:
		_, s := decimalPS(v.T)
		return ratString(x, s), nil
	case []byte:
		return strings.ToUpper(hex.EncodeToString(x)), nil
	case time.Time:
		return formatTime(x, v.T), nil
	}
	return "", fmt.Errorf("cannot convert %s to a string", v.T)
}

func fraction(t time.Time, digits int) string {
	if digits <= 0 {
		return ""
	}
	return "." + fmt.Sprintf("%09d", t.Nanosecond())[:digits]
}

// formatTime formats a date value the way a cast to DT_WSTR does: ISO
// order (YYYY-MM-DD), 24-hour clock.
func formatTime(t time.Time, ty Type) string {
	switch ty.Kind {
	case KindDBDate:
		return t.Format("2006-01-02")
	case KindDBTime:
		return t.Format("15:04:05")
	case KindDBTime2:
		return t.Format("15:04:05") + fraction(t, ty.Scale)
	case KindDate:
		return t.Format("2006-01-02 15:04:05")
	case KindFileTime:
		return t.Format("2006-01-02 15:04:05") + fraction(t, 3)
	case KindDBTimestamp2:
		return t.Format("2006-01-02 15:04:05") + fraction(t, ty.Scale)
	case KindDBTimestampOffset:
		return t.Format("2006-01-02 15:04:05") + fraction(t, ty.Scale) + t.Format(" -07:00")
	}
	return t.Format("2006-01-02 15:04:05") + fraction(t, 9)
}

// timeBase is the date a time-only value carries (SSIS's zero date).
var timeBase = time.Date(1899, 12, 30, 0, 0, 0, 0, time.UTC)

// fitTime cuts a time to what the type holds.
func fitTime(t Type, tm time.Time) time.Time {
	if t.Kind != KindDBTimestampOffset {
		tm = tm.UTC()
	}
	switch t.Kind {
	case KindDBDate:
		return time.Date(tm.Year(), tm.Month(), tm.Day(), 0, 0, 0, 0, time.UTC)
	case KindDBTime:
		return time.Date(1899, 12, 30, tm.Hour(), tm.Minute(), tm.Second(), 0, time.UTC)
	case KindDBTime2:
		return time.Date(1899, 12, 30, tm.Hour(), tm.Minute(), tm.Second(), cutNanos(tm.Nanosecond(), t.Scale), time.UTC)
	case KindDBTimestamp2, KindDBTimestampOffset:
		return tm.Add(time.Duration(cutNanos(tm.Nanosecond(), t.Scale) - tm.Nanosecond()))
	case KindFileTime:
		return tm.Truncate(100 * time.Nanosecond)
	}
	return tm
}

func cutNanos(ns, digits int) int {
	p := int(math.Pow10(9 - digits))
	return ns / p * p
}

var dateRE = regexp.MustCompile(`^\s*(?:(\d{4})-(\d{1,2})-(\d{1,2})|(\d{1,2})/(\d{1,2})/(\d{4}))?` +
	`(?:(?:\s+|T|^\s*)(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?\s*([AaPp][Mm])?)?` +
	`\s*(?:(Z)|([+-])\s*(\d{1,2}):(\d{2}))?\s*$`)

// parseDate reads a date, time or date and time: YYYY-MM-DD or M/D/YYYY
// (the en-US order), then optionally hh:mm[:ss[.fffffffff]] [AM|PM]
// (after a space or T), then optionally an offset (+hh:mm, -h:mm, Z).
func parseDate(s string, k Kind) (time.Time, error) {
	m := dateRE.FindStringSubmatch(s)
	if m == nil || strings.TrimSpace(s) == "" {
		return time.Time{}, fmt.Errorf("cannot convert %q to %s: not a date (want YYYY-MM-DD [hh:mm:ss[.fff]] or M/D/YYYY)", s, k)
	}
	atoi := func(s string) int { n, _ := strconv.Atoi(s); return n }
	y, mo, d := 1899, 12, 30
	hasDate := m[1] != "" || m[6] != ""
	switch {
	case m[1] != "":
		y, mo, d = atoi(m[1]), atoi(m[2]), atoi(m[3])
	case m[6] != "":
		y, mo, d = atoi(m[6]), atoi(m[4]), atoi(m[5])
	}
	if !hasDate && !k.isTimeOnly() && m[7] == "" {
		return time.Time{}, fmt.Errorf("cannot convert %q to %s: not a date", s, k)
	}
	h, mi, sec, ns := 0, 0, 0, 0
	if m[7] != "" {
		h, mi, sec = atoi(m[7]), atoi(m[8]), atoi(m[9])
		if m[10] != "" {
			ns = atoi((m[10] + "000000000")[:9])
		}
		if ap := strings.ToUpper(m[11]); ap != "" {
			if h < 1 || h > 12 {
				return time.Time{}, fmt.Errorf("cannot convert %q to %s: hour %d with %s", s, k, h, ap)
			}
			if ap == "PM" && h != 12 {
				h += 12
			} else if ap == "AM" && h == 12 {
				h = 0
			}
		}
	}
	loc := time.UTC
	if m[13] != "" {
		oh, om := atoi(m[14]), atoi(m[15])
		if oh > 14 || om > 59 {
			return time.Time{}, fmt.Errorf("cannot convert %q to %s: offset out of range", s, k)
		}
		off := (oh*60 + om) * 60
		if m[13] == "-" {
			off = -off
		}
		loc = time.FixedZone("", off)
	}
	if mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 59 || y < 1 {
		return time.Time{}, fmt.Errorf("cannot convert %q to %s: a part is out of range", s, k)
	}
	t := time.Date(y, time.Month(mo), d, h, mi, sec, ns, loc)
	if t.Day() != d {
		return time.Time{}, fmt.Errorf("cannot convert %q to %s: %04d-%02d-%02d is not a date", s, k, y, mo, d)
	}
	if k != KindDBTimestampOffset {
		t = t.UTC()
	}
	return t, nil
}

var guidRE = regexp.MustCompile(`^\{?([0-9a-fA-F]{8})-([0-9a-fA-F]{4})-([0-9a-fA-F]{4})-([0-9a-fA-F]{4})-([0-9a-fA-F]{12})\}?$`)

func parseGUID(s string) (string, error) {
	m := guidRE.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return "", fmt.Errorf("cannot convert %q to DT_GUID", s)
	}
	return strings.ToUpper("{" + strings.Join(m[1:], "-") + "}"), nil
}
