package catalog

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	bolt "go.etcd.io/bbolt"
)

// ArchiveChunkSize is the size of every chunk of an archive but the last.
// Each chunk is one Raft entry, so no single entry is large.
const ArchiveChunkSize = 1 << 20

// DefaultMaxArchiveBytes is the default largest project archive.
const DefaultMaxArchiveBytes = 64 << 20

var keyArchiveMeta = []byte("meta")

// ArchiveMeta describes a stored archive or an upload in progress.
type ArchiveMeta struct {
	Hash      string    `json:"hash"`
	Size      int64     `json:"size"`
	Chunks    int       `json:"chunks"`
	Refs      int       `json:"refs"`       // project versions using it
	StartedAt time.Time `json:"started_at"` // first chunk (staging)
}

// ChunkCount returns the number of chunks of an archive of size bytes.
func ChunkCount(size int64) int {
	if size <= 0 {
		return 0
	}
	return int((size + ArchiveChunkSize - 1) / ArchiveChunkSize)
}

func readMeta(b *bolt.Bucket) (*ArchiveMeta, error) {
	var m ArchiveMeta
	if err := json.Unmarshal(b.Get(keyArchiveMeta), &m); err != nil {
		return nil, err
	}
	return &m, nil
}

// ArchiveInfo returns the meta data of a committed archive.
func (t *Tx) ArchiveInfo(hash string) (*ArchiveMeta, error) {
	b := t.tx.Bucket(bucketArchives).Bucket([]byte(hash))
	if b == nil {
		return nil, fmt.Errorf("archive %s: %w", hash, ErrNotFound)
	}
	return readMeta(b)
}

// PutArchiveChunk stores chunk n of an upload of the archive hash of size
// bytes. It does nothing if the archive is already committed; a chunk of the
// wrong size, or a size that differs from the upload's, is ErrInvalid.
func (t *Tx) PutArchiveChunk(hash string, size int64, n int, data []byte, now time.Time) error {
	if t.tx.Bucket(bucketArchives).Bucket([]byte(hash)) != nil {
		return nil
	}
	chunks := ChunkCount(size)
	want := ArchiveChunkSize
	if n == chunks-1 {
		want = int(size - int64(n)*ArchiveChunkSize)
	}
	if n < 0 || n >= chunks || len(data) != want {
		return invalidf("chunk %d of archive %s: %d bytes, want %d of %d chunks", n, hash, len(data), want, chunks)
	}
	b, err := t.tx.Bucket(bucketStaging).CreateBucketIfNotExists([]byte(hash))
	if err != nil {
		return err
	}
	if b.Get(keyArchiveMeta) == nil {
		if err := putJSON(b, keyArchiveMeta, &ArchiveMeta{Hash: hash, Size: size, Chunks: chunks, StartedAt: now}); err != nil {
			return err
		}
	} else if m, err := readMeta(b); err != nil {
		return err
	} else if m.Size != size {
		return invalidf("archive %s: chunk says size %d, upload started with %d", hash, size, m.Size)
	}
	return b.Put(u64key(uint64(n)), data)
}

// StagedChunks returns the chunk numbers of an upload that have arrived.
func (t *Tx) StagedChunks(hash string) (*ArchiveMeta, []int, error) {
	b := t.tx.Bucket(bucketStaging).Bucket([]byte(hash))
	if b == nil {
		return nil, nil, fmt.Errorf("upload of archive %s: %w", hash, ErrNotFound)
	}
	m, err := readMeta(b)
	if err != nil {
		return nil, nil, err
	}
	var have []int
	c := b.Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		if len(k) == 8 {
			have = append(have, int(keyU64(k)))
		}
	}
	return m, have, nil
}

// WriteStaged writes an upload's chunks, in order, to w.
func (t *Tx) WriteStaged(hash string, w io.Writer) error {
	return writeChunks(t.tx.Bucket(bucketStaging).Bucket([]byte(hash)), hash, w)
}

// WriteArchive writes a committed archive to w.
func (t *Tx) WriteArchive(hash string, w io.Writer) error {
	return writeChunks(t.tx.Bucket(bucketArchives).Bucket([]byte(hash)), hash, w)
}

func writeChunks(b *bolt.Bucket, hash string, w io.Writer) error {
	if b == nil {
		return fmt.Errorf("archive %s: %w", hash, ErrNotFound)
	}
	m, err := readMeta(b)
	if err != nil {
		return err
	}
	for n := 0; n < m.Chunks; n++ {
		v := b.Get(u64key(uint64(n)))
		if v == nil {
			return invalidf("archive %s: chunk %d of %d is missing", hash, n, m.Chunks)
		}
		if _, err := w.Write(v); err != nil {
			return err
		}
	}
	return nil
}

// CommitArchive moves a complete upload from staging to the archives. The
// leader has checked the content hash before proposing the commit; here
// every chunk must be present. Committing an existing archive is a no-op.
func (t *Tx) CommitArchive(hash string) error {
	ab := t.tx.Bucket(bucketArchives)
	if ab.Bucket([]byte(hash)) != nil {
		return nil
	}
	m, have, err := t.StagedChunks(hash)
	if err != nil {
		return err
	}
	if len(have) != m.Chunks {
		return invalidf("upload of archive %s is incomplete: %d of %d chunks", hash, len(have), m.Chunks)
	}
	// Copy rather than bbolt's MoveBucket: a bucket filled in the same
	// transaction (chunks and commit applied in one Raft batch) lost its
	// pages when moved (bbolt 1.4.3).
	sb := t.tx.Bucket(bucketStaging).Bucket([]byte(hash))
	nb, err := ab.CreateBucket([]byte(hash))
	if err != nil {
		return err
	}
	nb.FillPercent = 1.0 // append-only, keys in order
	for n := 0; n < m.Chunks; n++ {
		k := u64key(uint64(n))
		if err := nb.Put(k, sb.Get(k)); err != nil {
			return err
		}
	}
	m.Refs = 0
	if err := putJSON(nb, keyArchiveMeta, m); err != nil {
		return err
	}
	return t.tx.Bucket(bucketStaging).DeleteBucket([]byte(hash))
}

// addArchiveRef changes the number of versions using an archive and deletes
// it when none is left.
// trackArchiveUse makes an execution that has not ended hold a reference to
// its project archive, so that pruning the version it runs does not delete
// the archive a worker has still to fetch. The reference is taken when the
// execution is created and dropped when it ends.
func (t *Tx) trackArchiveUse(key []byte, e *Execution) error {
	live := !e.Status.Terminal()
	wasLive := false
	if old := t.tx.Bucket(bucketExecutions).Get(key); old != nil {
		var prev Execution
		if err := json.Unmarshal(old, &prev); err != nil {
			return err
		}
		wasLive = !prev.Status.Terminal()
	} else if live {
		return t.addArchiveRef(e.ArchiveHash, +1)
	}
	if wasLive && !live {
		return t.addArchiveRef(e.ArchiveHash, -1)
	}
	return nil
}

func (t *Tx) addArchiveRef(hash string, delta int) error {
	b := t.tx.Bucket(bucketArchives).Bucket([]byte(hash))
	if b == nil {
		return nil
	}
	m, err := readMeta(b)
	if err != nil {
		return err
	}
	m.Refs += delta
	if m.Refs <= 0 {
		return t.tx.Bucket(bucketArchives).DeleteBucket([]byte(hash))
	}
	return putJSON(b, keyArchiveMeta, m)
}

// StaleUploads returns up to limit uploads that started before before.
func (t *Tx) StaleUploads(before time.Time, limit int) ([]string, error) {
	var out []string
	err := t.tx.Bucket(bucketStaging).ForEachBucket(func(k []byte) error {
		if len(out) >= limit {
			return nil
		}
		m, err := readMeta(t.tx.Bucket(bucketStaging).Bucket(k))
		if err != nil {
			return err
		}
		if m.StartedAt.Before(before) {
			out = append(out, string(k))
		}
		return nil
	})
	return out, err
}

// DeleteUpload removes an upload from staging.
func (t *Tx) DeleteUpload(hash string) error {
	if t.tx.Bucket(bucketStaging).Bucket([]byte(hash)) == nil {
		return nil
	}
	return t.tx.Bucket(bucketStaging).DeleteBucket([]byte(hash))
}
