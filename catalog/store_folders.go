package catalog

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/scaleout/scaleout/catalog/pkgspec"
	bolt "go.etcd.io/bbolt"
)

// Buckets of the SSISDB objects. Projects and environments are keyed by
// "folder\x00name" (names cannot contain control characters), versions by
// "folder\x00project\x00" + 8-byte version, archives and uploads in staging
// by content hash, each a nested bucket of chunks.
var (
	bucketFolders      = []byte("folders")
	bucketProjects     = []byte("projects")
	bucketVersions     = []byte("project_versions")
	bucketEnvironments = []byte("environments")
	bucketArchives     = []byte("archives")
	bucketStaging      = []byte("staging")
)

func nameKey(parts ...string) []byte {
	var b bytes.Buffer
	for i, p := range parts {
		if i > 0 {
			b.WriteByte(0)
		}
		b.WriteString(p)
	}
	return b.Bytes()
}

func getJSON(b *bolt.Bucket, k []byte, out any) (bool, error) {
	v := b.Get(k)
	if v == nil {
		return false, nil
	}
	return true, json.Unmarshal(v, out)
}

// listJSON decodes the values of b whose keys start with prefix (all of
// them for a nil prefix), in key order; keep, if not nil, says which keys
// count.
func listJSON[T any](b *bolt.Bucket, prefix []byte, keep func(k []byte) bool) ([]*T, error) {
	out := []*T{}
	c := b.Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		if keep != nil && !keep(k) {
			continue
		}
		var x T
		if err := json.Unmarshal(v, &x); err != nil {
			return nil, err
		}
		out = append(out, &x)
	}
	return out, nil
}

// getInFolder reads the object (folder, name) of bucket, a project or an
// environment (what): a missing one is ErrNotFound, or the folder's error
// when the folder is missing too.
func getInFolder[T any](t *Tx, bucket []byte, what, folder, name string) (*T, error) {
	var x T
	ok, err := getJSON(t.tx.Bucket(bucket), nameKey(folder, name), &x)
	if err != nil {
		return nil, err
	}
	if !ok {
		if _, ferr := t.Folder(folder); ferr != nil {
			return nil, ferr
		}
		return nil, fmt.Errorf("%s %q in folder %q: %w", what, name, folder, ErrNotFound)
	}
	return &x, nil
}

// listInFolder lists the objects of a folder in bucket by name.
func listInFolder[T any](t *Tx, bucket []byte, folder string) ([]*T, error) {
	if _, err := t.Folder(folder); err != nil {
		return nil, err
	}
	return listJSON[T](t.tx.Bucket(bucket), folderPrefix(folder), nil)
}

func putJSON(b *bolt.Bucket, k []byte, v any) error {
	buf, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put(k, buf)
}

// ValidateObjectName checks the name of a folder, project, environment or
// package (pkgspec.ValidateName), naming what it is in the error.
func ValidateObjectName(what, name string) error {
	if len(name) > MaxNameBytes {
		return invalidf("%s name is %d bytes, over the limit of %d bytes", what, len(name), MaxNameBytes)
	}
	if err := pkgspec.ValidateName(name); err != nil {
		return invalidf("%s name %.140q: %v", what, name, err)
	}
	return nil
}

// Folder reads one folder.
func (t *Tx) Folder(name string) (*Folder, error) {
	var f Folder
	ok, err := getJSON(t.tx.Bucket(bucketFolders), []byte(name), &f)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("folder %q: %w", name, ErrNotFound)
	}
	return &f, nil
}

// Folders lists every folder by name.
func (t *Tx) Folders() ([]*Folder, error) {
	return listJSON[Folder](t.tx.Bucket(bucketFolders), nil, nil)
}

// CreateFolder creates a folder; ErrExists if the name is taken.
func (t *Tx) CreateFolder(name, description string, now time.Time) error {
	if err := ValidateObjectName("folder", name); err != nil {
		return err
	}
	if err := CheckDescription("folder", description); err != nil {
		return err
	}
	b := t.tx.Bucket(bucketFolders)
	if b.Get([]byte(name)) != nil {
		return fmt.Errorf("folder %q: %w", name, ErrExists)
	}
	return putJSON(b, []byte(name), &Folder{Name: name, Description: description, CreatedAt: now})
}

// folderPrefix is the key prefix of a folder's projects and environments.
func folderPrefix(folder string) []byte { return append([]byte(folder), 0) }

func hasPrefix(b *bolt.Bucket, prefix []byte) bool {
	k, _ := b.Cursor().Seek(prefix)
	return k != nil && bytes.HasPrefix(k, prefix)
}

// DeleteFolder deletes an empty folder: ErrNotEmpty while it holds projects
// or environments.
func (t *Tx) DeleteFolder(name string) error {
	if _, err := t.Folder(name); err != nil {
		return err
	}
	p := folderPrefix(name)
	if hasPrefix(t.tx.Bucket(bucketProjects), p) || hasPrefix(t.tx.Bucket(bucketEnvironments), p) {
		return fmt.Errorf("folder %q holds projects or environments: %w (delete them first)", name, ErrNotEmpty)
	}
	return t.tx.Bucket(bucketFolders).Delete([]byte(name))
}

// moveByPrefix re-keys every entry of b under prefix from to prefix to.
func moveByPrefix(b *bolt.Bucket, from, to []byte) error {
	type kv struct{ k, v []byte }
	var moved []kv
	c := b.Cursor()
	for k, _ := c.Seek(from); k != nil && bytes.HasPrefix(k, from); k, _ = c.Next() {
		nk := append(append([]byte{}, to...), k[len(from):]...)
		moved = append(moved, kv{append([]byte{}, k...), nk})
	}
	for _, m := range moved {
		v := append([]byte{}, b.Get(m.k)...)
		if err := b.Delete(m.k); err != nil {
			return err
		}
		if err := b.Put(m.v, v); err != nil {
			return err
		}
	}
	return nil
}

// RenameFolder renames a folder with everything in it. Absolute environment
// references of other projects follow the rename; executions keep the names
// they ran under.
func (t *Tx) RenameFolder(from, to string) error {
	f, err := t.Folder(from)
	if err != nil {
		return err
	}
	if err := ValidateObjectName("folder", to); err != nil {
		return err
	}
	if from == to {
		return nil
	}
	fb := t.tx.Bucket(bucketFolders)
	if fb.Get([]byte(to)) != nil {
		return fmt.Errorf("folder %q: %w", to, ErrExists)
	}
	f.Name = to
	if err := fb.Delete([]byte(from)); err != nil {
		return err
	}
	if err := putJSON(fb, []byte(to), f); err != nil {
		return err
	}
	oldP, newP := folderPrefix(from), folderPrefix(to)
	for _, bn := range [][]byte{bucketProjects, bucketVersions, bucketEnvironments} {
		if err := moveByPrefix(t.tx.Bucket(bn), oldP, newP); err != nil {
			return err
		}
	}
	// Rewrite the folder field inside the moved records and every absolute
	// reference to the old name.
	pb := t.tx.Bucket(bucketProjects)
	projects, err := t.allProjects()
	if err != nil {
		return err
	}
	for _, p := range projects {
		changed := false
		if p.Folder == from {
			p.Folder, changed = to, true
		}
		for i := range p.EnvRefs {
			if p.EnvRefs[i].Folder == from {
				p.EnvRefs[i].Folder, changed = to, true
			}
		}
		if changed {
			if err := putJSON(pb, nameKey(p.Folder, p.Name), p); err != nil {
				return err
			}
		}
	}
	vb := t.tx.Bucket(bucketVersions)
	var keys [][]byte
	var vals []*ProjectVersion
	c := vb.Cursor()
	for k, v := c.Seek(newP); k != nil && bytes.HasPrefix(k, newP); k, v = c.Next() {
		var pv ProjectVersion
		if err := json.Unmarshal(v, &pv); err != nil {
			return err
		}
		pv.Folder = to
		keys, vals = append(keys, append([]byte{}, k...)), append(vals, &pv)
	}
	for i := range keys {
		if err := putJSON(vb, keys[i], vals[i]); err != nil {
			return err
		}
	}
	eb := t.tx.Bucket(bucketEnvironments)
	envs, err := t.Environments(to)
	if err != nil {
		return err
	}
	for _, e := range envs {
		e.Folder = to
		if err := putJSON(eb, nameKey(to, e.Name), e); err != nil {
			return err
		}
	}
	return nil
}
