package catalog

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// DefaultKeepVersions is how many versions of a project are kept by default
// (SSIS keeps 10).
const DefaultKeepVersions = 10

// Project reads one project.
func (t *Tx) Project(folder, name string) (*Project, error) {
	return getInFolder[Project](t, bucketProjects, "project", folder, name)
}

func (t *Tx) putProject(p *Project) error {
	return putJSON(t.tx.Bucket(bucketProjects), nameKey(p.Folder, p.Name), p)
}

// Projects lists the projects of a folder by name.
func (t *Tx) Projects(folder string) ([]*Project, error) {
	return listInFolder[Project](t, bucketProjects, folder)
}

func (t *Tx) allProjects() ([]*Project, error) {
	return listJSON[Project](t.tx.Bucket(bucketProjects), nil, nil)
}

func versionKey(folder, project string, v uint64) []byte {
	return append(append(nameKey(folder, project), 0), u64key(v)...)
}

// ProjectVersion reads version v of a project.
func (t *Tx) ProjectVersion(folder, project string, v uint64) (*ProjectVersion, error) {
	var pv ProjectVersion
	ok, err := getJSON(t.tx.Bucket(bucketVersions), versionKey(folder, project, v), &pv)
	if err != nil {
		return nil, err
	}
	if !ok {
		if _, perr := t.Project(folder, project); perr != nil {
			return nil, perr
		}
		return nil, fmt.Errorf("version %d of project %s/%s: %w", v, folder, project, ErrNotFound)
	}
	return &pv, nil
}

// ProjectVersions lists the kept versions of a project, oldest first.
func (t *Tx) ProjectVersions(folder, project string) ([]*ProjectVersion, error) {
	if _, err := t.Project(folder, project); err != nil {
		return nil, err
	}
	prefix := append(nameKey(folder, project), 0)
	// A key of another length is a project whose name extends this one's.
	return listJSON[ProjectVersion](t.tx.Bucket(bucketVersions), prefix, func(k []byte) bool { return len(k) == len(prefix)+8 })
}

// DeployVersion stores pv as the next version of its project (creating the
// project on first deployment) and makes it current. The archive pv.Hash
// must already be committed. Versions beyond keep (oldest first, never the
// current one) are deleted with their archives when no other version uses
// them. It returns the version number.
func (t *Tx) DeployVersion(pv *ProjectVersion, keep int, now time.Time) (uint64, error) {
	if _, err := t.Folder(pv.Folder); err != nil {
		return 0, err
	}
	if err := ValidateObjectName("project", pv.Project); err != nil {
		return 0, err
	}
	if err := CheckVersion(pv); err != nil {
		return 0, err
	}
	if _, err := t.ArchiveInfo(pv.Hash); err != nil {
		return 0, err
	}
	if keep <= 0 {
		keep = DefaultKeepVersions
	}
	p, err := t.Project(pv.Folder, pv.Project)
	if err != nil {
		p = &Project{Folder: pv.Folder, Name: pv.Project, CreatedAt: now}
	}
	p.LastVersion++
	p.Version = p.LastVersion
	p.Description = pv.Description
	p.UpdatedAt = now
	pv.Version = p.Version
	pv.DeployedAt = now
	if err := putJSON(t.tx.Bucket(bucketVersions), versionKey(pv.Folder, pv.Project, pv.Version), pv); err != nil {
		return 0, err
	}
	if err := t.addArchiveRef(pv.Hash, 1); err != nil {
		return 0, err
	}
	if err := t.putProject(p); err != nil {
		return 0, err
	}
	return pv.Version, t.pruneVersions(p, keep)
}

func (t *Tx) pruneVersions(p *Project, keep int) error {
	versions, err := t.ProjectVersions(p.Folder, p.Name)
	if err != nil {
		return err
	}
	for i := 0; len(versions)-i > keep && i < len(versions); i++ {
		if versions[i].Version == p.Version {
			continue
		}
		if err := t.deleteVersion(versions[i]); err != nil {
			return err
		}
	}
	return nil
}

func (t *Tx) deleteVersion(pv *ProjectVersion) error {
	if err := t.tx.Bucket(bucketVersions).Delete(versionKey(pv.Folder, pv.Project, pv.Version)); err != nil {
		return err
	}
	return t.addArchiveRef(pv.Hash, -1)
}

// RestoreVersion makes an earlier kept version the current one.
func (t *Tx) RestoreVersion(folder, project string, v uint64, now time.Time) error {
	p, err := t.Project(folder, project)
	if err != nil {
		return err
	}
	if _, err := t.ProjectVersion(folder, project, v); err != nil {
		return err
	}
	p.Version = v
	p.UpdatedAt = now
	return t.putProject(p)
}

// DeleteProject deletes a project, its versions and the archives no other
// version uses. Executions keep their history.
func (t *Tx) DeleteProject(folder, project string) error {
	if _, err := t.Project(folder, project); err != nil {
		return err
	}
	versions, err := t.ProjectVersions(folder, project)
	if err != nil {
		return err
	}
	for _, pv := range versions {
		if err := t.deleteVersion(pv); err != nil {
			return err
		}
	}
	return t.tx.Bucket(bucketProjects).Delete(nameKey(folder, project))
}

// SetParamValue sets (or with clear, removes) the server-side value of a
// project or package parameter. The caller has checked the parameter and
// the value against the current version.
func (t *Tx) SetParamValue(folder, project string, v ParamValue, clear bool, now time.Time) error {
	p, err := t.Project(folder, project)
	if err != nil {
		return err
	}
	if err := v.check(); err != nil {
		return err
	}
	p.Values = slices.DeleteFunc(p.Values, func(x ParamValue) bool { return x.Package == v.Package && x.Name == v.Name })
	if !clear {
		switch v.Kind {
		case ValueLiteral, ValueReference:
		default:
			return invalidf("value kind %q (want %s or %s)", v.Kind, ValueLiteral, ValueReference)
		}
		p.Values = append(p.Values, v)
		slices.SortFunc(p.Values, func(a, b ParamValue) int {
			if c := strings.Compare(a.Package, b.Package); c != 0 {
				return c
			}
			return strings.Compare(a.Name, b.Name)
		})
	}
	p.UpdatedAt = now
	return t.putProject(p)
}

// SetEnvRef adds (or with remove, removes) an environment reference of a
// project. Adding requires the environment to exist; adding twice is
// ErrExists.
func (t *Tx) SetEnvRef(folder, project string, ref EnvRef, remove bool, now time.Time) error {
	p, err := t.Project(folder, project)
	if err != nil {
		return err
	}
	has := p.HasEnvRef(ref)
	switch {
	case remove && !has:
		return fmt.Errorf("project %s/%s has no reference to environment %s: %w", folder, project, ref, ErrNotFound)
	case remove:
		f, n := ref.Resolve(folder)
		p.EnvRefs = slices.DeleteFunc(p.EnvRefs, func(x EnvRef) bool {
			xf, xn := x.Resolve(folder)
			return xf == f && xn == n
		})
	case has:
		return fmt.Errorf("project %s/%s already references environment %s: %w", folder, project, ref, ErrExists)
	default:
		f, n := ref.Resolve(folder)
		if _, err := t.Environment(f, n); err != nil {
			return err
		}
		p.EnvRefs = append(p.EnvRefs, ref)
	}
	p.UpdatedAt = now
	return t.putProject(p)
}
