//go:build unix

package executor

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestRun_ETLProject runs the sample project of testdata/projects/etl as
// the worker will: the project directory read-only input, a fresh work
// directory for the database and the archive.
func TestRun_ETLProject(t *testing.T) {
	proj, pkg := sampleProject(t, "etl", "load")
	tests := []struct {
		name   string
		params map[string]string
		status Status
	}{
		{"loads", nil, StatusSucceeded},
		{"too few rows", map[string]string{"min_rows": "100"}, StatusFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			work := t.TempDir()
			rec := &recorder{}
			res := Run(context.Background(), pkg, tt.params, Options{ProjectDir: proj, WorkDir: work}, rec)
			if res.Status != tt.status {
				t.Fatalf("Run = %+v\n%s", res, rec)
			}
			if got := len(rec.of(EventPreExecute, "insert_customer")); got != 4 {
				t.Errorf("%d customers inserted, want 4", got)
			}
			if got := len(rec.of(EventPreExecute, "insert_order")); got != 6 {
				t.Errorf("%d orders inserted, want 6", got)
			}
			if got := rec.messages(EventProgress, "orders"); len(got) != 3 || !strings.Contains(got[2], "2026-03.csv") {
				t.Errorf("orders progress = %q", got)
			}
			day := time.Now().UTC().Format("2006-01-02")
			if m, _ := filepath.Glob(filepath.Join(work, "archive", day, "*.csv")); len(m) != 3 {
				t.Errorf("archive holds %d files, want 3", len(m))
			}
			if tt.status == StatusFailed {
				if !rec.has(EventStderr, "too_few", "only 6 orders, want at least 100") || rec.index(EventPreExecute, "report") >= 0 {
					t.Errorf("too_few did not fail the run as expected\n%s", rec)
				}
				return
			}
			if got := rec.messages(EventStdout, "enough"); !slices.Equal(got, []string{"loaded 6 orders from 3 files into warehouse.db"}) {
				t.Errorf("enough printed %q\n%s", got, rec)
			}
			if got := rec.messages(EventStdout, "report/print"); !slices.Equal(got, []string{"FR: 3 orders, 172.60", "IE: 2 orders, 179.99", "SG: 1 orders, 300.00"}) {
				t.Errorf("report printed %q", got)
			}
			if _, err := os.Stat(filepath.Join(work, "warehouse.db")); err != nil {
				t.Errorf("database: %v", err)
			}
		})
	}
}
