package ssisexpr

import (
	"errors"
	"math/big"
	"slices"
	"sync"
	"testing"
	"time"
)

func TestRefs(t *testing.T) {
	e, err := Parse(`@[User::X] + @Y + @[$Package::P] + [My Col] + @[User::X] + Src.Col`)
	if err != nil {
		t.Fatal(err)
	}
	got := []string{}
	for _, r := range e.Refs() {
		got = append(got, r.String())
	}
	want := []string{"@[User::X]", "@[Y]", "@[$Package::P]", "[My Col]", "[Src.Col]"}
	if !slices.Equal(got, want) {
		t.Fatalf("refs %v, want %v", got, want)
	}
}

func TestErrorPositions(t *testing.T) {
	for _, c := range []struct {
		src  string
		kind error
		pos  int
	}{
		{`1 + "a"`, ErrType, 3},
		{`"é" + 1`, ErrType, 5},
		{`LEN(1) + 2`, ErrType, 5},
		{`(1 + 2`, ErrSyntax, 7},
		{`2 * (DT_I4)"x"`, ErrEval, 5},
		{`1 + 10 / (5 - 5)`, ErrEval, 8},
	} {
		p, err := Compile(c.src, Vars{})
		if err == nil {
			_, err = p.Eval(Vars{})
		}
		var e *Error
		if !errors.As(err, &e) || !errors.Is(err, c.kind) || e.Pos != c.pos {
			t.Errorf("%s: error %v, want a %v at character %d", c.src, err, c.kind, c.pos)
		}
	}
}

func TestGoConversion(t *testing.T) {
	tm := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, c := range []struct {
		in   any
		t    Type
		want any
	}{
		{int64(5), Type{}, int64(5)},
		{5, I4, int64(5)},
		{"7", I4, int64(7)},
		{"2.5", R8, 2.5},
		{true, Type{}, true},
		{nil, I4, nil},
		{tm, Type{}, tm},
		{"2026-01-02 03:04:05", DBTimestamp, tm},
		{uint64(1 << 63), Type{}, uint64(1 << 63)},
		{uint32(9), Type{}, int64(9)},
		{"1.25", Type{Kind: KindNumeric, Precision: 5, Scale: 2}, 1.25},
		{big.NewRat(1, 4), Type{}, 0.25},
	} {
		v, err := FromGo(c.in, c.t)
		if err != nil {
			t.Errorf("FromGo(%v, %s): %v", c.in, c.t, err)
			continue
		}
		if got := v.Go(); got != c.want && !(c.want == nil && got == nil) {
			if gt, ok := got.(time.Time); !ok || !gt.Equal(c.want.(time.Time)) {
				t.Errorf("FromGo(%v, %s).Go() = %#v, want %#v", c.in, c.t, got, c.want)
			}
		}
	}
	if _, err := FromGo(struct{}{}, Type{}); err == nil {
		t.Error("FromGo(struct{}) succeeded")
	}
	if _, err := FromGo("x", I4); err == nil {
		t.Error(`FromGo("x", DT_I4) succeeded`)
	}
}

func TestParseType(t *testing.T) {
	for src, want := range map[string]string{
		"DT_I4": "DT_I4", "dt_wstr, 50": "DT_WSTR, 50", "DT_STR,30,1252": "DT_STR, 30, 1252",
		"DT_NUMERIC, 10, 2": "DT_NUMERIC, 10, 2", "DT_DECIMAL,2": "DT_DECIMAL, 2", "DT_DBTIMESTAMP2": "DT_DBTIMESTAMP2, 7",
	} {
		ty, err := ParseType(src)
		if err != nil || ty.String() != want {
			t.Errorf("ParseType(%q) = %s, %v; want %s", src, ty, err, want)
		}
	}
	for _, bad := range []string{"DT_NOPE", "DT_WSTR", "DT_WSTR, x", "DT_I4, 1", "DT_NUMERIC, 5, 6"} {
		if _, err := ParseType(bad); err == nil {
			t.Errorf("ParseType(%q) succeeded", bad)
		}
	}
}

// A Program is shared by goroutines (run with -race).
func TestProgram_Concurrent(t *testing.T) {
	vars := testVars(t)
	p, err := Compile(`UPPER(@[User::S]) + (DT_WSTR, 10)(@N * 2) + (DT_WSTR, 30)DATEADD("d", 1, @[User::D])`, vars)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				v, err := p.Eval(vars)
				if err != nil || v.String() != "HELLO202003-08-07 10:20:30.123000000" {
					t.Errorf("got %s, %v", v, err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestFunctionNames(t *testing.T) {
	names := FunctionNames()
	for _, want := range []string{"LEN", "DATEADD", "TOKEN", "REPLACENULL", "NULL", "ISNULL", "POWER"} {
		if !slices.Contains(names, want) {
			t.Errorf("FunctionNames lacks %s", want)
		}
	}
}

func BenchmarkEval(b *testing.B) {
	vars := Vars{Values: map[Ref]Value{{Namespace: "User", Name: "N"}: NewI4(10), {Name: "Name", Column: true}: NewWStr("Anderson")}}
	p, err := Compile(`@N % 2 == 0 ? UPPER(SUBSTRING(Name, 1, 3)) : "odd"`, vars)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := p.Eval(vars); err != nil {
			b.Fatal(err)
		}
	}
}
