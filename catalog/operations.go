package catalog

import (
	"encoding/json"
	"strings"
	"time"
)

// The operations log (SSISDB's catalog.operations): every state change
// people make, with who made it, appended in the same transaction as the
// change. Ids grow by one; the oldest are pruned first, so the bucket
// always holds a contiguous range.

var (
	bucketOperations = []byte("operations")
	keyNextOpID      = []byte("next_operation_id")
)

// MaxOperations bounds the log: appending beyond it drops the oldest.
const MaxOperations = 100000

// maxPrunePerAppend bounds the work of one append.
const maxPrunePerAppend = 16

// Operation is one entry of the operations log.
type Operation struct {
	ID   uint64 `json:"id"`
	Type string `json:"type"`
	// Object names what was changed: folder/project, execution 12
	// folder/project/package, worker w1, token name...
	Object string    `json:"object,omitempty"`
	Caller string    `json:"caller,omitempty"`
	Time   time.Time `json:"time"`
	// Result is "succeeded", or "failed: " and the error.
	Result string `json:"result"`
}

// AppendOperation numbers op, stores it and prunes, oldest first, up to a
// few entries older than pruneBefore (zero: none) or beyond MaxOperations.
func (t *Tx) AppendOperation(op *Operation, pruneBefore time.Time) error {
	meta := t.tx.Bucket(bucketMeta)
	op.ID = 1
	if v := meta.Get(keyNextOpID); len(v) == 8 {
		op.ID = keyU64(v)
	}
	if err := meta.Put(keyNextOpID, u64key(op.ID+1)); err != nil {
		return err
	}
	b := t.tx.Bucket(bucketOperations)
	if err := putJSON(b, u64key(op.ID), op); err != nil {
		return err
	}
	for range maxPrunePerAppend {
		key, val := b.Cursor().First()
		if key == nil || keyU64(key) == op.ID {
			break
		}
		old := keyU64(key)+MaxOperations <= op.ID
		if !old && !pruneBefore.IsZero() {
			var o Operation
			if err := json.Unmarshal(val, &o); err != nil {
				return err
			}
			old = o.Time.Before(pruneBefore)
		}
		if !old {
			break
		}
		if err := b.Delete(key); err != nil {
			return err
		}
	}
	return nil
}

// OperationFilter selects operations; zero fields select all.
type OperationFilter struct {
	Type   string
	Object string // a prefix of the object
	Caller string
	Since  time.Time
	// After returns operations with a larger id (paging).
	After uint64
	Limit int
}

// Operations lists operations oldest first, after f.After, up to f.Limit
// (which the caller bounds), looking at no more than scan entries.
func (t *Tx) Operations(f OperationFilter, scan int) (out []*Operation, next uint64, err error) {
	out = []*Operation{}
	c := t.tx.Bucket(bucketOperations).Cursor()
	seen := 0
	for k, v := c.Seek(u64key(f.After + 1)); k != nil; k, v = c.Next() {
		if len(out) >= f.Limit || seen >= scan {
			return out, keyU64(k) - 1, nil
		}
		seen++
		var o Operation
		if err := json.Unmarshal(v, &o); err != nil {
			return nil, 0, err
		}
		if (f.Type != "" && o.Type != f.Type) || (f.Caller != "" && o.Caller != f.Caller) ||
			(f.Object != "" && !objectMatches(o.Object, f.Object)) || (!f.Since.IsZero() && o.Time.Before(f.Since)) {
			continue
		}
		out = append(out, &o)
	}
	return out, 0, nil
}

// objectMatches reports whether object is want or starts with want
// followed by a space or a slash ("execution 12" matches "execution 12
// A/p/x.yaml", not "execution 123"; "A" matches "A/p").
func objectMatches(object, want string) bool {
	rest, ok := strings.CutPrefix(object, want)
	return ok && (rest == "" || rest[0] == ' ' || rest[0] == '/' || strings.HasSuffix(want, "/") || strings.HasSuffix(want, " "))
}
