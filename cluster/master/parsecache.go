package master

import (
	"context"
	"sync"

	"github.com/scaleout/scaleout/catalog/pkgspec"
)

// parseCache keeps recently submitted packages parsed, keyed by file name and
// text, so that the same package submitted again (the common case: a
// scheduler running one package many times) is not parsed and its
// expressions compiled again. A parsed package is read-only after Parse.
// Only small packages are kept, at most parseCacheEntries of them; when the
// cache is full it starts over.
type parseCache struct {
	mu      sync.Mutex
	entries map[parseKey]*pkgspec.Package
}

type parseKey struct{ file, src string }

const (
	parseCacheEntries  = 128
	parseCacheMaxBytes = 64 << 10
)

// parse returns the parsed package, from the cache when it can. Parsing
// stops when ctx ends (the client went away).
func (c *parseCache) parse(ctx context.Context, file, src string) (*pkgspec.Package, error) {
	k := parseKey{file, src}
	c.mu.Lock()
	p := c.entries[k]
	c.mu.Unlock()
	if p != nil {
		return p, nil
	}
	p, err := pkgspec.ParseContext(ctx, file, []byte(src))
	if err != nil || len(src) > parseCacheMaxBytes {
		return p, err
	}
	c.mu.Lock()
	if c.entries == nil || len(c.entries) >= parseCacheEntries {
		c.entries = make(map[parseKey]*pkgspec.Package, parseCacheEntries)
	}
	c.entries[k] = p
	c.mu.Unlock()
	return p, nil
}
