package pkgspec

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Parameter types, the values of Parameter.Type.
const (
	// TypeString accepts any string.
	TypeString = "string"
	// TypeInt accepts a 64-bit signed decimal integer.
	TypeInt = "int"
	// TypeFloat accepts a finite 64-bit floating point number.
	TypeFloat = "float"
	// TypeBool accepts true or false (also 1/0, t/f, TRUE/FALSE ...).
	TypeBool = "bool"
	// TypeDateTime accepts an RFC 3339 timestamp.
	TypeDateTime = "datetime"
)

// Types lists the parameter types in documentation order.
var Types = []string{TypeString, TypeInt, TypeFloat, TypeBool, TypeDateTime}

// MaxNameLen is the longest name, in characters, of a package, task or
// parameter.
const MaxNameLen = 128

var paramNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// ValidateName checks a package or task name: 1 to MaxNameLen characters of
// valid UTF-8, no control characters, none of `"<>|`, and no leading or
// trailing white space.
func ValidateName(name string) error {
	switch n := utf8.RuneCountInString(name); {
	case n == 0:
		return errors.New("name is empty")
	case n > MaxNameLen:
		return fmt.Errorf("name is %d characters long (at most %d allowed)", n, MaxNameLen)
	case !utf8.ValidString(name):
		return errors.New("name is not valid UTF-8")
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return fmt.Errorf("name contains control character %U", r)
		}
		if strings.ContainsRune(`"<>|`, r) {
			return fmt.Errorf("name contains %q (not allowed: \" < > |)", r)
		}
	}
	first, _ := utf8.DecodeRuneInString(name)
	last, _ := utf8.DecodeLastRuneInString(name)
	if unicode.IsSpace(first) || unicode.IsSpace(last) {
		return errors.New("name has leading or trailing white space")
	}
	return nil
}

// ValidateParamName checks a parameter name: a letter or underscore followed
// by letters, digits and underscores, at most MaxNameLen characters.
func ValidateParamName(name string) error {
	if len(name) > MaxNameLen {
		return fmt.Errorf("name is %d characters long (at most %d allowed)", len(name), MaxNameLen)
	}
	if !paramNameRE.MatchString(name) {
		return errors.New("name must match ^[A-Za-z_][A-Za-z0-9_]*$")
	}
	return nil
}

// Canonical checks value against the parameter type typ and returns its
// canonical string form: integers in decimal without sign or leading zeros,
// floats in shortest 'g' form, bools as "true"/"false", datetimes in RFC
// 3339 with the offset kept. Strings are returned unchanged. Errors wrap
// ErrParamType.
func Canonical(typ, value string) (string, error) {
	switch typ {
	case TypeString, "":
		return value, nil
	case TypeInt:
		n, err := strconv.ParseInt(value, 10, 64)
		if err != nil {
			return "", fmt.Errorf("%w: not a 64-bit integer", ErrParamType)
		}
		return strconv.FormatInt(n, 10), nil
	case TypeFloat:
		f, err := strconv.ParseFloat(value, 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return "", fmt.Errorf("%w: not a finite number", ErrParamType)
		}
		return strconv.FormatFloat(f, 'g', -1, 64), nil
	case TypeBool:
		b, err := strconv.ParseBool(value)
		if err != nil {
			return "", fmt.Errorf("%w: not true or false", ErrParamType)
		}
		return strconv.FormatBool(b), nil
	case TypeDateTime:
		t, err := time.Parse(time.RFC3339Nano, value)
		if err != nil {
			return "", fmt.Errorf("%w: not an RFC 3339 date and time such as 2006-01-02T15:04:05Z", ErrParamType)
		}
		return t.Format(time.RFC3339Nano), nil
	}
	return "", fmt.Errorf("%w: unknown type %q", ErrParamType, typ)
}

// ResolveParams checks given values (as strings, e.g. from --param
// NAME=VALUE or JSON) against the declared parameters and returns the full
// set of values in canonical string form, with defaults filled in. It reports
// every unknown parameter, mistyped value and missing required parameter,
// joined into one error whose parts wrap ErrUnknownParam, ErrParamType and
// ErrParamRequired. Values of sensitive parameters never appear in errors.
func (p *Package) ResolveParams(given map[string]string) (map[string]string, error) {
	var errs []error
	names := make([]string, 0, len(given))
	for name := range given {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if p.Param(name) == nil {
			errs = append(errs, fmt.Errorf("%w %q (%s)", ErrUnknownParam, name, p.knownParams()))
		}
	}
	out := make(map[string]string, len(p.Parameters))
	for _, pr := range p.Parameters {
		v, ok := given[pr.Name]
		if !ok {
			if pr.Default == nil {
				errs = append(errs, fmt.Errorf("%w: parameter %q (%s) is required but was given no value", ErrParamRequired, pr.Name, pr.typ()))
				continue
			}
			v = *pr.Default
		}
		c, err := Canonical(pr.typ(), v)
		if err != nil {
			shown := strconv.Quote(v)
			if pr.Sensitive {
				shown = "(sensitive value hidden)"
			}
			errs = append(errs, fmt.Errorf("parameter %q (%s): invalid value %s: %w", pr.Name, pr.typ(), shown, err))
			continue
		}
		out[pr.Name] = c
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

func (p *Package) knownParams() string {
	if len(p.Parameters) == 0 {
		return "the package declares no parameters"
	}
	names := make([]string, len(p.Parameters))
	for i, pr := range p.Parameters {
		names[i] = pr.Name
	}
	return "known: " + strings.Join(names, ", ")
}

func (pr *Parameter) typ() string {
	if pr.Type == "" {
		return TypeString
	}
	return pr.Type
}
