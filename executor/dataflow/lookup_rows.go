package dataflow

import (
	"container/list"
	"context"
	"fmt"
	"strings"

	"github.com/scaleout/scaleout/catalog/pkgspec"
)

// lookupPerRow is a lookup with cache none (a query per input row, so it
// sees the reference as it is when the row passes) or partial (a query per
// key that is not in an LRU cache of recently seen keys).
func (n *node) lookupPerRow(ctx context.Context) error {
	l := n.c.Lookup
	in := n.c.In[0]
	if n.env.Prepare == nil || n.env.DB == nil {
		return fmt.Errorf("no SQL connections in this run")
	}
	_, driver, err := n.env.DB(l.SQL.Connection)
	if err != nil {
		return err
	}
	// The bound input columns and the types their values are sent as.
	var params []int
	var types []pkgspec.DataType
	query := l.RowQuery
	if query == "" {
		var conds []string
		for i, r := range l.JoinRef {
			rc := l.RefCols[refIndex(l, r)]
			conds = append(conds, "ssis_ref."+quoteName(driver, rc.Field)+" = ?")
			params = append(params, in.Index(l.JoinIn[i]))
			types = append(types, rc.Type)
		}
		q := strings.TrimRight(strings.TrimSpace(l.SQL.Query), "; \t\r\n")
		query = "SELECT * FROM (" + q + ") ssis_ref WHERE " + strings.Join(conds, " AND ")
	} else {
		for _, name := range l.RowParams {
			k := in.Index(name)
			params = append(params, k)
			types = append(types, in.Columns[k].Type)
		}
	}
	stmt, err := n.env.Prepare(ctx, l.SQL.Connection, query)
	if err != nil {
		return fmt.Errorf("row query %q: %w", query, err)
	}
	defer stmt.Close()
	addRef := make([]int, len(l.Add))
	for i, name := range l.Add {
		addRef[i] = refIndex(l, name)
	}
	var pos []int // result column of each added column, from the first result
	args := make([]any, len(params))
	queries := 0
	fetch := func(ctx context.Context) ([]Value, bool, error) {
		queries++
		rows, err := stmt.QueryContext(ctx, args...)
		if err != nil {
			return nil, false, fmt.Errorf("row query: %w", err)
		}
		defer rows.Close()
		if pos == nil {
			names, err := rows.Columns()
			if err != nil {
				return nil, false, err
			}
			pos = make([]int, len(addRef))
			for i, k := range addRef {
				pos[i] = -1
				for j, name := range names {
					if strings.EqualFold(name, l.RefCols[k].Field) && pos[i] < 0 {
						pos[i] = j
					}
				}
				if pos[i] < 0 {
					return nil, false, fmt.Errorf("row query: it returns no column %q (it returns %s)", l.RefCols[k].Field, strings.Join(names, ", "))
				}
			}
			if len(names) == 0 {
				return nil, false, fmt.Errorf("row query returns no columns")
			}
			pos = append(pos, len(names)) // the width, for scanning
		}
		if !rows.Next() {
			return nil, false, rows.Err()
		}
		vals := make([]any, pos[len(pos)-1])
		ptrs := make([]any, len(vals))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, false, err
		}
		out := make([]Value, len(addRef))
		for i, k := range addRef {
			x := vals[pos[i]]
			if b, ok := x.([]byte); ok {
				x = string(b)
			}
			v, code := fromAny(x, l.RefCols[k].Type)
			if code != 0 {
				return nil, false, fmt.Errorf("reference column %q: %s", l.RefCols[k].Name, codeText(code, fmt.Sprint(x), l.RefCols[k].Type))
			}
			out[i] = v
		}
		return out, true, rows.Err()
	}
	var hits, misses *lru
	if l.Cache == pkgspec.CachePartial {
		missBytes := l.CacheSize * int64(l.MissPercent) / 100
		hits, misses = newLRU(l.CacheSize-missBytes), newLRU(missBytes)
	}
	emit := n.lookupEmitter()
	var key []byte
	cached := 0
	err = n.each(ctx, func(row []Value) error {
		key = key[:0]
		null := false
		for i, k := range params {
			v, ft, t := row[k], in.Columns[k].Type, types[i]
			if !v.Null && (ft.Store() != t.Store() || (ft.Store() == pkgspec.StoreDecimal && ft.Scale != t.Scale)) {
				var code int
				if v, code = convert(v, ft, t); code != 0 {
					return emit(ctx, row, nil, false) // a key the reference cannot hold matches nothing
				}
			}
			null = null || v.Null
			args[i] = goValue(v, t)
			key = appendKey(key, v, t.Store())
		}
		if null && l.RowQuery == "" {
			return emit(ctx, row, nil, false) // a NULL key never matches
		}
		if hits != nil {
			if e := hits.get(key); e != nil {
				cached++
				return emit(ctx, row, e.vals, true)
			}
			if e := misses.get(key); e != nil {
				cached++
				return emit(ctx, row, nil, false)
			}
		}
		vals, found, err := fetch(ctx)
		if err != nil {
			return err
		}
		if hits != nil {
			if found {
				hits.put(string(key), vals)
			} else {
				misses.put(string(key), nil)
			}
		}
		return emit(ctx, row, vals, found)
	})
	msg := fmt.Sprintf("lookup %q (cache %s): %d queries", n.c.Name, l.Cache, queries)
	if hits != nil {
		msg += fmt.Sprintf(", %d rows from the cache, %d keys evicted", cached, hits.evicted+misses.evicted)
	}
	n.env.Event(EventInformation, msg)
	return err
}

// quoteName quotes one column name for the driver.
func quoteName(driver, name string) string {
	if driver == pkgspec.DriverSQLServer {
		return "[" + strings.ReplaceAll(name, "]", "]]") + "]"
	}
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

// lru is a partial lookup cache: keys with their reference values, the
// least recently used dropped when the entries pass limit bytes.
type lru struct {
	limit, used int64
	evicted     int
	order       *list.List // front: most recently used
	entries     map[string]*list.Element
}

type lruEntry struct {
	key  string
	vals []Value
	size int64
}

func newLRU(limit int64) *lru {
	return &lru{limit: limit, order: list.New(), entries: map[string]*list.Element{}}
}

// get returns the entry of key, marking it used, or nil.
func (c *lru) get(key []byte) *lruEntry {
	e, ok := c.entries[string(key)]
	if !ok {
		return nil
	}
	c.order.MoveToFront(e)
	return e.Value.(*lruEntry)
}

// put adds key, evicting the least recently used entries over the limit;
// an entry larger than the whole cache is not kept.
func (c *lru) put(key string, vals []Value) {
	size := int64(len(key)) + 96 + rowSize(vals)
	if size > c.limit {
		return
	}
	c.entries[key] = c.order.PushFront(&lruEntry{key: key, vals: vals, size: size})
	c.used += size
	for c.used > c.limit {
		old := c.order.Back()
		e := old.Value.(*lruEntry)
		c.order.Remove(old)
		delete(c.entries, e.key)
		c.used -= e.size
		c.evicted++
	}
}
