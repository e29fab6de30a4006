package dataflow

import (
	"context"
	"database/sql/driver"
	"encoding/json"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"modernc.org/sqlite"
)

// lookupGen counts calls of the SQLite function lookup_gen(): a reference
// value that changes every time the reference is queried.
var (
	lookupGen     atomic.Int64
	lookupGenOnce sync.Once
)

// customersSource reads in.csv: an order id and its customer.
const customersSource = `        - name: src
          flat_file_source:
            path: in.csv
            columns: [{name: id, type: DT_I4}, {name: customer, type: DT_I4}]
`

// runLookupModes runs customers through a lookup of the given cache
// settings whose reference names carry lookup_gen(), and returns the name
// each input row got (by id; "" for no match) and the lookup's
// information events.
func runLookupModes(t *testing.T, settings string) (map[int]string, []string) {
	t.Helper()
	lookupGenOnce.Do(func() {
		if err := sqlite.RegisterScalarFunction("lookup_gen", 0, func(*sqlite.FunctionContext, []driver.Value) (driver.Value, error) {
			return lookupGen.Add(1), nil
		}); err != nil {
			t.Fatal(err)
		}
	})
	dir := t.TempDir()
	write(t, dir, "in.csv", "id,customer\n1,10\n2,20\n3,10\n4,30\n5,20\n6,30\n7,10\n")
	sqliteExec(t, dir, "ref", "CREATE TABLE c (id INTEGER, name TEXT)", "INSERT INTO c VALUES (10, 'ten'), (20, 'twenty')")
	df := flow(t, customersSource+`        - name: cust
          lookup:
            input: src
            connection: ref
            query: SELECT id, name || '#' || lookup_gen() AS name FROM c
            reference_columns: [{name: id, type: DT_I8}, {name: name, type: DT_WSTR}]
            join: {customer: id}
            columns: [name]
            no_match: ignore
`+settings+`        - name: out
          json_destination: {input: cust, path: out.jsonl}
`)
	infos := mustRunEvents(t, df, dir, EventInformation)
	got := map[int]string{}
	for _, l := range lines(t, dir, "out.jsonl") {
		var r struct {
			ID   int
			Name *string
		}
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatal(err)
		}
		got[r.ID] = ""
		if r.Name != nil {
			got[r.ID] = *r.Name
		}
	}
	return got, infos
}

// The cache modes differ in when the reference is read, which a reference
// that changes as it is read shows: a full cache reads it once (every row
// of a key gets one value), no cache queries it for every row (each row
// sees it as it is then: a value repeated for a key would be a full
// cache's), a partial cache queries each key once while it stays in the
// LRU cache (misses too when miss_cache_percent reserves room for them),
// and a cache too small for two keys queries again after an eviction.
func TestRun_LookupCacheModes(t *testing.T) {
	name := func(got map[int]string, id int) string { s, _, _ := strings.Cut(got[id], "#"); return s }
	for _, tc := range []struct {
		name         string
		settings     string
		distinctKey  bool   // rows 1, 3 and 7 (customer 10) got different values
		info         string // the lookup's information event
		missesQueued bool
	}{
		{"full", "", false, "", false},
		{"none", "            cache: none\n", true, `lookup "cust" (cache none): 7 queries`, false},
		{"partial", "            cache: partial\n", false, `lookup "cust" (cache partial): 4 queries, 3 rows from the cache, 0 keys evicted`, false},
		{"partial_misses", "            cache: partial\n            miss_cache_percent: 20\n", false, `lookup "cust" (cache partial): 3 queries, 4 rows from the cache, 0 keys evicted`, false},
		{"partial_small", "            cache: partial\n            cache_size: 200\n", true, `lookup "cust" (cache partial): 7 queries, 0 rows from the cache, 4 keys evicted`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, infos := runLookupModes(t, tc.settings)
			for id, want := range map[int]string{1: "ten", 2: "twenty", 3: "ten", 4: "", 5: "twenty", 6: "", 7: "ten"} {
				if name(got, id) != want {
					t.Errorf("row %d: name %q, want %s#N (%v)", id, got[id], want, got)
				}
			}
			if distinct := got[1] != got[3] && got[3] != got[7] && got[1] != got[7]; distinct != tc.distinctKey {
				t.Errorf("customer 10 got %q, %q, %q: distinct %v, want %v", got[1], got[3], got[7], distinct, tc.distinctKey)
			}
			if tc.info == "" && len(infos) != 0 || tc.info != "" && (len(infos) != 1 || infos[0] != tc.info) {
				t.Errorf("information events %q, want %q", infos, tc.info)
			}
		})
	}
}

// A row query of the package's own (SSIS's SqlCommandParam with its
// ParameterMap) is run as written, its ? markers bound to row_params; a
// reference that fails a row query fails the component, naming it.
func TestRun_LookupRowQuery(t *testing.T) {
	got, infos := runLookupModes(t, "            cache: none\n            row_query: SELECT id, upper(name) AS name FROM c WHERE id = ? - 0\n            row_params: [customer]\n")
	if got[1] != "TEN" || got[2] != "TWENTY" || got[4] != "" || len(infos) != 1 {
		t.Errorf("rows %v, events %q", got, infos)
	}
	dir := t.TempDir()
	write(t, dir, "in.csv", "id,customer\n1,10\n")
	sqliteExec(t, dir, "ref", "CREATE TABLE c (id INTEGER, name TEXT)")
	df := flow(t, customersSource+`        - name: cust
          lookup:
            input: src
            connection: ref
            query: SELECT id, name FROM c
            cache: none
            row_query: SELECT id FROM c WHERE id = ?
            row_params: [customer]
            reference_columns: [{name: id, type: DT_I8}, {name: name, type: DT_WSTR}]
            join: {customer: id}
            columns: [name]
        - name: out
          json_destination: {input: cust, path: out.jsonl}
`)
	sqliteExec(t, dir, "ref", "INSERT INTO c VALUES (10, 'ten')")
	_, err := Run(context.Background(), df, testEnv(t, dir))
	if err == nil || !strings.Contains(err.Error(), `row query: it returns no column "name" (it returns id)`) {
		t.Errorf("Run = %v", err)
	}
}
