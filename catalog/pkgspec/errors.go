package pkgspec

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors returned (wrapped) by ResolveParams, Interpolate and
// Canonical; test with errors.Is.
var (
	// ErrUnknownParam reports a value given for, or a reference to, a
	// parameter the package does not declare.
	ErrUnknownParam = errors.New("unknown parameter")
	// ErrParamType reports a value that does not match its parameter type.
	ErrParamType = errors.New("wrong parameter type")
	// ErrParamRequired reports a required parameter that was given no value.
	ErrParamRequired = errors.New("required parameter missing")
	// ErrBadReference reports a malformed "${...}" in an interpolated string.
	ErrBadReference = errors.New("bad reference")
)

// Problem is one thing wrong with a package file.
type Problem struct {
	File string
	Line int // 1-based; 0 when the problem has no particular line
	Msg  string
}

// String formats the problem as "file:line: msg", leaving out the line when
// it is 0 and the file when it is empty.
func (p Problem) String() string {
	switch {
	case p.File != "" && p.Line > 0:
		return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Msg)
	case p.File != "":
		return p.File + ": " + p.Msg
	case p.Line > 0:
		return fmt.Sprintf("line %d: %s", p.Line, p.Msg)
	}
	return p.Msg
}

// ValidationError lists every problem Parse found in a package file, ordered
// by line.
type ValidationError struct {
	Problems []Problem
}

// Error returns one "file:line: msg" line per problem.
func (e *ValidationError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}
