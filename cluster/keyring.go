package cluster

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/hashicorp/memberlist"
)

// keyringFile holds gossip's keys in the data dir, primary first, so that a
// rotation survives a restart (the gossip_key setting only seeds it).
const keyringFile = "gossip.keyring"

// ErrGossipNotEncrypted means a keyring operation was asked of an agent
// whose gossip is not encrypted: memberlist cannot turn encryption on while
// it runs.
var ErrGossipNotEncrypted = errors.New("gossip encryption is off on this agent (start every agent with gossip_key to turn it on)")

// keyring is gossip's memberlist.Keyring plus its file.
type keyring struct {
	mu   sync.Mutex // serializes changes and writes of the file
	ring *memberlist.Keyring
	path string
}

// openKeyring reads the keyring of dataDir, or starts one from initial
// (none when initial is empty: gossip is not encrypted). warn is set when
// the file does not hold initial: the file wins, since it holds the
// rotations made since the setting was written.
func openKeyring(dataDir string, initial []byte) (k *keyring, warn string, err error) {
	k = &keyring{path: filepath.Join(dataDir, keyringFile)}
	raw, err := os.ReadFile(k.path)
	switch {
	case err == nil:
		var enc []string
		if err := json.Unmarshal(raw, &enc); err != nil || len(enc) == 0 {
			return nil, "", fmt.Errorf("gossip keyring %s: want a JSON list of base64 keys, primary first", k.path)
		}
		keys := make([][]byte, 0, len(enc))
		for _, e := range enc {
			b, err := ParseGossipKey(e)
			if err != nil {
				return nil, "", fmt.Errorf("gossip keyring %s: %w", k.path, err)
			}
			keys = append(keys, b)
		}
		if k.ring, err = memberlist.NewKeyring(keys, keys[0]); err != nil {
			return nil, "", fmt.Errorf("gossip keyring %s: %w", k.path, err)
		}
		if len(initial) > 0 && !containsKey(keys, initial) {
			warn = "gossip_key is not in this agent's keyring (rotated since it was set); the keyring file is used: update gossip_key or remove the file to start from it"
		}
		return k, warn, nil
	case !errors.Is(err, os.ErrNotExist):
		return nil, "", fmt.Errorf("gossip keyring: %w", err)
	}
	if len(initial) == 0 {
		return k, "", nil
	}
	if k.ring, err = memberlist.NewKeyring(nil, initial); err != nil {
		return nil, "", fmt.Errorf("gossip key: %w", err)
	}
	return k, "", k.save()
}

func containsKey(keys [][]byte, k []byte) bool {
	for _, x := range keys {
		if bytes.Equal(x, k) {
			return true
		}
	}
	return false
}

// ParseGossipKey decodes a gossip key: base64 of 16, 24 or 32 bytes
// (`scaleout keygen` prints one of 32).
func ParseGossipKey(s string) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("gossip key is not base64: %w", err)
	}
	switch len(b) {
	case 16, 24, 32:
		return b, nil
	}
	return nil, fmt.Errorf("gossip key is %d bytes; want 16, 24 or 32 (base64, 'scaleout keygen')", len(b))
}

// list returns the keys, primary first, base64-encoded.
func (k *keyring) list() ([]string, error) {
	if k.ring == nil {
		return nil, ErrGossipNotEncrypted
	}
	primary := k.ring.GetPrimaryKey()
	out := []string{base64.StdEncoding.EncodeToString(primary)}
	for _, key := range k.ring.GetKeys() {
		if !bytes.Equal(key, primary) {
			out = append(out, base64.StdEncoding.EncodeToString(key))
		}
	}
	return out, nil
}

// save writes the keyring file (0600), replacing it atomically.
func (k *keyring) save() error {
	keys, err := k.list()
	if err != nil {
		return err
	}
	raw, _ := json.Marshal(keys)
	tmp := k.path + ".tmp"
	if err := os.WriteFile(tmp, raw, 0o600); err != nil {
		return fmt.Errorf("save gossip keyring: %w", err)
	}
	if err := os.Rename(tmp, k.path); err != nil {
		return fmt.Errorf("save gossip keyring: %w", err)
	}
	return nil
}

// change applies op (install, use, remove) with key and saves the keyring.
func (k *keyring) change(op, key string) error {
	if k.ring == nil {
		return ErrGossipNotEncrypted
	}
	b, err := ParseGossipKey(key)
	if err != nil {
		return err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	switch op {
	case KeyringInstall:
		err = k.ring.AddKey(b)
	case KeyringUse:
		if !containsKey(k.ring.GetKeys(), b) {
			return errors.New("the key is not installed on this agent: install it first")
		}
		err = k.ring.UseKey(b)
	case KeyringRemove:
		if !containsKey(k.ring.GetKeys(), b) {
			return nil // removed already (a retried rotation)
		}
		err = k.ring.RemoveKey(b)
	default:
		return fmt.Errorf("unknown keyring operation %q (want install, use or remove)", op)
	}
	if err != nil {
		return err
	}
	return k.save()
}

// Keyring operations.
const (
	KeyringInstall = "install"
	KeyringUse     = "use"
	KeyringRemove  = "remove"
)

// GossipKeys returns this agent's gossip keys, primary first (base64), or
// ErrGossipNotEncrypted.
func (c *Cluster) GossipKeys() ([]string, error) { return c.keyring.list() }

// GossipEncrypted reports whether this agent encrypts gossip.
func (c *Cluster) GossipEncrypted() bool { return c.keyring.ring != nil }

// ChangeGossipKeys installs a key (install), makes an installed key the
// one new messages are encrypted with (use), or removes a key that is not
// the primary (remove), on this agent only, and persists the keyring.
// Rotation across the cluster is install on every agent, then use on every
// agent, then remove of the old key on every agent: each agent decrypts
// with any installed key, so no message is lost at any step.
func (c *Cluster) ChangeGossipKeys(op, key string) error { return c.keyring.change(op, key) }
