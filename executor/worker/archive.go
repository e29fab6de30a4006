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
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/scaleout/scaleout/api"
	"github.com/scaleout/scaleout/catalog/project"
	"github.com/scaleout/scaleout/executor"
)

// catalogJob is the part of an attempt that runs a deployed project's
// package. The lease of such an attempt carries no package source: the
// worker asks the master for the job (archive hash, package path and the
// values, sensitive ones in clear — only the worker holding the attempt
// gets them), fetches the archive by hash through its agent's API, caches
// it under WorkDir/archives/<hash>.tar.gz, and extracts it into the
// attempt's work directory, which becomes the package's project directory
// and default working directory.
type catalogJob struct {
	projectDir string
	env        []string // extra environment of the package process
	secrets    []string // clear sensitive values, masked in events
	// loggingLevel is the execution's logging level for the executor.
	loggingLevel string
	// connections are the project's connections, resolved for the executor.
	connections map[string]executor.Connection
}

// Environment variables a catalog package's tasks see.
const (
	// EnvProjectDir names the extracted project directory.
	EnvProjectDir = "SCALEOUT_PROJECT_DIR"
	// EnvProjectParamPrefix + NAME holds project parameter NAME.
	EnvProjectParamPrefix = "SCALEOUT_PROJECT_"
)

// prepareCatalog readies dir for a catalog execution's attempt; it does
// nothing for inline packages.
func (a *attempt) prepareCatalog(dir string) error {
	if a.task.Package != "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var job *api.Job
	err := a.send(func(ctx context.Context) (err error) {
		job, err = a.w.cfg.Client.Executions().Job(ctx, a.task.ID, a.task.Attempt, a.w.cfg.ID)
		return err
	})
	if err != nil {
		return fmt.Errorf("ask the master for the job: %w", err)
	}
	a.mu.Lock()
	a.secrets = job.Sensitive
	a.loggingLevel = job.LoggingLevel
	a.mu.Unlock()
	path, err := a.w.fetchArchive(ctx, job.ArchiveHash)
	if err != nil {
		return err
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := project.Unpack(f, dir, 0); err != nil {
		return fmt.Errorf("extract project archive %s: %w", job.ArchiveHash, err)
	}
	if err := a.projectConnections(path, dir, job.ProjectParams); err != nil {
		return err
	}
	src, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(job.PackageFile)))
	if err != nil {
		return fmt.Errorf("package file: %w", err)
	}
	a.task.Package, a.task.PackageFile, a.task.Params = string(src), job.PackageFile, job.Params
	a.projectDir = dir
	a.env = append(os.Environ(), EnvProjectDir+"="+dir)
	names := make([]string, 0, len(job.ProjectParams))
	for k := range job.ProjectParams {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		a.env = append(a.env, EnvProjectParamPrefix+k+"="+job.ProjectParams[k])
	}
	return nil
}

// secretValues returns the clear sensitive values of a catalog job.
func (a *attempt) secretValues() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.secrets
}

// projectRef is a reference to a project parameter in a connection property.
var projectRef = regexp.MustCompile(`\$\{project\.([A-Za-z_][A-Za-z0-9_]*)\}`)

// projectConnections resolves the connections of the extracted project's
// project.yaml: ${project.NAME} in a property is replaced by that project
// parameter's value, and passwords join the values masked in events.
func (a *attempt) projectConnections(archive, dir string, params map[string]string) error {
	raw, err := os.ReadFile(archive)
	if err != nil {
		return err
	}
	files, err := project.ReadFiles(raw, 0)
	if err != nil {
		return err
	}
	m, err := project.Load(files)
	if err != nil {
		return err
	}
	for _, c := range m.Connections {
		props := map[string]string{}
		for k, v := range c.Properties {
			var missing string
			props[k] = projectRef.ReplaceAllStringFunc(v, func(ref string) string {
				name := projectRef.FindStringSubmatch(ref)[1]
				val, ok := params[name]
				if !ok {
					missing = name
				}
				return val
			})
			if missing != "" {
				return fmt.Errorf("connection %q property %s: unknown project parameter %q", c.Name, k, missing)
			}
		}
		conn, secrets, err := executor.NewConnection(c.Type, props, dir)
		if err != nil {
			return fmt.Errorf("connection %q: %w", c.Name, err)
		}
		if a.connections == nil {
			a.connections = map[string]executor.Connection{}
		}
		a.connections[c.Name] = conn
		a.mu.Lock()
		a.secrets = append(a.secrets, secrets...)
		a.mu.Unlock()
	}
	return nil
}

// childEnv is the package process's environment: nil (inherit) for inline
// packages.
func (a *attempt) childEnv() []string { return a.env }

// mask replaces every clear sensitive value in s with api.Masked.
func (a *attempt) mask(s string) string {
	a.mu.Lock()
	secrets := a.secrets
	a.mu.Unlock()
	for _, v := range secrets {
		if v != "" && strings.Contains(s, v) {
			s = strings.ReplaceAll(s, v, api.Masked)
		}
	}
	return s
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
