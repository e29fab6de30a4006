package pkgspec

import (
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// Storage kinds of data flow values: how a column of a DataType is held in
// memory by the engine and seen by expressions.
const (
	// StoreBool holds DT_BOOL as 0/1; expressions see bool.
	StoreBool = iota + 1
	// StoreInt holds DT_I1..DT_I8 and DT_UI1..DT_UI8 as int64; expressions
	// see int64.
	StoreInt
	// StoreFloat holds DT_R4 and DT_R8 as float64.
	StoreFloat
	// StoreDecimal holds DT_NUMERIC and DT_DECIMAL as an int64 scaled by
	// 10^Scale (exact); expressions see float64.
	StoreDecimal
	// StoreString holds DT_STR and DT_WSTR.
	StoreString
	// StoreBytes holds DT_BYTES (as a string of bytes); expressions see a
	// string.
	StoreBytes
	// StoreTime holds DT_DATE, DT_DBDATE, DT_DBTIMESTAMP, DT_DBTIMESTAMP2
	// as UTC Unix nanoseconds; expressions see time.Time.
	StoreTime
)

// DataType is an SSIS data flow type with its length, precision and scale.
type DataType struct {
	// Name is the SSIS name, e.g. "DT_I4", "DT_WSTR", "DT_NUMERIC".
	Name string
	// Length is the maximum length of DT_STR (bytes), DT_WSTR
	// (characters) and DT_BYTES (bytes); 0 means unbounded.
	Length int
	// Precision and Scale are those of DT_NUMERIC and DT_DECIMAL; Scale is
	// also the fractional digits of DT_DBTIMESTAMP2.
	Precision, Scale int
	// CodePage is the code page of a DT_STR column (DT_STR(n,1252)): its
	// Length counts bytes in that code page, and a character the code page
	// cannot hold does not convert. 0 (none given) and 65001 are UTF-8.
	CodePage int
	// store caches the storage kind: Store is on every hot path.
	store int
}

// TypeNamed returns the type called name (an SSIS name such as "DT_I8")
// with no length, precision or scale.
func TypeNamed(name string) DataType { return DataType{Name: name, store: dataTypes[name].store} }

// dataTypeInfo describes one SSIS type name.
type dataTypeInfo struct {
	store    int
	min, max int64 // integer range
	args     string
}

// MaxDecimalPrecision is the largest DT_NUMERIC precision: values are
// held exactly in an int64.
const MaxDecimalPrecision = 18

var dataTypes = map[string]dataTypeInfo{
	"DT_BOOL":         {store: StoreBool},
	"DT_I1":           {store: StoreInt, min: math.MinInt8, max: math.MaxInt8},
	"DT_I2":           {store: StoreInt, min: math.MinInt16, max: math.MaxInt16},
	"DT_I4":           {store: StoreInt, min: math.MinInt32, max: math.MaxInt32},
	"DT_I8":           {store: StoreInt, min: math.MinInt64, max: math.MaxInt64},
	"DT_UI1":          {store: StoreInt, min: 0, max: math.MaxUint8},
	"DT_UI2":          {store: StoreInt, min: 0, max: math.MaxUint16},
	"DT_UI4":          {store: StoreInt, min: 0, max: math.MaxUint32},
	"DT_UI8":          {store: StoreInt, min: 0, max: math.MaxInt64},
	"DT_R4":           {store: StoreFloat},
	"DT_R8":           {store: StoreFloat},
	"DT_NUMERIC":      {store: StoreDecimal, args: "precision,scale"},
	"DT_DECIMAL":      {store: StoreDecimal, args: "scale"},
	"DT_STR":          {store: StoreString, args: "length,code_page"},
	"DT_WSTR":         {store: StoreString, args: "length"},
	"DT_BYTES":        {store: StoreBytes, args: "length"},
	"DT_DATE":         {store: StoreTime},
	"DT_DBDATE":       {store: StoreTime},
	"DT_DBTIMESTAMP":  {store: StoreTime},
	"DT_DBTIMESTAMP2": {store: StoreTime, args: "scale"},
}

// DataTypeNames lists the SSIS type names accepted in column types.
var DataTypeNames = []string{"DT_BOOL", "DT_I1", "DT_I2", "DT_I4", "DT_I8", "DT_UI1", "DT_UI2", "DT_UI4", "DT_UI8",
	"DT_R4", "DT_R8", "DT_NUMERIC(p,s)", "DT_DECIMAL(s)", "DT_STR(n)", "DT_STR(n,codepage)", "DT_WSTR(n)", "DT_BYTES(n)",
	"DT_DATE", "DT_DBDATE", "DT_DBTIMESTAMP", "DT_DBTIMESTAMP2(s)"}

// ParseDataType parses a type such as "DT_I4", "DT_WSTR(50)",
// "DT_NUMERIC(10,2)" (case-insensitive). DT_STR, DT_WSTR and DT_BYTES
// without a length are unbounded; DT_NUMERIC without arguments is
// (18,0).
func ParseDataType(s string) (DataType, error) {
	name, args, hasArgs := strings.Cut(strings.TrimSpace(s), "(")
	name = strings.ToUpper(strings.TrimSpace(name))
	info, ok := dataTypes[name]
	if !ok {
		return DataType{}, fmt.Errorf("unknown data type %q (want one of: %s)", s, strings.Join(DataTypeNames, ", "))
	}
	t := TypeNamed(name)
	var nums []int
	if hasArgs {
		if !strings.HasSuffix(args, ")") {
			return DataType{}, fmt.Errorf("data type %q: missing )", s)
		}
		for _, a := range strings.Split(strings.TrimSuffix(args, ")"), ",") {
			n, err := strconv.Atoi(strings.TrimSpace(a))
			if err != nil || n < 0 {
				return DataType{}, fmt.Errorf("data type %q: %q is not a non-negative integer", s, strings.TrimSpace(a))
			}
			nums = append(nums, n)
		}
	}
	want := 0
	if info.args != "" {
		want = len(strings.Split(info.args, ","))
	}
	if len(nums) > want {
		if want == 0 {
			return DataType{}, fmt.Errorf("data type %s takes no arguments", name)
		}
		return DataType{}, fmt.Errorf("data type %s takes (%s)", name, info.args)
	}
	switch info.args {
	case "length":
		if len(nums) == 1 {
			t.Length = nums[0]
		}
	case "length,code_page":
		if len(nums) >= 1 {
			t.Length = nums[0]
		}
		if len(nums) == 2 {
			if !CodePageSupported(nums[1]) {
				return DataType{}, fmt.Errorf("data type %q: code page %d is not supported (want one of: %s)", s, nums[1], codePageList())
			}
			t.CodePage = nums[1]
		}
	case "precision,scale":
		t.Precision, t.Scale = MaxDecimalPrecision, 0
		if len(nums) >= 1 {
			t.Precision = nums[0]
		}
		if len(nums) == 2 {
			t.Scale = nums[1]
		}
	case "scale":
		if len(nums) == 1 {
			t.Scale = nums[0]
		}
		if name == "DT_DECIMAL" {
			t.Precision = MaxDecimalPrecision
		}
	}
	if info.store == StoreDecimal {
		if t.Precision < 1 || t.Precision > MaxDecimalPrecision {
			return DataType{}, fmt.Errorf("data type %q: precision must be 1 to %d", s, MaxDecimalPrecision)
		}
		if t.Scale > t.Precision {
			return DataType{}, fmt.Errorf("data type %q: scale %d is larger than precision %d", s, t.Scale, t.Precision)
		}
	}
	if name == "DT_DBTIMESTAMP2" && t.Scale > 7 {
		return DataType{}, fmt.Errorf("data type %q: scale must be 0 to 7", s)
	}
	return t, nil
}

// Store returns the storage kind of the type (one of the Store constants).
func (t DataType) Store() int {
	if t.store != 0 {
		return t.store
	}
	return dataTypes[t.Name].store
}

// IntRange returns the range of an integer type.
func (t DataType) IntRange() (lo, hi int64) {
	i := dataTypes[t.Name]
	return i.min, i.max
}

// String formats the type as ParseDataType reads it.
func (t DataType) String() string {
	switch dataTypes[t.Name].args {
	case "length", "length,code_page":
		if t.CodePage != 0 {
			return fmt.Sprintf("%s(%d,%d)", t.Name, t.Length, t.CodePage)
		}
		if t.Length > 0 {
			return fmt.Sprintf("%s(%d)", t.Name, t.Length)
		}
	case "precision,scale":
		return fmt.Sprintf("%s(%d,%d)", t.Name, t.Precision, t.Scale)
	case "scale":
		return fmt.Sprintf("%s(%d)", t.Name, t.Scale)
	}
	return t.Name
}

// CodePages are the code pages a DT_STR column may have: UTF-8 (65001),
// US-ASCII (20127) and the single-byte Windows, ISO 8859 and DOS code
// pages. Multi-byte ANSI code pages (932, 936, 949, 950) are not.
var CodePages = []int{65001, 20127, 1250, 1251, 1252, 1253, 1254, 1255, 1256, 1257, 1258,
	28591, 28592, 28593, 28594, 28595, 28596, 28597, 28598, 28599, 28603, 28605, 437, 850, 852, 855, 858, 860, 862, 863, 865, 866, 874}

// CodePageSupported reports whether cp is one of CodePages.
func CodePageSupported(cp int) bool {
	for _, c := range CodePages {
		if c == cp {
			return true
		}
	}
	return false
}

func codePageList() string {
	s := make([]string, len(CodePages))
	for i, c := range CodePages {
		s[i] = strconv.Itoa(c)
	}
	return strings.Join(s, ", ")
}

// IsNumeric reports an integer, float or decimal type.
func (t DataType) IsNumeric() bool {
	s := t.Store()
	return s == StoreInt || s == StoreFloat || s == StoreDecimal
}

// Comparable reports whether values of a and b can be compared (join keys,
// union inputs): both numeric, both text, or the same storage.
func Comparable(a, b DataType) bool {
	if a.IsNumeric() && b.IsNumeric() {
		return true
	}
	sa, sb := a.Store(), b.Store()
	if (sa == StoreString || sa == StoreBytes) && (sb == StoreString || sb == StoreBytes) {
		return true
	}
	return sa == sb
}

// Column is a typed column of a data flow path.
type Column struct {
	Name string
	Type DataType
}

// Error output columns added by components whose on_error is redirect.
const (
	ErrorCodeColumn        = "ErrorCode"
	ErrorColumnColumn      = "ErrorColumn"
	ErrorDescriptionColumn = "ErrorDescription"
)

// exprSample returns a value of the Go type expressions see for t.
func exprSample(t DataType) any {
	switch t.Store() {
	case StoreBool:
		return false
	case StoreInt:
		return int64(0)
	case StoreFloat, StoreDecimal:
		return float64(0)
	case StoreTime:
		return time.Time{}
	}
	return ""
}

// typeOfExpr maps the static result type of an expression to a data type;
// ok is false when the type is not known at validation time.
func typeOfExpr(rt reflect.Type) (DataType, bool) {
	if rt == nil {
		return DataType{}, false
	}
	switch rt.Kind() {
	case reflect.Bool:
		return TypeNamed("DT_BOOL"), true
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return TypeNamed("DT_I8"), true
	case reflect.Float32, reflect.Float64:
		return TypeNamed("DT_R8"), true
	case reflect.String:
		return TypeNamed("DT_WSTR"), true
	}
	if rt == reflect.TypeOf(time.Time{}) {
		return TypeNamed("DT_DBTIMESTAMP"), true
	}
	return DataType{}, false
}
