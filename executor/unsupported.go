package executor

import "github.com/scaleout/scaleout/catalog/pkgspec"

// checkUnsupported refuses a package that holds unsupported tasks
// (pkgspec.KindUnsupported: elements an importer could not convert)
// before any of its tasks runs, naming each.
func checkUnsupported(pkg *pkgspec.Package) error {
	if u := pkg.Unsupported(); len(u) > 0 {
		return pkgspec.UnsupportedError(u)
	}
	return nil
}
