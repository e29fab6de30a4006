package catalog

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"runtime/debug"

	bolt "go.etcd.io/bbolt"
)

// Snapshot format. Version 2 (written now):
//
//	"SCALEOUT-SNAP" 0x02 | size: 8 bytes big-endian | size bytes of bbolt file | SHA-256 of those bytes
//
// Version 1 (read only, from backups of earlier releases) is the magic, 0x01
// and the bbolt file up to EOF. Restore verifies a snapshot completely (size,
// checksum, then the bbolt structure with every page it reaches) before
// the store is swapped: a truncated or corrupt snapshot is an error
// (ErrInvalid) and changes nothing, it never reaches bbolt's mmap of the
// live store (a truncated file there is a SIGBUS).
var snapshotMagic = []byte("SCALEOUT-SNAP")

const (
	snapshotV1      byte = 1
	snapshotVersion byte = 2
)

// Snapshot is a consistent point-in-time read of the store.
type Snapshot struct {
	tx *bolt.Tx
}

// Snapshot opens a read transaction that Persist streams out. The caller must
// call Release.
func (s *Store) Snapshot() (*Snapshot, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	tx, err := s.db.Begin(false)
	if err != nil {
		return nil, err
	}
	return &Snapshot{tx: tx}, nil
}

// WriteTo writes the header, a copy of the database and its checksum to w.
func (sn *Snapshot) WriteTo(w io.Writer) (int64, error) {
	hdr := make([]byte, 0, len(snapshotMagic)+9)
	hdr = append(append(hdr, snapshotMagic...), snapshotVersion)
	hdr = binary.BigEndian.AppendUint64(hdr, uint64(sn.tx.Size()))
	n, err := w.Write(hdr)
	if err != nil {
		return int64(n), err
	}
	h := sha256.New()
	m, err := sn.tx.WriteTo(io.MultiWriter(w, h))
	total := int64(n) + m
	if err != nil {
		return total, err
	}
	if m != sn.tx.Size() {
		return total, fmt.Errorf("snapshot: wrote %d bytes of a %d-byte database", m, sn.tx.Size())
	}
	k, err := w.Write(h.Sum(nil))
	return total + int64(k), err
}

// Release ends the snapshot's read transaction.
func (sn *Snapshot) Release() { _ = sn.tx.Rollback() }

// Restore replaces the whole store with the snapshot read from r. The
// snapshot is written beside the store and verified (see the format above);
// only a verified one is swapped in, under the lock. A snapshot that fails
// verification is an ErrInvalid naming what is wrong.
func (s *Store) Restore(r io.Reader) error {
	tmp := s.path + ".restore"
	if err := writeVerified(tmp, r); err != nil {
		os.Remove(tmp)
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.db.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, s.path); err != nil {
		return err
	}
	db, err := s.openDB(s.path)
	if err != nil {
		return err
	}
	s.db = db
	return nil
}

// VerifySnapshot reads a whole snapshot and verifies it without keeping it;
// tmpPath is where it is written meanwhile.
func VerifySnapshot(tmpPath string, r io.Reader) error {
	defer os.Remove(tmpPath)
	return writeVerified(tmpPath, r)
}

func writeVerified(path string, r io.Reader) error {
	hdr := make([]byte, len(snapshotMagic)+1)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return invalidf("snapshot header: %v", err)
	}
	if !bytes.Equal(hdr[:len(snapshotMagic)], snapshotMagic) {
		return invalidf("not a scaleout snapshot (no %s header)", snapshotMagic)
	}
	var (
		size int64 = -1
		h    hash.Hash
	)
	switch v := hdr[len(snapshotMagic)]; v {
	case snapshotV1:
	case snapshotVersion:
		var sz [8]byte
		if _, err := io.ReadFull(r, sz[:]); err != nil {
			return invalidf("snapshot header: %v", err)
		}
		size, h = int64(binary.BigEndian.Uint64(sz[:])), sha256.New()
		if size < 4*minPageSize || size > 1<<40 {
			return invalidf("snapshot header names a database of %d bytes", size)
		}
	default:
		return invalidf("unsupported snapshot version %d: written by a newer scaleout (this one reads versions %d to %d); restore it with that version or a later one", v, snapshotV1, snapshotVersion)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	var w io.Writer = f
	if h != nil {
		w = io.MultiWriter(f, h)
	}
	if size >= 0 {
		n, err := io.CopyN(w, r, size)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return invalidf("snapshot is truncated: %d of %d database bytes", n, size)
			}
			return fmt.Errorf("write snapshot: %w", err)
		}
		sum := make([]byte, sha256.Size)
		if _, err := io.ReadFull(r, sum); err != nil {
			return invalidf("snapshot is truncated: its SHA-256 is missing (%v)", err)
		}
		if !bytes.Equal(sum, h.Sum(nil)) {
			return invalidf("snapshot checksum mismatch: SHA-256 %x, recorded %x (corrupt)", h.Sum(nil), sum)
		}
		if n, _ := io.Copy(io.Discard, io.LimitReader(r, 1)); n > 0 {
			return invalidf("snapshot has data after its checksum")
		}
	} else if _, err := io.Copy(w, r); err != nil {
		return fmt.Errorf("write snapshot: %w", err)
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := verifyBolt(path); err != nil {
		return invalidf("snapshot is not a valid catalog: %v", err)
	}
	return nil
}

const minPageSize = 512

// verifyBolt checks a bbolt file before it is used: its meta pages and
// size, then every bucket, key and value it holds are read once with
// faults turned into panics (a page past the end of the file would be a
// SIGBUS in bbolt's mmap), in a read-only open.
func verifyBolt(path string) (err error) {
	if err := checkMeta(path); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() {
		debug.SetPanicOnFault(true)
		defer func() {
			if p := recover(); p != nil {
				done <- fmt.Errorf("reading it failed: %v", p)
			}
		}()
		done <- walkBolt(path)
	}()
	return <-done
}

func walkBolt(path string) error {
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: 0})
	if err != nil {
		return err
	}
	defer db.Close()
	return db.View(func(tx *bolt.Tx) error {
		var walk func(b *bolt.Bucket, depth int) error
		walk = func(b *bolt.Bucket, depth int) error {
			if depth > 4 {
				return errors.New("buckets nested too deep")
			}
			return b.ForEach(func(k, v []byte) error {
				if v == nil {
					if nb := b.Bucket(k); nb != nil {
						return walk(nb, depth+1)
					}
				}
				return nil
			})
		}
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error { return walk(b, 1) })
	})
}

// checkMeta reads bbolt's two meta pages itself and checks that the file
// holds every page the newest valid one names.
func checkMeta(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	var page [16 + 64]byte // page header + meta
	if _, err := f.ReadAt(page[:], 0); err != nil {
		return fmt.Errorf("%d-byte file has no meta page", st.Size())
	}
	ps := int64(binary.LittleEndian.Uint32(page[16+8:]))
	if ps < minPageSize || ps > 1<<20 || ps&(ps-1) != 0 {
		return fmt.Errorf("page size %d", ps)
	}
	if st.Size() < 4*ps || st.Size()%ps != 0 {
		return fmt.Errorf("file of %d bytes is not a whole number of %d-byte pages", st.Size(), ps)
	}
	var best struct{ hwm, txid uint64 }
	valid := 0
	for i := int64(0); i < 2; i++ {
		if _, err := f.ReadAt(page[:], i*ps); err != nil {
			return err
		}
		m := page[16:]
		if binary.LittleEndian.Uint32(m[0:]) != 0xED0CDAED {
			continue
		}
		hwm, txid := binary.LittleEndian.Uint64(m[40:]), binary.LittleEndian.Uint64(m[48:])
		if valid == 0 || txid > best.txid {
			best.hwm, best.txid = hwm, txid
		}
		valid++
	}
	if valid == 0 {
		return errors.New("no valid bbolt meta page")
	}
	if int64(best.hwm)*ps > st.Size() {
		return fmt.Errorf("meta names %d pages of %d bytes, the file holds %d bytes (truncated)", best.hwm, ps, st.Size())
	}
	return nil
}
