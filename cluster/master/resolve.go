package master

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/scaleout/scaleout/catalog"
	"github.com/scaleout/scaleout/catalog/pkgspec"
	"github.com/scaleout/scaleout/catalog/service"
)

// ProjectParamPrefix marks an override of a project parameter whose name a
// package parameter also uses: "project.NAME".
const ProjectParamPrefix = "project."

// resolveInput is everything an execution's values are resolved from.
type resolveInput struct {
	project *catalog.Project
	version *catalog.ProjectVersion
	pkg     *catalog.PackageInfo
	env     *catalog.Environment // nil when the execution names none
	// overrides are the caller's values by parameter name ("NAME" for the
	// package's parameter, else the project's; "project.NAME" for the
	// project's).
	overrides map[string]string
	seal      func(string) (string, error)
}

// resolved are an execution's frozen values; sensitive ones are sealed.
type resolved struct {
	params, projectParams       map[string]string
	sensitive, projectSensitive []string
}

// resolve computes every parameter value as SSIS does: an override, else
// the environment variable the parameter is bound to, else the server-side
// literal, else the default; a parameter left without a value is an error if
// it is required. Every problem is reported. Values are type-checked and
// canonical; sensitive values are sealed, and are never shown in errors.
func resolve(in resolveInput) (*resolved, error) {
	var errs []error
	out := &resolved{params: map[string]string{}, projectParams: map[string]string{}}
	pkgOverrides, projOverrides := map[string]string{}, map[string]string{}
	for _, name := range sortedKeys(in.overrides) {
		v := in.overrides[name]
		switch {
		case strings.HasPrefix(name, ProjectParamPrefix) && findParam(in.version.Parameters, strings.TrimPrefix(name, ProjectParamPrefix)) != nil:
			projOverrides[strings.TrimPrefix(name, ProjectParamPrefix)] = v
		case findParam(in.pkg.Parameters, name) != nil:
			pkgOverrides[name] = v
		case findParam(in.version.Parameters, name) != nil:
			projOverrides[name] = v
		default:
			errs = append(errs, fmt.Errorf("%w %q: package %s declares %s; project %s declares %s", pkgspec.ErrUnknownParam, name,
				in.pkg.Name, paramNames(in.pkg.Parameters), in.version.Project, paramNames(in.version.Parameters)))
		}
	}
	one := func(owner string, defs []pkgspec.Parameter, overrides map[string]string, values map[string]string, sensitive *[]string) {
		for _, d := range defs {
			v, err := resolveOne(in, owner, d, overrides)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if v == nil {
				continue
			}
			values[d.Name] = *v
			if d.Sensitive {
				*sensitive = append(*sensitive, d.Name)
			}
		}
	}
	one(in.pkg.Name, in.pkg.Parameters, pkgOverrides, out.params, &out.sensitive)
	one("", in.version.Parameters, projOverrides, out.projectParams, &out.projectSensitive)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

func describe(owner string, d pkgspec.Parameter) string {
	if owner == "" {
		return fmt.Sprintf("project parameter %q (%s)", d.Name, d.Type)
	}
	return fmt.Sprintf("parameter %q (%s) of package %s", d.Name, d.Type, owner)
}

// resolveOne returns the value of one parameter, or nil for an optional
// parameter without any value.
func resolveOne(in resolveInput, owner string, d pkgspec.Parameter, overrides map[string]string) (*string, error) {
	what := describe(owner, d)
	finish := func(v string, sealed bool) (*string, error) {
		if !sealed {
			c, err := pkgspec.Canonical(d.Type, v)
			if err != nil {
				shown := fmt.Sprintf("%q", v)
				if d.Sensitive {
					shown = "(sensitive value hidden)"
				}
				return nil, fmt.Errorf("%s: invalid value %s: %w", what, shown, err)
			}
			v = c
			if d.Sensitive {
				s, err := in.seal(v)
				if err != nil {
					return nil, err
				}
				v = s
			}
		}
		return &v, nil
	}
	if v, ok := overrides[d.Name]; ok {
		return finish(v, false)
	}
	sv := in.project.Value(owner, d.Name)
	if sv != nil && sv.Kind == catalog.ValueReference {
		if in.env != nil {
			vr := in.env.Variable(sv.Variable)
			if vr == nil {
				return nil, fmt.Errorf("%w: %s is bound to variable %q, which environment %s/%s does not have",
					pkgspec.ErrParamRequired, what, sv.Variable, in.env.Folder, in.env.Name)
			}
			return bindVariable(what, d, vr, finish)
		}
		sv = nil // bound, but no environment given: fall through to the default
	}
	if sv != nil {
		return finish(sv.Value, sv.Sensitive)
	}
	if d.Default != nil {
		return finish(*d.Default, false)
	}
	if d.Required {
		if ref := in.project.Value(owner, d.Name); ref != nil && ref.Kind == catalog.ValueReference {
			return nil, fmt.Errorf("%w: %s is bound to environment variable %q but the execution names no environment (use --env)", pkgspec.ErrParamRequired, what, ref.Variable)
		}
		return nil, fmt.Errorf("%w: %s is required but has no value (give --param, a server-side value or an environment binding)", pkgspec.ErrParamRequired, what)
	}
	return nil, nil
}

// ErrSensitiveBinding is reported when a sensitive variable is bound to a
// parameter that is not sensitive (its value would be shown in clear). It is
// also a catalog.ErrInvalid (the API answers 400).
var ErrSensitiveBinding = service.Classify(catalog.ErrInvalid, errors.New("sensitive variable bound to a non-sensitive parameter"))

func bindVariable(what string, d pkgspec.Parameter, vr *catalog.Variable, finish func(string, bool) (*string, error)) (*string, error) {
	if vr.Sensitive && !d.Sensitive {
		return nil, fmt.Errorf("%w: %s takes variable %q", ErrSensitiveBinding, what, vr.Name)
	}
	if vr.Type != d.Type {
		// A non-sensitive value may still convert (a string "5" to an int);
		// a sealed one cannot be checked, so types must match exactly.
		if vr.Sensitive {
			return nil, fmt.Errorf("%w: %s takes sensitive variable %q of type %s", pkgspec.ErrParamType, what, vr.Name, vr.Type)
		}
		if _, err := pkgspec.Canonical(d.Type, vr.Value); err != nil {
			return nil, fmt.Errorf("%w: %s takes variable %q of type %s, value %q: %v", pkgspec.ErrParamType, what, vr.Name, vr.Type, vr.Value, err)
		}
	}
	return finish(vr.Value, vr.Sensitive)
}

func findParam(defs []pkgspec.Parameter, name string) *pkgspec.Parameter {
	for i := range defs {
		if defs[i].Name == name {
			return &defs[i]
		}
	}
	return nil
}

func paramNames(defs []pkgspec.Parameter) string {
	if len(defs) == 0 {
		return "no parameters"
	}
	names := make([]string, len(defs))
	for i, d := range defs {
		names[i] = d.Name
	}
	return strings.Join(names, ", ")
}

func sortedKeys(m map[string]string) []string {
	return slices.Sorted(maps.Keys(m))
}

// projectRef is a reference to a project parameter in a connection
// property: ${project.NAME}.
var projectRef = regexp.MustCompile(`\$\{project\.([A-Za-z_][A-Za-z0-9_]*)\}`)

// resolveConnections substitutes ${project.NAME} in the properties of the
// project's connections with the resolved project parameter values, so
// that the worker gets them ready to use. A property that takes a
// sensitive (sealed) value is sealed as a whole; a reference to a project
// parameter without a value is an error naming the connection.
func resolveConnections(conns []pkgspec.ConnectionManager, projectParams map[string]string, cipher *catalog.Cipher) ([]pkgspec.ConnectionManager, error) {
	var errs []error
	out := make([]pkgspec.ConnectionManager, 0, len(conns))
	for _, c := range conns {
		rc := pkgspec.ConnectionManager{Name: c.Name, Type: c.Type, Description: c.Description}
		if len(c.Properties) > 0 {
			rc.Properties = make(map[string]string, len(c.Properties))
		}
		for _, k := range sortedKeys(c.Properties) {
			v, sensitive, err := substituteProject(c.Properties[k], projectParams, cipher)
			if err != nil {
				errs = append(errs, fmt.Errorf("%w: connection %q property %s: %v", catalog.ErrInvalid, c.Name, k, err))
				continue
			}
			if sensitive {
				if v, err = cipher.Seal(v); err != nil {
					return nil, err
				}
			}
			rc.Properties[k] = v
		}
		out = append(out, rc)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// substituteProject replaces every ${project.NAME} in v, opening sealed
// values; sensitive reports whether one was sealed.
func substituteProject(v string, params map[string]string, cipher *catalog.Cipher) (out string, sensitive bool, err error) {
	out = projectRef.ReplaceAllStringFunc(v, func(ref string) string {
		name := projectRef.FindStringSubmatch(ref)[1]
		val, ok := params[name]
		if !ok {
			if err == nil {
				err = fmt.Errorf("project parameter %q has no value (it is not declared, or optional and not given)", name)
			}
			return ""
		}
		if catalog.IsSealed(val) {
			sensitive = true
			clear, oerr := cipher.Open(val)
			if oerr != nil && err == nil {
				err = fmt.Errorf("project parameter %q: %v", name, oerr)
			}
			return clear
		}
		return val
	})
	return out, sensitive, err
}
