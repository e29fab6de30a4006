package cluster

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/scaleout/scaleout/catalog"
)

func TestKeyring_PersistsRotation(t *testing.T) {
	dir := t.TempDir()
	// No key, no file: gossip is not encrypted and keyring calls say so.
	k, warn, err := openKeyring(dir, nil)
	if err != nil || warn != "" || k.ring != nil {
		t.Fatalf("no key: %v %q", err, warn)
	}
	if _, err := k.list(); err != ErrGossipNotEncrypted {
		t.Fatalf("list without encryption: %v", err)
	}
	old, next := catalog.GenerateKey(), catalog.GenerateKey()
	oldRaw, _ := base64.StdEncoding.DecodeString(old)
	k, _, err = openKeyring(dir, oldRaw)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, keyringFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("keyring file: %v %v", err, fi)
	}
	if err := k.change(KeyringUse, next); err == nil || !strings.Contains(err.Error(), "install it first") {
		t.Fatalf("use of a key not installed: %v", err)
	}
	for _, step := range [][2]string{{KeyringInstall, next}, {KeyringUse, next}, {KeyringRemove, old}, {KeyringRemove, old}} {
		if err := k.change(step[0], step[1]); err != nil {
			t.Fatalf("%s: %v", step[0], err)
		}
	}
	if err := k.change(KeyringRemove, next); err == nil {
		t.Fatal("the primary key was removed")
	}
	for _, bad := range []string{"not base64!", base64.StdEncoding.EncodeToString([]byte("short"))} {
		if err := k.change(KeyringInstall, bad); err == nil {
			t.Errorf("install of %q accepted", bad)
		}
	}
	// A restart with the old gossip_key keeps the rotated keyring and warns.
	k2, warn, err := openKeyring(dir, oldRaw)
	if err != nil {
		t.Fatal(err)
	}
	if keys, _ := k2.list(); !slices.Equal(keys, []string{next}) {
		t.Fatalf("keyring after restart: %v, want [%s]", keys, next)
	}
	if !strings.Contains(warn, "not in this agent's keyring") {
		t.Errorf("no warning about the stale gossip_key: %q", warn)
	}
	// A damaged file is an error naming it.
	if err := os.WriteFile(filepath.Join(dir, keyringFile), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := openKeyring(dir, nil); err == nil || !strings.Contains(err.Error(), keyringFile) {
		t.Errorf("damaged keyring: %v", err)
	}
}
