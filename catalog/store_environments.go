package catalog

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/scaleout/scaleout/catalog/pkgspec"
)

// Environment reads one environment.
func (t *Tx) Environment(folder, name string) (*Environment, error) {
	return getInFolder[Environment](t, bucketEnvironments, "environment", folder, name)
}

// Environments lists the environments of a folder by name.
func (t *Tx) Environments(folder string) ([]*Environment, error) {
	return listInFolder[Environment](t, bucketEnvironments, folder)
}

// CreateEnvironment creates an empty environment in a folder.
func (t *Tx) CreateEnvironment(folder, name, description string, now time.Time) error {
	if _, err := t.Folder(folder); err != nil {
		return err
	}
	if err := ValidateObjectName("environment", name); err != nil {
		return err
	}
	if err := CheckDescription("environment", description); err != nil {
		return err
	}
	b := t.tx.Bucket(bucketEnvironments)
	if b.Get(nameKey(folder, name)) != nil {
		return fmt.Errorf("environment %q in folder %q: %w", name, folder, ErrExists)
	}
	return putJSON(b, nameKey(folder, name), &Environment{Folder: folder, Name: name, Description: description, CreatedAt: now})
}

// DeleteEnvironment deletes an environment. References to it from projects
// are removed with it (SSIS does the same).
func (t *Tx) DeleteEnvironment(folder, name string) error {
	if _, err := t.Environment(folder, name); err != nil {
		return err
	}
	projects, err := t.allProjects()
	if err != nil {
		return err
	}
	for _, p := range projects {
		n := len(p.EnvRefs)
		p.EnvRefs = slices.DeleteFunc(p.EnvRefs, func(r EnvRef) bool {
			f, en := r.Resolve(p.Folder)
			return f == folder && en == name
		})
		if len(p.EnvRefs) != n {
			if err := t.putProject(p); err != nil {
				return err
			}
		}
	}
	return t.tx.Bucket(bucketEnvironments).Delete(nameKey(folder, name))
}

// ValidateVariable checks a variable's name and type, and (unless it is
// sealed) that its value matches the type; it returns the variable with the
// value in canonical form.
func ValidateVariable(v Variable) (Variable, error) {
	if err := pkgspec.ValidateParamName(v.Name); err != nil {
		return v, invalidf("variable name %.140q: %v", v.Name, err)
	}
	if err := CheckDescription("variable", v.Description); err != nil {
		return v, err
	}
	if err := CheckValue("value of variable "+v.Name, v.Value, v.Sensitive && IsSealed(v.Value)); err != nil {
		return v, err
	}
	if v.Type == "" {
		v.Type = pkgspec.TypeString
	}
	if !slices.Contains(pkgspec.Types, v.Type) {
		return v, invalidf("variable %q has unknown type %q (want one of: string, int, float, bool, datetime)", v.Name, v.Type)
	}
	if v.Sensitive {
		if !IsSealed(v.Value) {
			return v, invalidf("sensitive variable %q must be sealed before it is stored", v.Name)
		}
		return v, nil
	}
	c, err := pkgspec.Canonical(v.Type, v.Value)
	if err != nil {
		return v, invalidf("variable %q (%s): invalid value %q: %v", v.Name, v.Type, v.Value, err)
	}
	v.Value = c
	return v, nil
}

// SetVariable creates or replaces (or with remove, deletes) a variable of an
// environment.
func (t *Tx) SetVariable(folder, env string, v Variable, remove bool) error {
	e, err := t.Environment(folder, env)
	if err != nil {
		return err
	}
	if remove {
		if e.Variable(v.Name) == nil {
			return fmt.Errorf("variable %q of environment %s/%s: %w", v.Name, folder, env, ErrNotFound)
		}
	} else if v, err = ValidateVariable(v); err != nil {
		return err
	}
	e.Variables = slices.DeleteFunc(e.Variables, func(x Variable) bool { return x.Name == v.Name })
	if !remove {
		e.Variables = append(e.Variables, v)
		slices.SortFunc(e.Variables, func(a, b Variable) int { return strings.Compare(a.Name, b.Name) })
	}
	return putJSON(t.tx.Bucket(bucketEnvironments), nameKey(folder, env), e)
}
