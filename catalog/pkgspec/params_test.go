package pkgspec

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestCanonical(t *testing.T) {
	tests := []struct {
		typ, in, want string
		ok            bool
	}{
		{TypeString, " any thing ", " any thing ", true},
		{"", "x", "x", true},
		{TypeInt, "0", "0", true},
		{TypeInt, "+042", "42", true},
		{TypeInt, "-9223372036854775808", "-9223372036854775808", true},
		{TypeInt, "9223372036854775808", "", false},
		{TypeInt, "1.0", "", false},
		{TypeInt, "0x10", "", false},
		{TypeInt, "", "", false},
		{TypeFloat, "1.50", "1.5", true},
		{TypeFloat, "1e3", "1000", true},
		{TypeFloat, "-0.25", "-0.25", true},
		{TypeFloat, "NaN", "", false},
		{TypeFloat, "Inf", "", false},
		{TypeFloat, "abc", "", false},
		{TypeBool, "true", "true", true},
		{TypeBool, "FALSE", "false", true},
		{TypeBool, "1", "true", true},
		{TypeBool, "yes", "", false},
		{TypeDateTime, "2024-05-01T10:00:00Z", "2024-05-01T10:00:00Z", true},
		{TypeDateTime, "2024-05-01T10:00:00.500+02:00", "2024-05-01T10:00:00.5+02:00", true},
		{TypeDateTime, "2024-05-01", "", false},
		{TypeDateTime, "2024-05-01 10:00:00Z", "", false},
		{"decimal", "1", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.typ+"/"+tt.in, func(t *testing.T) {
			got, err := Canonical(tt.typ, tt.in)
			if (err == nil) != tt.ok || got != tt.want {
				t.Fatalf("Canonical(%q, %q) = %q, %v; want %q, ok=%v", tt.typ, tt.in, got, err, tt.want, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrParamType) {
				t.Errorf("error %v does not wrap ErrParamType", err)
			}
		})
	}
}

func TestPackage_ResolveParams(t *testing.T) {
	pkg, err := Parse("p.yaml", []byte(`name: p
parameters:
  who:  {type: string, default: world}
  code: {type: int, default: 0}
  when: {type: datetime, required: true}
  pin:  {type: int, sensitive: true, default: 1234}
`+okTasks))
	if err != nil {
		t.Fatal(err)
	}
	noParams := &Package{Name: "n"}
	const when = "2024-01-01T00:00:00Z"
	tests := []struct {
		name     string
		pkg      *Package
		given    map[string]string
		want     map[string]string
		errs     []string // substrings of the error, one per problem
		sentinel []error
	}{
		{name: "defaults filled", pkg: pkg, given: map[string]string{"when": when},
			want: map[string]string{"who": "world", "code": "0", "when": when, "pin": "1234"}},
		{name: "given values canonicalised", pkg: pkg, given: map[string]string{"who": "", "code": "+7", "when": "2024-01-01T02:00:00+02:00", "pin": "0042"},
			want: map[string]string{"who": "", "code": "7", "when": "2024-01-01T02:00:00+02:00", "pin": "42"}},
		{name: "unknown parameter", pkg: pkg, given: map[string]string{"when": when, "whom": "x"},
			errs: []string{`unknown parameter "whom" (known: who, code, when, pin)`}, sentinel: []error{ErrUnknownParam}},
		{name: "unknown parameter, none declared", pkg: noParams, given: map[string]string{"x": "1"},
			errs: []string{`unknown parameter "x" (the package declares no parameters)`}, sentinel: []error{ErrUnknownParam}},
		{name: "wrong type", pkg: pkg, given: map[string]string{"when": when, "code": "three"},
			errs: []string{`parameter "code" (int): invalid value "three": wrong parameter type: not a 64-bit integer`}, sentinel: []error{ErrParamType}},
		{name: "wrong type sensitive value hidden", pkg: pkg, given: map[string]string{"when": when, "pin": "s3cret"},
			errs: []string{`parameter "pin" (int): invalid value (sensitive value hidden)`}, sentinel: []error{ErrParamType}},
		{name: "required missing", pkg: pkg, given: nil,
			errs: []string{`parameter "when" (datetime) is required but was given no value`}, sentinel: []error{ErrParamRequired}},
		{name: "all problems reported", pkg: pkg, given: map[string]string{"b": "1", "a": "2", "code": "x"},
			errs:     []string{`unknown parameter "a"`, `unknown parameter "b"`, `parameter "code" (int)`, `parameter "when" (datetime) is required`},
			sentinel: []error{ErrUnknownParam, ErrParamType, ErrParamRequired}},
		{name: "no parameters", pkg: noParams, want: map[string]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.pkg.ResolveParams(tt.given)
			if len(tt.errs) == 0 {
				if err != nil || !reflect.DeepEqual(got, tt.want) {
					t.Fatalf("ResolveParams = %v, %v; want %v", got, err, tt.want)
				}
				return
			}
			if err == nil || got != nil {
				t.Fatalf("ResolveParams = %v, nil; want error", got)
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != len(tt.errs) {
				t.Fatalf("error has %d lines, want %d:\n%v", len(lines), len(tt.errs), err)
			}
			for i, w := range tt.errs {
				if !strings.Contains(lines[i], w) {
					t.Errorf("error line %d = %q, want it to contain %q", i, lines[i], w)
				}
			}
			for _, s := range tt.sentinel {
				if !errors.Is(err, s) {
					t.Errorf("error does not wrap %v", s)
				}
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Error("error shows a sensitive value")
			}
		})
	}
}

func TestValidateName(t *testing.T) {
	checkNames(t, "ValidateName", ValidateName,
		[]string{"hello", "Load Sales (daily) – v2.1", "日本語", strings.Repeat("é", MaxNameLen)},
		[]string{strings.Repeat("é", MaxNameLen+1), "", " a", "a ", "a\nb", "a\x7fb", `a"b`, "a<b", "a>b", "a|b", "a\xffb"})
}

func TestValidateParamName(t *testing.T) {
	checkNames(t, "ValidateParamName", ValidateParamName,
		[]string{"who", "_x9", "X_Y", strings.Repeat("a", MaxNameLen)},
		[]string{strings.Repeat("a", MaxNameLen+1), "", "9x", "a-b", "a.b", "é"})
}

// checkNames reports each name of valid that validate (named fn) refuses
// and each name of invalid it accepts.
func checkNames(t *testing.T, fn string, validate func(string) error, valid, invalid []string) {
	t.Helper()
	for _, c := range []struct {
		names []string
		ok    bool
	}{{valid, true}, {invalid, false}} {
		for _, name := range c.names {
			if err := validate(name); (err == nil) != c.ok {
				t.Errorf("%s(%q) = %v, want ok=%v", fn, name, err, c.ok)
			}
		}
	}
}
