package worker

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/scaleout/scaleout/catalog/project"
)

// prepareProject readies dir for an attempt of a deployed package: the
// project archive named by the task's hash is fetched through the agent's
// API (once: cached under WorkDir/archives/<hash>.tar.gz, verified against
// its hash) and extracted into dir, which becomes the package's project
// directory. Everything else the package needs came with the lease.
func (a *attempt) prepareProject(dir string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	path, err := a.w.fetchArchive(ctx, a.task.ArchiveHash)
	if err != nil {
		return err
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := project.Unpack(f, dir, 0); err != nil {
		return fmt.Errorf("extract project archive %s: %w", a.task.ArchiveHash, err)
	}
	return nil
}

// fetchArchive returns the cached archive with the given content hash,
// downloading and verifying it first if needed.
func (w *Worker) fetchArchive(ctx context.Context, hash string) (string, error) {
	if len(hash) != 64 || strings.ContainsAny(hash, `/\.`) {
		return "", fmt.Errorf("invalid archive hash %q", hash)
	}
	dir := filepath.Join(w.cfg.WorkDir, "archives")
	path := filepath.Join(dir, hash+".tar.gz")
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	tmp, err := os.CreateTemp(dir, hash+".*.partial")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	h := sha256.New()
	err = w.cfg.Client.Archives().Download(ctx, hash, io.MultiWriter(tmp, h))
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("fetch project archive %s: %w", hash, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != hash {
		return "", errors.New("fetched project archive does not match its hash " + hash)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return "", err
	}
	w.logger.Debug("project archive cached", "hash", hash, "path", path)
	return path, nil
}
