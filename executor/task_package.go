package executor

import (
	"context"
	"fmt"
	"maps"
	"path/filepath"
	"slices"

	"github.com/scaleout/scaleout/catalog/pkgspec"
)

// maxPackageDepth bounds package tasks running packages that run packages,
// so that a package that runs itself fails instead of recursing forever.
const maxPackageDepth = 8

// PackagePath returns the file of the package called name in a project
// directory: packages/NAME.yaml.
func PackagePath(projectDir, name string) string {
	return filepath.Join(projectDir, "packages", name+".yaml")
}

// packageTask runs another package of the project in this execution, with
// its parameters bound to templates of this one. Its events carry task
// names prefixed with this task's name and a slash.
func (tc *taskCtx) packageTask(ctx context.Context) taskOut {
	pt := tc.task.Package
	r := tc.pr.r
	if r.opts.ProjectDir == "" {
		return failed("package %q: no project directory (package tasks run packages/NAME.yaml of the project)", pt.Name)
	}
	if tc.pr.depth+1 > maxPackageDepth {
		return failed("package %q: packages nested more than %d deep (does a package run itself?)", pt.Name, maxPackageDepth)
	}
	child, err := pkgspec.ParseFile(PackagePath(r.opts.ProjectDir, pt.Name))
	if err != nil {
		return failed("package %q: %v", pt.Name, err)
	}
	params := make(map[string]string, len(pt.Params))
	for _, k := range slices.Sorted(maps.Keys(pt.Params)) {
		v, err := tc.value("package params "+k, pt.Params[k])
		if err != nil {
			return failed("%v", err)
		}
		params[k] = format(v)
	}
	link := &pkgLink{tc: tc}
	res := r.runPackage(ctx, child, params, tc.name()+"/", tc.pr.depth+1, link)
	out := taskOut{result: string(res.Status), info: map[string]any{"package_status": string(res.Status)}}
	switch res.Status {
	case StatusSucceeded:
		out.state, out.summary = stateSucceeded, fmt.Sprintf("package %q: %s", child.Name, res.Message)
	case StatusCanceled:
		out.state = stateCanceled
	default:
		out.state, out.msg = stateFailed, fmt.Sprintf("package %q failed: %s", child.Name, res.Message)
		// The child's on_error events have reached this package's
		// handlers already (through this task).
		out.fromChild = link.errors > 0
	}
	return out
}
