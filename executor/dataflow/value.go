package dataflow

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/scaleout/scaleout/catalog/pkgspec"
)

// Value is one cell of a row. Which field holds the value depends on the
// column's storage kind (pkgspec.Store*): I for bool (0/1), integers,
// decimals (scaled by 10^scale) and times (UTC Unix nanoseconds); F for
// floats; S for text and bytes. A Value is a plain struct, so rows are
// copied without allocating.
type Value struct {
	S    string
	I    int64
	F    float64
	Null bool
}

// Batch is a buffer of N rows of W columns, stored row after row in V.
type Batch struct {
	N, W int
	V    []Value
}

func newBatch(w, rows int) *Batch { return &Batch{W: w, V: make([]Value, w*rows)} }

// Row returns row i.
func (b *Batch) Row(i int) []Value { return b.V[i*b.W : (i+1)*b.W : (i+1)*b.W] }

// Row error codes, the values of the ErrorCode column (docs/dataflow.md).
const (
	// CodeConversion: a value could not be converted to the column type.
	CodeConversion = 1
	// CodeTruncation: text longer than the column's length.
	CodeTruncation = 2
	// CodeOverflow: a number outside the column type's range.
	CodeOverflow = 3
	// CodeExpression: an expression failed to evaluate.
	CodeExpression = 4
	// CodeNoMatch: a lookup found no reference row.
	CodeNoMatch = 5
	// CodeCommand: a sql_command's statement failed for the row.
	CodeCommand = 6
)

// rowError is a failure of one row at one column.
type rowError struct {
	code   int
	column string
	desc   string
}

func (e *rowError) Error() string {
	if e.column == "" {
		return e.desc
	}
	return fmt.Sprintf("column %q: %s", e.column, e.desc)
}

var pow10 = func() [19]int64 {
	var p [19]int64
	p[0] = 1
	for i := 1; i < len(p); i++ {
		p[i] = p[i-1] * 10
	}
	return p
}()

// timeLayouts are the text forms of dates and times accepted from files.
var timeLayouts = []string{"2006-01-02", time.RFC3339Nano, "2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05Z07:00"}

func parseTime(s string) (time.Time, bool) {
	if len(s) == 10 && s[4] == '-' && s[7] == '-' { // YYYY-MM-DD, the common case, without time.Parse
		y, ok1 := digits(s[0:4])
		m, ok2 := digits(s[5:7])
		d, ok3 := digits(s[8:10])
		if ok1 && ok2 && ok3 && m >= 1 && m <= 12 && d >= 1 && d <= daysIn(m, y) {
			return time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC), true
		}
		return time.Time{}, false
	}
	for _, l := range timeLayouts {
		if len(s) < 10 || (l == "2006-01-02" && len(s) != 10) {
			continue
		}
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

func digits(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, true
}

func daysIn(m, y int) int {
	return time.Date(y, time.Month(m)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// parseDecimal parses s into a mantissa scaled by 10^scale, rounding half
// away from zero, with at most precision digits.
func parseDecimal(s string, t pkgspec.DataType) (int64, int) {
	neg := false
	if s != "" && (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-'
		s = s[1:]
	}
	if s == "" {
		return 0, CodeConversion
	}
	var m int64
	dot, frac, digits := false, 0, 0
	roundUp := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '.' && !dot:
			dot = true
		case c >= '0' && c <= '9':
			digits++
			if dot {
				frac++
				if frac > t.Scale {
					if frac == t.Scale+1 {
						roundUp = c >= '5'
					}
					continue
				}
			}
			if m > (math.MaxInt64-9)/10 {
				return 0, CodeOverflow
			}
			m = m*10 + int64(c-'0')
		default:
			return 0, CodeConversion
		}
	}
	if digits == 0 {
		return 0, CodeConversion
	}
	for ; frac < t.Scale; frac++ {
		if m > math.MaxInt64/10 {
			return 0, CodeOverflow
		}
		m *= 10
	}
	if roundUp {
		m++
	}
	if t.Precision < 19 && m >= pow10[t.Precision] {
		return 0, CodeOverflow
	}
	if neg {
		m = -m
	}
	return m, 0
}

// formatDecimal appends the text of mantissa m with scale digits.
func formatDecimal(b []byte, m int64, scale int) []byte {
	if scale == 0 {
		return strconv.AppendInt(b, m, 10)
	}
	if m < 0 {
		b = append(b, '-')
		m = -m
	}
	b = strconv.AppendInt(b, m/pow10[scale], 10)
	b = append(b, '.')
	f := m % pow10[scale]
	for d := scale - 1; d >= 0; d-- {
		b = append(b, byte('0'+f/pow10[d]%10))
	}
	return b
}

// fromText converts text to a value of type t. ok is false (code set)
// when the text does not fit. An empty field is NULL except for text.
func fromText(s string, t pkgspec.DataType) (Value, int) {
	store := t.Store()
	if s == "" && store != pkgspec.StoreString && store != pkgspec.StoreBytes {
		return Value{Null: true}, 0
	}
	switch store {
	case pkgspec.StoreString, pkgspec.StoreBytes:
		if t.CodePage != 0 && t.CodePage != 65001 {
			n, ok := strBytes(s, t.CodePage)
			if !ok {
				return Value{}, CodeConversion
			}
			if t.Length > 0 && n > t.Length {
				return Value{}, CodeTruncation
			}
			return Value{S: s}, 0
		}
		if t.Length > 0 && len(s) > t.Length {
			if store == pkgspec.StoreBytes || t.Name == "DT_STR" || utf8.RuneCountInString(s) > t.Length {
				return Value{}, CodeTruncation
			}
		}
		return Value{S: s}, 0
	case pkgspec.StoreInt:
		i, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
				return Value{}, CodeOverflow
			}
			return Value{}, CodeConversion
		}
		return intValue(i, t)
	case pkgspec.StoreFloat:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return Value{}, CodeConversion
		}
		return floatValue(f, t)
	case pkgspec.StoreDecimal:
		m, code := parseDecimal(s, t)
		return Value{I: m}, code
	case pkgspec.StoreBool:
		switch strings.ToLower(s) {
		case "true", "1", "t", "yes", "y":
			return Value{I: 1}, 0
		case "false", "0", "f", "no", "n":
			return Value{I: 0}, 0
		}
		return Value{}, CodeConversion
	case pkgspec.StoreTime:
		tm, ok := parseTime(s)
		if !ok {
			return Value{}, CodeConversion
		}
		return timeValue(tm, t), 0
	}
	return Value{}, CodeConversion
}

func intValue(i int64, t pkgspec.DataType) (Value, int) {
	lo, hi := t.IntRange()
	if i < lo || i > hi {
		return Value{}, CodeOverflow
	}
	return Value{I: i}, 0
}

func floatValue(f float64, t pkgspec.DataType) (Value, int) {
	if t.Name == "DT_R4" && !math.IsInf(f, 0) && math.Abs(f) > math.MaxFloat32 {
		return Value{}, CodeOverflow
	}
	if t.Name == "DT_R4" {
		f = float64(float32(f))
	}
	return Value{F: f}, 0
}

func timeValue(tm time.Time, t pkgspec.DataType) Value {
	tm = tm.UTC()
	if t.Name == "DT_DBDATE" {
		tm = tm.Truncate(24 * time.Hour)
	}
	return Value{I: tm.UnixNano()}
}

// appendText appends the text form of v (of type t) to b; NULL is empty.
func appendText(b []byte, v Value, t pkgspec.DataType) []byte {
	if v.Null {
		return b
	}
	switch t.Store() {
	case pkgspec.StoreString, pkgspec.StoreBytes:
		return append(b, v.S...)
	case pkgspec.StoreInt:
		return strconv.AppendInt(b, v.I, 10)
	case pkgspec.StoreFloat:
		bits := 64
		if t.Name == "DT_R4" {
			bits = 32
		}
		return strconv.AppendFloat(b, v.F, 'f', -1, bits)
	case pkgspec.StoreDecimal:
		return formatDecimal(b, v.I, t.Scale)
	case pkgspec.StoreBool:
		if v.I != 0 {
			return append(b, "true"...)
		}
		return append(b, "false"...)
	case pkgspec.StoreTime:
		tm := time.Unix(0, v.I).UTC()
		if t.Name == "DT_DBDATE" || (t.Name == "DT_DATE" && v.I%(24*int64(time.Hour)) == 0) {
			return tm.AppendFormat(b, "2006-01-02")
		}
		return tm.AppendFormat(b, "2006-01-02 15:04:05.999999999")
	}
	return b
}

// text returns the text form of v.
func text(v Value, t pkgspec.DataType) string { return string(appendText(nil, v, t)) }

// toAny returns the value expressions see for v: bool, int64, float64,
// string, time.Time or nil for NULL.
func toAny(v Value, t pkgspec.DataType) any {
	if v.Null {
		return nil
	}
	switch t.Store() {
	case pkgspec.StoreString, pkgspec.StoreBytes:
		return v.S
	case pkgspec.StoreInt:
		return v.I
	case pkgspec.StoreFloat:
		return v.F
	case pkgspec.StoreDecimal:
		return float64(v.I) / float64(pow10[t.Scale])
	case pkgspec.StoreBool:
		return v.I != 0
	case pkgspec.StoreTime:
		return time.Unix(0, v.I).UTC()
	}
	return nil
}

// fromAny converts a Go value (an expression result, a scanned SQL value,
// a decoded JSON value) to type t.
func fromAny(x any, t pkgspec.DataType) (Value, int) {
	switch x := x.(type) {
	case nil:
		return Value{Null: true}, 0
	case string:
		return fromText(x, t)
	case []byte:
		return fromText(string(x), t)
	case bool:
		switch t.Store() {
		case pkgspec.StoreBool:
			return Value{I: b2i(x)}, 0
		case pkgspec.StoreInt, pkgspec.StoreFloat, pkgspec.StoreDecimal:
			return fromInt(b2i(x), t)
		case pkgspec.StoreString:
			return fromText(strconv.FormatBool(x), t)
		}
	case int:
		return fromInt(int64(x), t)
	case int64:
		return fromInt(x, t)
	case int32:
		return fromInt(int64(x), t)
	case int16:
		return fromInt(int64(x), t)
	case int8:
		return fromInt(int64(x), t)
	case uint8:
		return fromInt(int64(x), t)
	case uint16:
		return fromInt(int64(x), t)
	case uint32:
		return fromInt(int64(x), t)
	case uint64:
		if x > math.MaxInt64 {
			return Value{}, CodeOverflow
		}
		return fromInt(int64(x), t)
	case float64:
		return fromFloat(x, t)
	case float32:
		return fromFloat(float64(x), t)
	case time.Time:
		switch t.Store() {
		case pkgspec.StoreTime:
			return timeValue(x, t), 0
		case pkgspec.StoreString:
			return fromText(x.UTC().Format("2006-01-02 15:04:05.999999999"), t)
		}
	}
	if s, ok := x.(fmt.Stringer); ok {
		return fromText(s.String(), t)
	}
	return Value{}, CodeConversion
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func fromInt(i int64, t pkgspec.DataType) (Value, int) {
	switch t.Store() {
	case pkgspec.StoreInt:
		return intValue(i, t)
	case pkgspec.StoreFloat:
		return floatValue(float64(i), t)
	case pkgspec.StoreDecimal:
		p := pow10[t.Scale]
		if i > math.MaxInt64/p || i < math.MinInt64/p {
			return Value{}, CodeOverflow
		}
		m := i * p
		if t.Precision < 19 && (m >= pow10[t.Precision] || -m >= pow10[t.Precision]) {
			return Value{}, CodeOverflow
		}
		return Value{I: m}, 0
	case pkgspec.StoreBool:
		return Value{I: b2i(i != 0)}, 0
	case pkgspec.StoreString:
		return fromText(strconv.FormatInt(i, 10), t)
	}
	return Value{}, CodeConversion
}

func fromFloat(f float64, t pkgspec.DataType) (Value, int) {
	switch t.Store() {
	case pkgspec.StoreFloat:
		return floatValue(f, t)
	case pkgspec.StoreInt:
		if math.IsNaN(f) || f < -9.2233720368547e18 || f > 9.2233720368547e18 {
			return Value{}, CodeOverflow
		}
		return intValue(int64(math.Round(f)), t)
	case pkgspec.StoreDecimal:
		m := math.Round(f * float64(pow10[t.Scale]))
		lim := float64(pow10[min(t.Precision, 18)])
		if math.IsNaN(m) || m >= lim || -m >= lim {
			return Value{}, CodeOverflow
		}
		return Value{I: int64(m)}, 0
	case pkgspec.StoreBool:
		return Value{I: b2i(f != 0)}, 0
	case pkgspec.StoreString:
		return fromText(strconv.FormatFloat(f, 'f', -1, 64), t)
	}
	return Value{}, CodeConversion
}

// convert converts v of type from to type to (Data Conversion).
func convert(v Value, from, to pkgspec.DataType) (Value, int) {
	if v.Null {
		return v, 0
	}
	fs, ts := from.Store(), to.Store()
	switch {
	case fs == ts && fs == pkgspec.StoreDecimal:
		if from.Scale == to.Scale {
			if to.Precision < 19 && (v.I >= pow10[to.Precision] || -v.I >= pow10[to.Precision]) {
				return Value{}, CodeOverflow
			}
			return v, 0
		}
		return fromText(text(v, from), to)
	case fs == ts && fs == pkgspec.StoreInt:
		return intValue(v.I, to)
	case fs == ts && fs == pkgspec.StoreFloat:
		return floatValue(v.F, to)
	case fs == pkgspec.StoreString || fs == pkgspec.StoreBytes:
		return fromText(v.S, to)
	case ts == pkgspec.StoreString || ts == pkgspec.StoreBytes:
		return fromText(text(v, from), to)
	case fs == pkgspec.StoreInt || fs == pkgspec.StoreBool:
		return fromInt(v.I, to)
	case fs == pkgspec.StoreFloat:
		return fromFloat(v.F, to)
	case fs == pkgspec.StoreDecimal:
		if ts == pkgspec.StoreInt && from.Scale == 0 {
			return intValue(v.I, to)
		}
		return fromAny(toAny(v, from), to)
	case fs == ts:
		return v, 0
	}
	return Value{}, CodeConversion
}

// codeText describes a conversion failure of the value shown as s.
func codeText(code int, s string, t pkgspec.DataType) string {
	switch code {
	case CodeTruncation:
		return fmt.Sprintf("%q is longer than %s allows", short(s), t)
	case CodeOverflow:
		return fmt.Sprintf("%s is out of range for %s", short(s), t)
	}
	if t.Name == "DT_STR" && t.CodePage != 0 && t.CodePage != 65001 {
		if _, ok := strBytes(s, t.CodePage); !ok {
			return fmt.Sprintf("cannot convert %q to %s: code page %d has no such character", short(s), t, t.CodePage)
		}
	}
	return fmt.Sprintf("cannot convert %q to %s", short(s), t)
}

func short(s string) string {
	if len(s) > 60 {
		return s[:57] + "..."
	}
	return s
}

// compare orders two non-NULL values of comparable types a and b.
func compare(x Value, a pkgspec.DataType, y Value, b pkgspec.DataType) int {
	sa, sb := a.Store(), b.Store()
	if sa == sb && (sa != pkgspec.StoreDecimal || a.Scale == b.Scale) {
		switch sa {
		case pkgspec.StoreString, pkgspec.StoreBytes:
			return strings.Compare(x.S, y.S)
		case pkgspec.StoreFloat:
			return cmpNum(x.F, y.F)
		default:
			return cmpNum(x.I, y.I)
		}
	}
	if a.IsNumeric() && b.IsNumeric() {
		if sa == pkgspec.StoreInt && sb == pkgspec.StoreInt {
			return cmpNum(x.I, y.I)
		}
		return cmpNum(numeric(x, a), numeric(y, b))
	}
	return strings.Compare(text(x, a), text(y, b))
}

// compareNull orders NULL before any value.
func compareNull(x Value, a pkgspec.DataType, y Value, b pkgspec.DataType) int {
	switch {
	case x.Null && y.Null:
		return 0
	case x.Null:
		return -1
	case y.Null:
		return 1
	}
	return compare(x, a, y, b)
}

// cmpNum orders two numbers. Unlike cmp.Compare, a NaN is neither less
// nor greater than anything (0).
func cmpNum[T int64 | float64](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// numeric returns v as a float64 (numeric types).
func numeric(v Value, t pkgspec.DataType) float64 {
	switch t.Store() {
	case pkgspec.StoreInt, pkgspec.StoreBool:
		return float64(v.I)
	case pkgspec.StoreDecimal:
		return float64(v.I) / float64(pow10[t.Scale])
	}
	return v.F
}
