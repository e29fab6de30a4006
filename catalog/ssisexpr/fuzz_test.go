package ssisexpr

import (
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"
)

// FuzzParseEval checks that no input makes Parse, Check or Eval panic and
// that every failure is an *Error of one of the three kinds.
func FuzzParseEval(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s)
	}
	vars := Vars{Clock: func() time.Time { return testClock }, Values: map[Ref]Value{
		{Namespace: "User", Name: "N"}:      NewI4(10),
		{Namespace: "User", Name: "S"}:      NewWStr("Hello"),
		{Namespace: "User", Name: "Null"}:   NullOf(I4),
		{Namespace: "User", Name: "D"}:      NewTime(KindDBTimestamp, testClock),
		{Namespace: "$Package", Name: "P"}:  NewWStr("pkg"),
		{Name: "Name", Column: true}:        NewWStr("Anderson"),
		{Namespace: "User", Name: "R"}:      NewR8(2.5),
		{Namespace: "User", Name: "U"}:      {T: Type{Kind: KindUI8}, v: uint64(1 << 63)},
		{Namespace: "User", Name: "B"}:      NewBool(false),
		{Namespace: "User", Name: "Dec"}:    {T: Type{Kind: KindNumeric, Precision: 38, Scale: 10}, v: mustRat("12345678901234567890.0123456789")},
		{Namespace: "User", Name: "Offset"}: NewTime(KindDBTimestampOffset, testClock),
	}}
	f.Fuzz(func(t *testing.T, src string) {
		e, err := Parse(src)
		if err != nil {
			checkErr(t, src, err, ErrSyntax)
			return
		}
		_ = e.Refs()
		p, err := e.Check(vars)
		if err != nil {
			checkErr(t, src, err, ErrType)
			return
		}
		v, err := p.Eval(vars)
		if err != nil {
			checkErr(t, src, err, ErrEval)
			return
		}
		_ = v.String()
		_ = v.Go()
		if !v.Null && v.T != p.Type() {
			t.Fatalf("%q: value type %s, checked type %s", src, v.T, p.Type())
		}
	})
}

func checkErr(t *testing.T, src string, err error, kind error) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) || !errors.Is(err, kind) {
		t.Fatalf("%q: error %v (%T) is not an *Error of kind %v", src, err, err, kind)
	}
}

// fuzzSeeds takes every expression of the table tests as a seed.
func fuzzSeeds() []string {
	seeds := []string{`LEN(REPLICATE("x", 8000000)) + LEN(REPLICATE("x", 8000000)) + LEN(REPLICATE("x", 8000000)) + LEN(REPLICATE("x", 8000000)) + LEN(REPLICATE("x", 8000000)) + LEN(REPLICATE("x", 8000000)) + LEN(REPLICATE("x", 8000000)) + LEN(REPLICATE("x", 8000000)) + LEN(REPLICATE("x", 8000000))`, "@[User::N] + 1", `DATEADD("d", @N, @D)`, `(DT_NUMERIC, 38, 10)@Dec * @Dec`, `@U + 1UL`, `(DT_DBTIMESTAMP)@Offset`}
	re := regexp.MustCompile("src: `([^`]*)`")
	for _, src := range []string{exprTestSrc, funcsTestSrc} {
		for _, m := range re.FindAllStringSubmatch(src, -1) {
			seeds = append(seeds, m[1])
		}
	}
	return seeds
}

// TestEval_BytesBuiltAreBounded: a long expression of many maximal
// REPLICATEs is refused once it has built MaxEvalBytes in all, naming the
// limit, although no single result is over MaxString.
func TestEval_BytesBuiltAreBounded(t *testing.T) {
	one := `LEN(REPLICATE("x", 8000000))`
	src := one
	for i := 0; i < 11; i++ { // 12 x 8 MB = 96 MB built, each result under MaxString
		src += " + " + one
	}
	p, err := Compile(src, Vars{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Eval(Vars{})
	if err == nil || !errors.Is(err, ErrEval) || !strings.Contains(err.Error(), "ssisexpr.MaxEvalBytes") {
		t.Fatalf("got %v, want an evaluation error naming ssisexpr.MaxEvalBytes", err)
	}
	// Each evaluation has its own allowance: half as many pass, twice.
	p, err = Compile(strings.Join(strings.Split(src, " + ")[:6], " + "), Vars{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if v, err := p.Eval(Vars{}); err != nil || v.String() != "48000000" {
			t.Fatalf("run %d: %v %v", i, v, err)
		}
	}
}
