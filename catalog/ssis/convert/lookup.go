package convert

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/scaleout/scaleout/catalog/ssis"
)

// designerRowQuery is the parameterised query SSIS Designer writes for a
// Lookup without a full cache: the reference query filtered on the join
// columns, select * from (QUERY) [refTable] where [refTable].[col] = ?
// and ...
var (
	designerRowQuery = regexp.MustCompile(`(?is)^\s*select\s+\*\s+from\s+\((.*)\)\s+(?:as\s+)?\[?refTable\]?\s+where\s+(.*?)\s*;?\s*$`)
	designerCond     = regexp.MustCompile(`(?i)^\[?refTable\]?\.\[([^\]]+)\]\s*=\s*\?$`)
	andSplit         = regexp.MustCompile(`(?i)\s+and\s+`)
)

// lookupCache converts a Lookup's cache mode (CacheType 0 full, 1
// partial, 2 none) into body and says what it became. Partial and none
// query per row: with SSIS Designer's parameterised query (the reference
// query filtered on the join columns) the engine builds the same query for
// the target database; another SqlCommandParam is kept as row_query with
// its ParameterMap as row_params and run as written.
func (d *dfConv) lookupCache(c *ssis.Component, body *omap, joinIn, joinRef []string) (string, error) {
	var mode string
	switch ct := c.Props["CacheType"]; ct {
	case "", "0":
		return "full cache", nil
	case "1":
		mode = "partial"
	case "2":
		mode = "none"
	default:
		return "", fmt.Errorf("CacheType %q is not 0 (full), 1 (partial) or 2 (none)", ct)
	}
	body.set("cache", mode)
	what := "cache " + mode
	if mode == "partial" {
		// SSIS bounds the cache by MaxMemoryUsage64 (MB) on 64-bit.
		mb := 25
		if v, err := strconv.Atoi(c.Props["MaxMemoryUsage64"]); err == nil && v > 0 {
			mb = v
		}
		body.set("cache_size", fmt.Sprintf("%dMiB", mb))
		if p, err := strconv.Atoi(c.Props["NoMatchCachePercentage"]); err == nil && p > 0 {
			body.set("miss_cache_percent", min(p, 99))
			what += fmt.Sprintf(", %d MiB, %d %% for misses", mb, min(p, 99))
		} else {
			what += fmt.Sprintf(", %d MiB", mb)
		}
	}
	param := strings.TrimSpace(c.Props["SqlCommandParam"])
	var params []string
	for _, ref := range strings.Split(c.Props["ParameterMap"], ";") {
		if strings.TrimSpace(ref) == "" {
			continue
		}
		name, ok := d.lineageName(ref)
		if !ok {
			return "", fmt.Errorf("ParameterMap names %q, which is no input column", ref)
		}
		params = append(params, name)
	}
	if param == "" || designerForm(param, c.Props["SqlCommand"], joinRef) && (len(params) == 0 || strings.Join(params, "\x00") == strings.Join(joinIn, "\x00")) {
		return what + ", per-row query from the reference query and the join", nil
	}
	if len(params) == 0 {
		return "", fmt.Errorf("SqlCommandParam %q has no ParameterMap (the input columns bound to its ? markers)", param)
	}
	body.set("row_query", param)
	body.set("row_params", params)
	d.pc.warn("%s: the Lookup's parameterised query (SqlCommandParam) is run as written: SQL Server's syntax ([names], TOP) must suit the target database", c.Path)
	return what + ", SqlCommandParam as row_query", nil
}

// designerForm reports whether param is the parameterised query SSIS
// Designer derives from the reference query q and the join's reference
// columns.
func designerForm(param, q string, joinRef []string) bool {
	m := designerRowQuery.FindStringSubmatch(param)
	if m == nil || strings.Join(strings.Fields(m[1]), " ") != strings.Join(strings.Fields(strings.TrimRight(strings.TrimSpace(q), ";")), " ") {
		return false
	}
	conds := andSplit.Split(m[2], -1)
	if len(conds) != len(joinRef) {
		return false
	}
	for i, cond := range conds {
		cm := designerCond.FindStringSubmatch(strings.TrimSpace(cond))
		if cm == nil || cm[1] != joinRef[i] {
			return false
		}
	}
	return true
}
