package convert

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scaleout/scaleout/catalog/ssis"
)

// lookupVariant converts LookupModes.dtsx with old replaced by new.
func lookupVariant(t *testing.T, old, new string) (*Result, error) {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(corpus, "packages", "LookupModes.dtsx"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(src), old) {
		t.Fatalf("LookupModes.dtsx has no %q", old)
	}
	p := filepath.Join(t.TempDir(), "LookupModes.dtsx")
	if err := os.WriteFile(p, []byte(strings.ReplaceAll(string(src), old, new)), 0o644); err != nil {
		t.Fatal(err)
	}
	proj, err := ssis.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	return Convert(proj, Options{})
}

// A SqlCommandParam that is not SSIS Designer's filter of the reference
// query is kept as row_query, its ParameterMap as row_params, with a
// warning that it runs as written; an unknown CacheType is reported.
func TestConvert_LookupRowQuery(t *testing.T) {
	designer := "select * from (SELECT customer_id, region FROM regions) [refTable]\nwhere [refTable].[customer_id] = ?"
	res, err := lookupVariant(t, designer, "SELECT customer_id, region FROM regions WHERE customer_id = ? AND active = 1")
	if err != nil {
		t.Fatal(err)
	}
	src := string(res.Files["packages/LookupModes.yaml"])
	if !strings.Contains(src, "row_query: SELECT customer_id, region FROM regions WHERE customer_id = ? AND active = 1\n            row_params:\n              - customer\n") {
		t.Errorf("no row_query:\n%s", src)
	}
	out := report(t, res.Report)
	for _, w := range []string{`\Package\Enrich Orders\Customer Region: the Lookup's parameterised query (SqlCommandParam) is run as written`,
		"lookup (cache partial, 5 MiB, 20 % for misses, SqlCommandParam as row_query)"} {
		if !strings.Contains(out, w) {
			t.Errorf("report lacks %q:\n%s", w, out)
		}
	}
	// The designer's form with another spacing and case is still the
	// designer's: no row_query.
	res, err = lookupVariant(t, designer, "SELECT * FROM (SELECT customer_id, region FROM regions)  AS refTable WHERE refTable.[customer_id] = ?")
	if err != nil {
		t.Fatal(err)
	}
	if src := string(res.Files["packages/LookupModes.yaml"]); strings.Contains(src, "row_query") {
		t.Errorf("row_query for the designer's form:\n%s", src)
	}
	res, err = lookupVariant(t, `name="CacheType">1<`, `name="CacheType">7<`)
	if err != nil {
		t.Fatal(err)
	}
	if out := report(t, res.Report); !strings.Contains(out, `CacheType "7" is not 0 (full), 1 (partial) or 2 (none)`) {
		t.Errorf("report:\n%s", out)
	}
}
