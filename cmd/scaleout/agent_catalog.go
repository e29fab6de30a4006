package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/go-hclog"
	"github.com/scaleout/scaleout/catalog"
	"github.com/scaleout/scaleout/cmd/scaleout/internal/config"
)

// devKeyFile is where a dev agent keeps the key it made, so that a dev agent
// restarted on the same --data-dir can still open its sealed values.
const devKeyFile = "dev-encrypt.key"

// encryptionKey returns the key from the settings (flag or config file),
// the environment, or (dev mode) the data dir, making one there if needed.
func encryptionKey(s *config.Settings, dataDir string, logger hclog.Logger) ([]byte, error) {
	text := s.EncryptKey
	switch {
	case text != "":
	case s.EncryptKeyFile != "":
		b, err := os.ReadFile(s.EncryptKeyFile)
		if err != nil {
			return nil, fmt.Errorf("--encrypt-key-file: %w", err)
		}
		text = string(b)
	case os.Getenv("SCALEOUT_ENCRYPT_KEY") != "":
		text = os.Getenv("SCALEOUT_ENCRYPT_KEY")
	case s.Dev:
		path := filepath.Join(dataDir, devKeyFile)
		b, err := os.ReadFile(path)
		if errors.Is(err, os.ErrNotExist) {
			b = []byte(catalog.GenerateKey())
			if err := os.WriteFile(path, b, 0o600); err != nil {
				return nil, fmt.Errorf("store the dev encryption key: %w", err)
			}
			logger.Info("dev mode: made an encryption key for sensitive values", "file", path)
		} else if err != nil {
			return nil, err
		}
		text = string(b)
	default:
		return nil, errors.New("no encryption key: give --encrypt-key, --encrypt-key-file or SCALEOUT_ENCRYPT_KEY (make one with 'scaleout keygen')")
	}
	return catalog.ParseKey(strings.TrimSpace(text))
}

// catalogCipher returns the cipher that seals sensitive values in the
// catalog. Only servers need it.
func catalogCipher(s *config.Settings, dataDir string, logger hclog.Logger) (*catalog.Cipher, error) {
	key, err := encryptionKey(s, dataDir, logger)
	if err != nil {
		return nil, err
	}
	return catalog.NewCipher(key)
}
