package ssisexpr

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// tc is one expression case: the result's text (Value.String) and, if
// set, its type; or the kind of error and a part of its message.
type tc struct {
	src    string
	typ    string
	want   string
	err    error
	errHas string
}

var testClock = time.Date(2026, 3, 14, 9, 26, 53, 589_000_000, time.UTC)

func testVars(t *testing.T) Vars {
	t.Helper()
	d, err := convert(strValue("2003-08-06 10:20:30.123"), DBTimestamp)
	if err != nil {
		t.Fatal(err)
	}
	return Vars{Clock: func() time.Time { return testClock }, Values: map[Ref]Value{
		{Namespace: "User", Name: "N"}:                    NewI4(10),
		{Namespace: "User", Name: "S"}:                    NewWStr("Hello"),
		{Namespace: "User", Name: "Null"}:                 NullOf(I4),
		{Namespace: "User", Name: "D"}:                    d,
		{Namespace: "User", Name: "Path"}:                 NewWStr(`c:\program files\data\myfile.txt`),
		{Namespace: "User", Name: "Sales$"}:               NewI4(100),
		{Namespace: "$Package", Name: "P"}:                NewWStr("pkg"),
		{Namespace: "$Project", Name: "Q"}:                NewI8(5),
		{Namespace: "System", Name: "PackageName"}:        NewWStr("Load"),
		{Name: "Name", Column: true}:                      NewWStr("Anderson"),
		{Name: "Middle Name", Column: true}:               NewWStr("Q"),
		{Name: "OLEDBSource.Age", Column: true}:           NewI4(21),
		{Name: "ListPrice", Column: true}:                 {T: Type{Kind: KindNumeric, Precision: 10, Scale: 2}, v: mustRat("500.00")},
		{Name: "Str", Column: true}:                       {T: Type{Kind: KindStr, Length: 20, CodePage: 1252}, v: "narrow"},
		{Namespace: "User", Name: "U"}:                    {T: Type{Kind: KindUI4}, v: uint64(7)},
		{Namespace: "User", Name: "Flag"}:                 NewBool(true),
		{Namespace: "User", Name: "NullB"}:                NullOf(Bool),
		{Namespace: "User", Name: "R"}:                    NewR8(2.5),
		{Namespace: "MyNamespace", Name: "N"}:             NewI4(2),
		{Namespace: "System", Name: "StartTime"}:          NewTime(KindDBTimestamp, time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)),
		{Namespace: "System", Name: "ContainerStartTime"}: NewTime(KindDBTimestamp, time.Date(2026, 3, 14, 9, 0, 1, 0, time.UTC)),
	}}
}

func runCases(t *testing.T, cases []tc) {
	t.Helper()
	vars := testVars(t)
	for _, c := range cases {
		p, err := Compile(c.src, vars)
		var v Value
		if err == nil {
			v, err = p.Eval(vars)
		}
		if c.err != nil {
			if err == nil {
				t.Errorf("%s: got %s (%s), want a %v", c.src, v, p.Type(), c.err)
				continue
			}
			if !errors.Is(err, c.err) {
				t.Errorf("%s: got error %v, want a %v", c.src, err, c.err)
			}
			if !strings.Contains(err.Error(), c.errHas) {
				t.Errorf("%s: error %q does not contain %q", c.src, err, c.errHas)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Errorf("%s: error %v is not an *Error", c.src, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.src, err)
			continue
		}
		if got := v.String(); got != c.want {
			t.Errorf("%s = %q, want %q", c.src, got, c.want)
		}
		if c.typ != "" && p.Type().String() != c.typ {
			t.Errorf("%s: type %s, want %s", c.src, p.Type(), c.typ)
		}
		if !v.Null && v.T != p.Type() {
			t.Errorf("%s: value type %s differs from the checked type %s", c.src, v.T, p.Type())
		}
	}
}

func mustRat(s string) any {
	v, err := numericLiteral(s)
	if err != nil {
		panic(err)
	}
	return v.v
}
