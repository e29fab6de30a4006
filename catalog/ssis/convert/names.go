package convert

import (
	"fmt"
	"github.com/scaleout/scaleout/catalog/pkgspec"
	"strings"
	"unicode"
)

// identifier turns an SSIS name into a native identifier (parameters,
// variables, connections): letters, digits and _, not starting with a
// digit.
func identifier(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)) || r == '_' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	out := b.String()
	if out == "" || unicode.IsDigit(rune(out[0])) {
		out = "_" + out
	}
	return out
}

// taskName turns an SSIS executable name into a native task name (1-128
// characters, none of "<>|, no control characters, no outer spaces).
func taskName(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || strings.ContainsRune(`"<>|`, r) {
			return '_'
		}
		return r
	}, strings.TrimSpace(s))
	if s == "" {
		s = "_"
	}
	if len(s) > 120 {
		s = s[:120]
	}
	return s
}

// unique hands out names, adding " (2)", " (3)"... (or _2 for
// identifiers) to repeats.
type unique struct {
	used  map[string]bool
	ident bool
}

func newUnique(ident bool) *unique { return &unique{used: map[string]bool{}, ident: ident} }

func (u *unique) take(name string) string {
	key := strings.ToLower(name)
	if !u.used[key] {
		u.used[key] = true
		return name
	}
	for i := 2; ; i++ {
		c := fmt.Sprintf("%s (%d)", name, i)
		if u.ident {
			c = fmt.Sprintf("%s_%d", name, i)
		}
		if !u.used[strings.ToLower(c)] {
			u.used[strings.ToLower(c)] = true
			return c
		}
	}
}

// splitWindowsArgs splits a command line as Windows programs do
// (pkgspec.SplitCommandLine).
func splitWindowsArgs(s string) []string { return pkgspec.SplitCommandLine(s) }
