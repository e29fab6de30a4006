package master

import (
	"errors"
	"strings"
	"testing"

	"github.com/scaleout/scaleout/catalog"
	"github.com/scaleout/scaleout/catalog/pkgspec"
)

func sp(s string) *string { return &s }

func fakeSeal(s string) (string, error) { return catalog.SealedPrefix + "[" + s + "]", nil }

// TestResolve covers each resolution rule and each error, one row per case.
func TestResolve(t *testing.T) {
	version := &catalog.ProjectVersion{Folder: "F", Project: "P", Version: 3,
		Parameters: []pkgspec.Parameter{
			{Name: "region", Type: "string", Default: sp("emea")},
			{Name: "pw", Type: "string", Sensitive: true, Required: true},
		}}
	pkg := &catalog.PackageInfo{Name: "load", EntryPoint: true, Parameters: []pkgspec.Parameter{
		{Name: "n", Type: "int", Default: sp("1")},
		{Name: "when", Type: "datetime", Required: true},
		{Name: "token", Type: "string", Sensitive: true, Default: nil, Required: true},
	}}
	env := &catalog.Environment{Folder: "F", Name: "E", Variables: []catalog.Variable{
		{Name: "N", Type: "int", Value: "42"},
		{Name: "NSTR", Type: "string", Value: "43"},
		{Name: "WORD", Type: "string", Value: "abc"},
		{Name: "SECRET", Type: "string", Value: catalog.SealedPrefix + "sealed-secret", Sensitive: true},
		{Name: "SECRETINT", Type: "int", Value: catalog.SealedPrefix + "sealed-int", Sensitive: true},
	}}
	base := []catalog.ParamValue{
		{Package: "load", Name: "when", Kind: catalog.ValueLiteral, Value: "2026-01-01T00:00:00Z"},
		{Package: "load", Name: "token", Kind: catalog.ValueLiteral, Value: catalog.SealedPrefix + "server-token", Sensitive: true},
		{Name: "pw", Kind: catalog.ValueLiteral, Value: catalog.SealedPrefix + "server-pw", Sensitive: true},
	}
	with := func(extra ...catalog.ParamValue) []catalog.ParamValue {
		out := append([]catalog.ParamValue{}, extra...)
		for _, b := range base {
			dup := false
			for _, e := range extra {
				dup = dup || (e.Package == b.Package && e.Name == b.Name)
			}
			if !dup {
				out = append(out, b)
			}
		}
		return out
	}
	ref := func(pkg, name, variable string) catalog.ParamValue {
		return catalog.ParamValue{Package: pkg, Name: name, Kind: catalog.ValueReference, Variable: variable}
	}
	cases := []struct {
		name      string
		values    []catalog.ParamValue
		env       *catalog.Environment
		overrides map[string]string
		want      map[string]string // expected values ("project.x" for project parameters)
		err       error
		errText   string
	}{
		{name: "defaults and server literals", values: base,
			want: map[string]string{"n": "1", "when": "2026-01-01T00:00:00Z", "token": catalog.SealedPrefix + "server-token", "project.region": "emea", "project.pw": catalog.SealedPrefix + "server-pw"}},
		{name: "override beats everything", values: with(ref("load", "n", "N")), env: env, overrides: map[string]string{"n": "007"},
			want: map[string]string{"n": "7"}},
		{name: "environment beats server literal", values: with(ref("load", "n", "N")), env: env, want: map[string]string{"n": "42"}},
		{name: "string variable converts to int", values: with(ref("load", "n", "NSTR")), env: env, want: map[string]string{"n": "43"}},
		{name: "sensitive variable to sensitive parameter stays sealed", values: with(ref("load", "token", "SECRET")), env: env,
			want: map[string]string{"token": catalog.SealedPrefix + "sealed-secret"}},
		{name: "sensitive override is sealed", values: base, overrides: map[string]string{"token": "clear"},
			want: map[string]string{"token": catalog.SealedPrefix + "[clear]"}},
		{name: "project parameter by plain name", values: base, overrides: map[string]string{"region": "apac"}, want: map[string]string{"project.region": "apac"}},
		{name: "project parameter by prefix", values: base, overrides: map[string]string{"project.region": "us"}, want: map[string]string{"project.region": "us"}},
		{name: "reference without environment falls back to default", values: with(ref("load", "n", "N")), want: map[string]string{"n": "1"}},
		{name: "unknown override", values: base, overrides: map[string]string{"nope": "1"}, err: pkgspec.ErrUnknownParam},
		{name: "override of wrong type", values: base, overrides: map[string]string{"n": "x"}, err: pkgspec.ErrParamType},
		{name: "missing variable", values: with(ref("load", "n", "MISSING")), env: env, err: pkgspec.ErrParamRequired, errText: "MISSING"},
		{name: "variable of wrong type", values: with(ref("load", "n", "WORD")), env: env, err: pkgspec.ErrParamType, errText: "WORD"},
		{name: "sensitive variable of another type", values: with(catalog.ParamValue{Name: "pw", Kind: catalog.ValueReference, Variable: "SECRETINT"}), env: env, err: pkgspec.ErrParamType},
		{name: "sensitive variable to non-sensitive parameter", values: with(ref("load", "when", "SECRET")), env: env, err: ErrSensitiveBinding},
		{name: "required without value", values: nil, err: pkgspec.ErrParamRequired, errText: `"when"`},
		{name: "required bound but no environment", values: with(ref("load", "when", "N")), err: pkgspec.ErrParamRequired, errText: "--env"},
		{name: "sensitive value hidden in errors", values: base, overrides: map[string]string{"project.pw": "x"}, want: map[string]string{"project.pw": catalog.SealedPrefix + "[x]"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := resolveInput{project: &catalog.Project{Folder: "F", Name: "P", Values: c.values}, version: version, pkg: pkg,
				env: c.env, overrides: c.overrides, seal: fakeSeal}
			r, err := resolve(in)
			if c.err != nil {
				if !errors.Is(err, c.err) || !strings.Contains(errString(err), c.errText) {
					t.Fatalf("err = %v, want %v containing %q", err, c.err, c.errText)
				}
				if strings.Contains(errString(err), "server-token") || strings.Contains(errString(err), "sealed") {
					t.Fatalf("error shows a sensitive value: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for k, want := range c.want {
				got := r.params[k]
				if name, ok := strings.CutPrefix(k, "project."); ok {
					got = r.projectParams[name]
				}
				if got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
			if strings.Join(r.sensitive, ",") != "token" || strings.Join(r.projectSensitive, ",") != "pw" {
				t.Errorf("sensitive %v / %v", r.sensitive, r.projectSensitive)
			}
		})
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
