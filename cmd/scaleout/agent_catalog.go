package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/scaleout/scaleout/catalog"
	"github.com/scaleout/scaleout/cluster/master"
	"github.com/spf13/cobra"
)

// catalogFlags are the agent's catalog settings.
type catalogFlags struct {
	encryptKey      string
	encryptKeyFile  string
	keepVersions    int
	maxArchiveBytes int64
	maxEvents       uint64
	loggingLevel    string
	retention       time.Duration
}

// addCatalogFlags registers the catalog flags on the agent command.
func addCatalogFlags(cmd *cobra.Command) *catalogFlags {
	f := &catalogFlags{}
	d := master.DefaultCatalogConfig()
	fl := cmd.Flags()
	fl.StringVar(&f.encryptKey, "encrypt-key", "", "key that seals sensitive values, base64 of 32 bytes ('scaleout keygen'); every server needs the same one (default: $SCALEOUT_ENCRYPT_KEY; --dev makes one)")
	fl.StringVar(&f.encryptKeyFile, "encrypt-key-file", "", "file holding the --encrypt-key")
	fl.IntVar(&f.keepVersions, "keep-versions", d.KeepVersions, "versions kept per project")
	fl.Int64Var(&f.maxArchiveBytes, "max-archive-bytes", d.MaxArchiveBytes, "largest project archive accepted by deploy (413 above)")
	fl.Uint64Var(&f.maxEvents, "max-events", d.MaxEvents, "events kept per execution; the last one says the log was truncated")
	fl.StringVar(&f.loggingLevel, "logging-level", d.DefaultLoggingLevel, "default logging level of executions: none, basic, performance, verbose")
	fl.DurationVar(&f.retention, "retention", d.Retention, "ended executions and their events are removed after this long")
	return f
}

// devKeyFile is where a dev agent keeps the key it made, so that a dev agent
// restarted on the same --data-dir can still open its sealed values.
const devKeyFile = "dev-encrypt.key"

// encryptionKey returns the key from the flags, the environment, or (dev
// mode) the data dir, making one there if needed.
func (f *catalogFlags) encryptionKey(dev bool, dataDir string, logger hclog.Logger) ([]byte, error) {
	text := f.encryptKey
	switch {
	case text != "":
	case f.encryptKeyFile != "":
		b, err := os.ReadFile(f.encryptKeyFile)
		if err != nil {
			return nil, fmt.Errorf("--encrypt-key-file: %w", err)
		}
		text = string(b)
	case os.Getenv("SCALEOUT_ENCRYPT_KEY") != "":
		text = os.Getenv("SCALEOUT_ENCRYPT_KEY")
	case dev:
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

// catalogConfig builds the agent's catalog settings. Only servers need
// the encryption key.
func (f *catalogFlags) catalogConfig(server, dev bool, dataDir string, logger hclog.Logger) (master.CatalogConfig, error) {
	cfg := master.DefaultCatalogConfig()
	cfg.KeepVersions = f.keepVersions
	cfg.MaxArchiveBytes = f.maxArchiveBytes
	cfg.MaxEvents = f.maxEvents
	cfg.DefaultLoggingLevel = f.loggingLevel
	cfg.Retention = f.retention
	if !server {
		return cfg, nil
	}
	key, err := f.encryptionKey(dev, dataDir, logger)
	if err != nil {
		return cfg, err
	}
	cfg.Cipher, err = catalog.NewCipher(key)
	return cfg, err
}
