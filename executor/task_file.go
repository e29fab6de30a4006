package executor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/scaleout/scaleout/catalog/pkgspec"
)

// errOutsideRoots reports a path outside the directories tasks may touch.
var errOutsideRoots = errors.New("path is outside the allowed directories")

// baseDir is the directory relative paths are relative to: the project
// directory if there is one, else the work directory.
func (r *runner) baseDir() string {
	if r.opts.ProjectDir != "" {
		return r.opts.ProjectDir
	}
	if r.opts.WorkDir != "" {
		return r.opts.WorkDir
	}
	return "."
}

// path expands the template s of field into an absolute, clean path and
// checks it lies within the allowed roots (symbolic links resolved as far
// as the path exists). A glob pattern is checked by its fixed prefix.
func (tc *taskCtx) path(field, s string) (string, error) {
	p, err := tc.expand(field, s)
	if err != nil {
		return "", err
	}
	if p == "" {
		return "", fmt.Errorf("%s is empty", field)
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(tc.pr.r.baseDir(), p)
	}
	p, err = filepath.Abs(p)
	if err != nil {
		return "", fmt.Errorf("%s: %w", field, err)
	}
	if err := tc.pr.checkRoot(p); err != nil {
		return "", fmt.Errorf("%s: %w", field, err)
	}
	return p, nil
}

// checkRoot checks that p (possibly a glob) is inside an allowed root.
func (pr *pkgRun) checkRoot(p string) error {
	fixed := p
	if i := strings.IndexAny(fixed, "*?["); i >= 0 {
		fixed = filepath.Dir(fixed[:i+1])
	}
	real := resolveExisting(fixed)
	for _, root := range pr.roots {
		if within(root, real) {
			return nil
		}
	}
	return fmt.Errorf("%w: %s (allowed: %s; add directories with allow_paths, each permitted by the agent setting task_allow_paths)", errOutsideRoots, p, strings.Join(pr.roots, ", "))
}

// glob resolves the path field s (see path) as a pattern and returns it
// with the paths it matches.
func (tc *taskCtx) glob(field, s string) (string, []string, error) {
	pattern, err := tc.path(field, s)
	if err != nil {
		return "", nil, err
	}
	matches, err := filepath.Glob(pattern)
	if err != nil {
		return "", nil, fmt.Errorf("%s: %w", field, err)
	}
	return pattern, matches, nil
}

// resolveExisting resolves symbolic links in the longest existing prefix
// of p and appends the rest.
func resolveExisting(p string) string {
	rest := ""
	for cur := p; ; cur = filepath.Dir(cur) {
		if real, err := filepath.EvalSymlinks(cur); err == nil {
			return filepath.Join(real, rest)
		}
		if cur == filepath.Dir(cur) {
			return p
		}
		rest = filepath.Join(filepath.Base(cur), rest)
	}
}

// within reports whether p is root or below it.
func within(root, p string) bool {
	rel, err := filepath.Rel(root, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// fileTask copies, moves, renames or deletes files, or makes a directory.
// Its result is the number of paths it acted on.
func (tc *taskCtx) fileTask(ctx context.Context) taskOut {
	f := tc.task.File
	name := tc.name()
	r := tc.pr.r
	done := 0
	finish := func() taskOut {
		return taskOut{state: stateSucceeded, result: done, info: map[string]any{"files": done}, summary: plural(done, "path")}
	}
	switch f.Op {
	case pkgspec.OpMkdir:
		p, err := tc.path("file path", f.Path)
		if err != nil {
			return failed("%v", err)
		}
		if err := os.MkdirAll(p, 0o755); err != nil {
			return failed("mkdir: %v", err)
		}
		r.emit(EventInformation, name, "mkdir "+p)
		done = 1
		return finish()
	case pkgspec.OpDelete:
		_, matches, err := tc.glob("file path", f.Path)
		if err != nil {
			return failed("%v", err)
		}
		for _, m := range matches {
			if ctx.Err() != nil {
				return taskOut{state: stateCanceled}
			}
			if slices.Contains(tc.pr.roots, resolveExisting(m)) {
				return failed("delete: refusing to delete %s, an allowed root itself", m)
			}
			if err := tc.pr.checkRoot(resolveExisting(filepath.Dir(m))); err != nil {
				return failed("delete: %v", err)
			}
			if err := os.RemoveAll(m); err != nil {
				return failed("delete: %v", err)
			}
			r.emit(EventInformation, name, "deleted "+m)
			done++
		}
		return finish()
	}
	from, matches, err := tc.glob("file from", f.From)
	if err != nil {
		return failed("%v", err)
	}
	to, err := tc.path("file to", f.To)
	if err != nil {
		return failed("%v", err)
	}
	if len(matches) == 0 {
		return failed("%s: no file matches %s", f.Op, from)
	}
	toDir := false
	if fi, err := os.Stat(to); err == nil && fi.IsDir() {
		toDir = true
	}
	switch {
	case f.Op == pkgspec.OpRename && len(matches) != 1:
		return failed("rename: %s matches %d files, want exactly one", from, len(matches))
	case len(matches) > 1 && !toDir:
		return failed("%s: %s matches %d files but %s is not a directory", f.Op, from, len(matches), to)
	}
	for _, src := range matches {
		if ctx.Err() != nil {
			return taskOut{state: stateCanceled}
		}
		dst := to
		if toDir {
			dst = filepath.Join(to, filepath.Base(src))
		}
		if err := tc.pr.checkRoot(resolveExisting(src)); err != nil {
			return failed("%s: %v", f.Op, err)
		}
		if _, err := os.Lstat(dst); err == nil && !f.Overwrite {
			return failed("%s: %s exists (set overwrite: true to replace it)", f.Op, dst)
		}
		if f.Op == pkgspec.OpCopy {
			err = copyFile(src, dst)
		} else {
			err = moveFile(src, dst)
		}
		if err != nil {
			return failed("%s: %v", f.Op, err)
		}
		r.emit(EventInformation, name, fmt.Sprintf("%s %s -> %s", f.Op, src, dst))
		done++
	}
	return finish()
}

// copyFile copies a regular file, keeping its permission bits.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", src)
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, fi.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// moveFile renames src to dst, copying and deleting across file systems.
func moveFile(src, dst string) error {
	err := os.Rename(src, dst)
	var le *os.LinkError
	if errors.As(err, &le) && errors.Is(le.Err, syscall.EXDEV) {
		if err := copyFile(src, dst); err != nil {
			return err
		}
		return os.Remove(src)
	}
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s: %w", src, err)
	}
	return err
}
