package catalog

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"

	bolt "go.etcd.io/bbolt"
)

// Digest returns a hash of every bucket, key and value in the store except
// the applied Raft index, so two stores holding the same state have the same
// digest (used to check snapshot and restore round trips and replicas).
func (s *Store) Digest() (string, error) {
	h := sha256.New()
	err := s.View(func(tx *Tx) error {
		return tx.tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			return digestBucket(h, [][]byte{name}, b)
		})
	})
	if err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func digestBucket(h interface{ Write([]byte) (int, error) }, path [][]byte, b *bolt.Bucket) error {
	return b.ForEach(func(k, v []byte) error {
		if len(path) == 1 && bytes.Equal(path[0], bucketMeta) && bytes.Equal(k, keyApplied) {
			return nil
		}
		p := append(append([][]byte{}, path...), k)
		if v == nil {
			return digestBucket(h, p, b.Bucket(k))
		}
		h.Write(bytes.Join(p, []byte{0xff}))
		h.Write([]byte{0xfe})
		h.Write(v)
		h.Write([]byte{0xfd})
		return nil
	})
}
