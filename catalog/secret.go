package catalog

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// SealedPrefix starts every sealed value, followed by base64(nonce ||
// AES-256-GCM ciphertext).
const SealedPrefix = "enc:v1:"

// KeySize is the length of an encryption key in bytes (AES-256).
const KeySize = 32

// ErrDecrypt means a sealed value could not be opened: the servers were
// given different keys, or the value is damaged.
var ErrDecrypt = errors.New("cannot decrypt sensitive value (is every server given the same --encrypt-key?)")

// Cipher seals and opens sensitive values. Values are sealed on the server
// that receives them, before they enter the Raft log, so the log, snapshots
// and the catalog file hold only ciphertext. Sealing draws a random nonce:
// call it on the leader before Apply, never inside the FSM.
type Cipher struct {
	aead cipher.AEAD
	id   string
}

// KeyID names the key without revealing it: the first 8 bytes of a SHA-256
// over a fixed label and the key, in hex. Servers gossip it so that a server
// started with another key is reported at once.
func (c *Cipher) KeyID() string { return c.id }

// NewCipher returns a cipher for a KeySize-byte key.
func NewCipher(key []byte) (*Cipher, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("encryption key is %d bytes, want %d", len(key), KeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(append([]byte("scaleout key id\x00"), key...))
	return &Cipher{aead: aead, id: hex.EncodeToString(sum[:8])}, nil
}

// GenerateKey returns a new random key in the text form ParseKey reads.
func GenerateKey() string {
	k := make([]byte, KeySize)
	if _, err := rand.Read(k); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err))
	}
	return base64.StdEncoding.EncodeToString(k)
}

// ParseKey reads a base64-encoded KeySize-byte key.
func ParseKey(s string) ([]byte, error) {
	k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil {
		return nil, fmt.Errorf("encryption key is not base64: %w", err)
	}
	if len(k) != KeySize {
		return nil, fmt.Errorf("encryption key is %d bytes, want %d (make one with 'scaleout keygen')", len(k), KeySize)
	}
	return k, nil
}

// IsSealed reports whether s is a sealed value.
func IsSealed(s string) bool { return strings.HasPrefix(s, SealedPrefix) }

// Seal encrypts plain.
func (c *Cipher) Seal(plain string) (string, error) {
	nonce := make([]byte, c.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	out := c.aead.Seal(nonce, nonce, []byte(plain), []byte(SealedPrefix))
	return SealedPrefix + base64.RawStdEncoding.EncodeToString(out), nil
}

// Open decrypts a value produced by Seal.
func (c *Cipher) Open(sealed string) (string, error) {
	raw, ok := strings.CutPrefix(sealed, SealedPrefix)
	if !ok {
		return "", fmt.Errorf("%w: not a sealed value", ErrDecrypt)
	}
	buf, err := base64.RawStdEncoding.DecodeString(raw)
	if err != nil || len(buf) < c.aead.NonceSize() {
		return "", ErrDecrypt
	}
	n := c.aead.NonceSize()
	plain, err := c.aead.Open(nil, buf[:n], buf[n:], []byte(SealedPrefix))
	if err != nil {
		return "", ErrDecrypt
	}
	return string(plain), nil
}
