package convert

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/scaleout/scaleout/catalog/ssis"
	"github.com/scaleout/scaleout/catalog/ssisexpr"
)

// propertyTargets lists, per task creation name, the properties whose
// property expressions become SSIS-expression templates in the native
// field they set. Expressions on other properties make the task
// unsupported.
var propertyTargets = map[string][]string{
	"Microsoft.ExecuteSQLTask": {"SqlStatementSource"},
	"Microsoft.ExecuteProcess": {"Executable", "Arguments", "WorkingDirectory"},
	"Microsoft.FileSystemTask": {"Source", "Destination"},
	"Microsoft.SendMailTask":   {"FromLine", "ToLine", "CCLine", "BCCLine", "Subject", "MessageSource"},
}

// convertibleExpressions reports whether e has property expressions and
// every one of them sets a property with a native counterpart.
func convertibleExpressions(e *ssis.Executable) bool {
	if len(e.Expressions) == 0 || len(unconvertedProperties(e)) > 0 {
		return false
	}
	for _, x := range e.Expressions {
		pe, err := ssisexpr.Parse(x)
		if err != nil {
			return false
		}
		for _, r := range pe.Refs() {
			if strings.EqualFold(r.Namespace, "$Project") {
				return false
			}
		}
	}
	return true
}

// unconvertedProperties returns, sorted, the properties of e set by
// property expressions that have no native counterpart.
func unconvertedProperties(e *ssis.Executable) []string {
	var bad []string
	for p := range e.Expressions {
		if !slices.Contains(propertyTargets[e.CreationName], p) {
			bad = append(bad, p)
		}
	}
	sort.Strings(bad)
	return bad
}

// checkPropertyExpressions returns why e's property expressions cannot be
// converted, or nil.
func (pc *pkgConv) checkPropertyExpressions(e *ssis.Executable) error {
	if len(e.Expressions) == 0 {
		return nil
	}
	if bad := unconvertedProperties(e); len(bad) > 0 {
		return fmt.Errorf("property expressions on %s are not converted (no native field takes them)", strings.Join(bad, ", "))
	}
	for _, p := range slices.Sorted(maps.Keys(e.Expressions)) {
		if err := pc.checkReads(e.Expressions[p]); err != nil {
			return fmt.Errorf("the property expression on %s: %w", p, err)
		}
	}
	if !pc.ssisMode {
		return fmt.Errorf("property expressions are SSIS expressions: %s", needExpr)
	}
	return nil
}

// checkReads checks that what an SSIS expression reads exists in the
// converted package: User variables it declares and package parameters;
// project parameters reach packages only through connections.
func (pc *pkgConv) checkReads(x string) error {
	if strings.TrimSpace(x) == "" {
		return fmt.Errorf("it is empty")
	}
	pe, err := ssisexpr.Parse(x)
	if err != nil {
		return fmt.Errorf("%q: %w", x, err)
	}
	for _, r := range pe.Refs() {
		switch strings.ToLower(r.Namespace) {
		case "$project":
			return fmt.Errorf("it reads %s, and project parameters reach packages only through connections", r)
		case "user", "":
			if _, ok := pc.vars[strings.ToLower("User::"+r.Name)]; !ok && r.Namespace != "" {
				return fmt.Errorf("it reads %s, which the package does not declare", r)
			}
		}
	}
	return nil
}

// propExpr returns the ${...} template of the property expression that
// sets prop on e, if e has one. A path gets its backslashes turned into
// slashes at run time, as the converter does for the paths it reads.
func (pc *pkgConv) propExpr(e *ssis.Executable, prop string, path bool) (string, bool) {
	x, ok := e.Expressions[prop]
	if !ok || !pc.ssisMode {
		return "", false
	}
	x = strings.TrimSpace(x)
	if path {
		x = `REPLACE(` + x + `, "\\", "/")`
	}
	return "${" + x + "}", true
}
