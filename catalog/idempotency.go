package catalog

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Idempotent submission (docs/api.md, *Idempotency*): a submission that
// carries an idempotency key creates its execution once; the same key
// again within IdempotencyTTL answers with the first execution's id. The
// FSM decides, so it holds across leader changes and for retries that
// reach another server: the key is stored with the execution it created.

// IdempotencyTTL is how long a key is remembered.
const IdempotencyTTL = 24 * time.Hour

// MaxIdempotencyKeyBytes bounds a key.
const MaxIdempotencyKeyBytes = 255

var bucketIdempotency = []byte("idempotency") // key -> idempotencyRecord

type idempotencyRecord struct {
	ID   uint64    `json:"id"`
	Time time.Time `json:"time"`
	Hash string    `json:"hash,omitempty"`
}

// ErrKeyReused is returned when an idempotency key is used again, within
// IdempotencyTTL, for a different request.
var ErrKeyReused = errors.New("idempotency key reused for a different request")

// CheckIdempotencyKey reports what is wrong with key: it must be 1 to 255
// printable ASCII characters without spaces.
func CheckIdempotencyKey(key string) error {
	if len(key) > MaxIdempotencyKeyBytes {
		return fmt.Errorf("%w: idempotency key of %d bytes is over the limit of %d", ErrInvalid, len(key), MaxIdempotencyKeyBytes)
	}
	for i := 0; i < len(key); i++ {
		if key[i] <= ' ' || key[i] > '~' {
			return fmt.Errorf("%w: idempotency key holds byte %#x at %d (printable ASCII without spaces only)", ErrInvalid, key[i], i)
		}
	}
	return nil
}

// IdempotentExecution returns the execution a key created within
// IdempotencyTTL before now. A key used for another request (hash) is
// ErrKeyReused; an unknown or expired key is (0, nil).
func (t *Tx) IdempotentExecution(key, hash string, now time.Time) (uint64, error) {
	v := t.tx.Bucket(bucketIdempotency).Get([]byte(key))
	if v == nil {
		return 0, nil
	}
	var r idempotencyRecord
	if err := json.Unmarshal(v, &r); err != nil {
		return 0, fmt.Errorf("idempotency key %q: %w", key, err)
	}
	if now.Sub(r.Time) >= IdempotencyTTL {
		return 0, nil
	}
	if r.Hash != hash {
		return 0, fmt.Errorf("%w: key %q created execution %d at %s", ErrKeyReused, key, r.ID, r.Time.Format(time.RFC3339))
	}
	return r.ID, nil
}

// PutIdempotencyKey records that key created execution id at now.
func (t *Tx) PutIdempotencyKey(key, hash string, id uint64, now time.Time) error {
	return putJSON(t.tx.Bucket(bucketIdempotency), []byte(key), idempotencyRecord{ID: id, Time: now, Hash: hash})
}

// ExpiredIdempotencyKeys lists up to max keys older than IdempotencyTTL
// before now (the retention loop proposes their removal).
func (t *Tx) ExpiredIdempotencyKeys(now time.Time, max int) ([]string, error) {
	var out []string
	err := t.tx.Bucket(bucketIdempotency).ForEach(func(k, v []byte) error {
		if len(out) >= max {
			return errStopScan
		}
		if idempotencyExpired(v, now) {
			out = append(out, string(k))
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStopScan) {
		return nil, err
	}
	return out, nil
}

// DeleteIdempotencyKey removes key if it has expired as of now, and
// reports whether it did.
func (t *Tx) DeleteIdempotencyKey(key string, now time.Time) (bool, error) {
	b := t.tx.Bucket(bucketIdempotency)
	v := b.Get([]byte(key))
	if v == nil || !idempotencyExpired(v, now) {
		return false, nil
	}
	return true, b.Delete([]byte(key))
}

func idempotencyExpired(v []byte, now time.Time) bool {
	var r idempotencyRecord
	return json.Unmarshal(v, &r) != nil || now.Sub(r.Time) >= IdempotencyTTL
}

var errStopScan = errors.New("stop scan")
