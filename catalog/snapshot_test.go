package catalog

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

func snapshotBytes(t *testing.T, s *Store) []byte {
	t.Helper()
	sn, err := s.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer sn.Release()
	var b bytes.Buffer
	if _, err := sn.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestStore_RestoreVerifiesSnapshot restores truncated, corrupted and
// foreign snapshots: each is an ErrInvalid naming the problem, the store
// keeps its data and stays usable; a good snapshot (and one in the old
// format without a checksum) restores.
func TestStore_RestoreVerifiesSnapshot(t *testing.T) {
	src := TestStore(t)
	if err := src.Update(func(tx *Tx) error { return tx.CreateFolder("from-snapshot", "", time.Now()) }); err != nil {
		t.Fatal(err)
	}
	good := snapshotBytes(t, src)

	dst := TestStore(t)
	if err := dst.Update(func(tx *Tx) error { return tx.CreateFolder("kept", "", time.Now()) }); err != nil {
		t.Fatal(err)
	}
	hdr := len(snapshotMagic) + 9
	flipped := bytes.Clone(good)
	flipped[hdr+5000] ^= 0xff
	v1 := append(append([]byte{}, snapshotMagic...), snapshotV1)
	v1 = append(v1, good[hdr:len(good)-32]...)
	v1Truncated := v1[:len(v1)/2]
	v1Cut := v1[:len(v1)-4096]
	bad := map[string]struct {
		data []byte
		want string
	}{
		"empty":                   {nil, "header"},
		"foreign":                 {[]byte("PK\x03\x04 a zip file, not a snapshot at all"), "not a scaleout snapshot"},
		"truncated in the header": {good[:hdr-3], "header"},
		"truncated to half":       {good[:len(good)/2], "truncated"},
		"checksum missing":        {good[:len(good)-32], "SHA-256 is missing"},
		"checksum cut":            {good[:len(good)-7], "SHA-256 is missing"},
		"one byte flipped":        {flipped, "checksum mismatch"},
		"trailing data":           {append(bytes.Clone(good), 'x'), "after its checksum"},
		"old format truncated":    {v1Truncated, "not a valid catalog"},
		"old format cut by pages": {v1Cut, "not a valid catalog"},
		"unknown version":         {append(append([]byte{}, snapshotMagic...), 9), "version 9"},
	}
	for name, c := range bad {
		err := dst.Restore(bytes.NewReader(c.data))
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want ErrInvalid mentioning %q", name, err, c.want)
		}
		if f, err := Read(dst, func(tx *Tx) (*Folder, error) { return tx.Folder("kept") }); err != nil || f == nil {
			t.Fatalf("%s: the store lost its data after a refused restore: %v", name, err)
		}
	}
	for name, data := range map[string][]byte{"current": good, "old format": v1} {
		fresh := TestStore(t)
		if err := fresh.Restore(bytes.NewReader(data)); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if _, err := Read(fresh, func(tx *Tx) (*Folder, error) { return tx.Folder("from-snapshot") }); err != nil {
			t.Fatalf("%s: restored store: %v", name, err)
		}
	}
}
