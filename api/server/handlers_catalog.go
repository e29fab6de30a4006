package server

import (
	"encoding/json"
	"errors"
	"io"
	"maps"
	"net/http"
	"strconv"

	"github.com/scaleout/scaleout/api"
	"github.com/scaleout/scaleout/catalog"
	"github.com/scaleout/scaleout/catalog/pkgspec"
)

// maxSnapshotBytes bounds a snapshot upload (PUT /v1/operator/snapshot).
const maxSnapshotBytes = 64 << 30

// registerCatalog adds the catalog routes. Archive and snapshot transfers
// are raw bytes, not JSON, so they get their own handler on mux.
func (s *srv) registerCatalog(h func(string, mode, bool, handlerFunc), raw func(string, mode, bool, http.Handler)) {
	cat, op := s.svc.Catalog != nil, s.svc.Operator != nil
	h("GET /v1/folders", read, cat, s.listFolders)
	h("POST /v1/folders", leader, cat, s.createFolder)
	h("GET /v1/folders/{folder}", read, cat, s.getFolder)
	h("POST /v1/folders/{folder}/rename", leader, cat, s.renameFolder)
	h("DELETE /v1/folders/{folder}", leader, cat, s.deleteFolder)

	h("POST /v1/archives", leader, cat, s.startUpload)
	h("PUT /v1/archives/{hash}/chunks/{n}", leader, cat, s.putChunk)
	raw("GET /v1/archives/{hash}", read, cat, s.raw(0, s.getArchive))

	h("GET /v1/folders/{folder}/projects", read, cat, s.listProjects)
	h("GET /v1/folders/{folder}/projects/{project}", read, cat, s.getProject)
	h("DELETE /v1/folders/{folder}/projects/{project}", leader, cat, s.deleteProject)
	h("POST /v1/folders/{folder}/projects/{project}/versions", leader, cat, s.deploy)
	h("GET /v1/folders/{folder}/projects/{project}/versions", read, cat, s.listVersions)
	h("POST /v1/folders/{folder}/projects/{project}/restore", leader, cat, s.restoreVersion)
	h("PUT /v1/folders/{folder}/projects/{project}/values", leader, cat, s.setValue)
	h("POST /v1/folders/{folder}/projects/{project}/references", leader, cat, s.setReference)
	h("GET /v1/folders/{folder}/projects/{project}/packages", read, cat, s.listPackages)
	h("POST /v1/folders/{folder}/projects/{project}/packages/{package}/executions", leader, cat, s.createExecution)

	h("GET /v1/folders/{folder}/environments", read, cat, s.listEnvironments)
	h("POST /v1/folders/{folder}/environments", leader, cat, s.createEnvironment)
	h("GET /v1/folders/{folder}/environments/{env}", read, cat, s.getEnvironment)
	h("DELETE /v1/folders/{folder}/environments/{env}", leader, cat, s.deleteEnvironment)
	h("PUT /v1/folders/{folder}/environments/{env}/variables/{name}", leader, cat, s.setVariable)
	h("DELETE /v1/folders/{folder}/environments/{env}/variables/{name}", leader, cat, s.deleteVariable)

	raw("GET /v1/operator/snapshot", leader, op, s.raw(0, s.saveSnapshot))
	raw("PUT /v1/operator/snapshot", leader, op, s.raw(maxSnapshotBytes, s.restoreSnapshot))
}

// countingWriter records whether anything was written, so an error before
// the first byte can still be answered as JSON.
type countingWriter struct {
	http.ResponseWriter
	n int64
}

func (c *countingWriter) Write(b []byte) (int, error) {
	if c.n == 0 {
		c.ResponseWriter.Header().Set("Content-Type", "application/octet-stream")
	}
	n, err := c.ResponseWriter.Write(b)
	c.n += int64(n)
	return n, err
}

// raw serves a handler that reads or writes raw bytes; errors before any
// output are JSON like everywhere else.
func (s *srv) raw(limit int64, fn func(w io.Writer, r *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if limit > 0 {
			r.Body = http.MaxBytesReader(w, r.Body, limit)
		}
		cw := &countingWriter{ResponseWriter: w}
		err := fn(cw, r)
		if err == nil {
			if cw.n == 0 {
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte("{}\n"))
			}
			return
		}
		if cw.n > 0 {
			s.logger.Error("raw response failed midway", "path", r.URL.Path, "error", err)
			return
		}
		code := errorStatus(err)
		if code >= 500 {
			s.logger.Error("request failed", "method", r.Method, "path", r.URL.Path, "error", err)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(api.ErrorResponse{Error: err.Error()})
	})
}

func (s *srv) listFolders(r *http.Request) (any, error) {
	list, err := s.svc.Catalog.Folders()
	if err == nil && principalFrom(r.Context()) != nil {
		kept := list[:0:0]
		for _, f := range list {
			if mayRead(r, f.Name) {
				kept = append(kept, f)
			}
		}
		list = kept
	}
	return apiList(toAPIFolder)(list, err)
}

func (s *srv) createFolder(r *http.Request) (any, error) {
	return withBody(r, func(req *api.FolderRequest) (any, error) {
		return nil, s.svc.Catalog.CreateFolder(r.Context(), req.Name, req.Description)
	})
}

func toAPIFolder(f *catalog.Folder) api.Folder {
	return api.Folder{Name: f.Name, Description: f.Description, CreatedAt: f.CreatedAt}
}

func (s *srv) getFolder(r *http.Request) (any, error) {
	return apiValue(toAPIFolder)(s.svc.Catalog.Folder(r.PathValue("folder")))
}

func (s *srv) renameFolder(r *http.Request) (any, error) {
	return withBody(r, func(req *api.FolderRequest) (any, error) {
		return nil, s.svc.Catalog.RenameFolder(r.Context(), r.PathValue("folder"), req.Name)
	})
}

func (s *srv) deleteFolder(r *http.Request) (any, error) {
	return nil, s.svc.Catalog.DeleteFolder(r.Context(), r.PathValue("folder"))
}

func (s *srv) startUpload(r *http.Request) (any, error) {
	return withBody(r, func(req *api.UploadRequest) (any, error) {
		return s.svc.Catalog.StartUpload(req.Hash, req.Size)
	})
}

func (s *srv) putChunk(r *http.Request) (any, error) {
	n, err := strconv.Atoi(r.PathValue("n"))
	if err != nil || n < 0 {
		return nil, codedErr(http.StatusBadRequest, "invalid chunk number %q", r.PathValue("n"))
	}
	size, err := strconv.ParseInt(r.URL.Query().Get("size"), 10, 64)
	if err != nil {
		return nil, codedErr(http.StatusBadRequest, "query parameter size (the archive's size in bytes) is required")
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, catalog.ArchiveChunkSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > catalog.ArchiveChunkSize {
		return nil, codedErr(http.StatusRequestEntityTooLarge, "a chunk is at most %d bytes", catalog.ArchiveChunkSize)
	}
	return nil, s.svc.Catalog.PutChunk(r.Context(), r.PathValue("hash"), size, n, data)
}

func (s *srv) getArchive(w io.Writer, r *http.Request) error {
	return s.svc.Catalog.WriteArchive(r.PathValue("hash"), w)
}

func toAPIParams(defs []pkgspec.Parameter) []api.Param {
	out := make([]api.Param, 0, len(defs))
	for _, d := range defs {
		out = append(out, api.Param{Name: d.Name, Type: d.Type, Default: d.Default, Required: d.Required, Sensitive: d.Sensitive, Description: d.Description})
	}
	return out
}

func toAPIPackages(v *catalog.ProjectVersion) []api.Package {
	out := make([]api.Package, 0, len(v.Packages))
	for _, p := range v.Packages {
		out = append(out, api.Package{Name: p.Name, File: p.File, EntryPoint: p.EntryPoint, Description: p.Description, Parameters: toAPIParams(p.Parameters)})
	}
	return out
}

func toAPIVersion(v *catalog.ProjectVersion, current uint64) *api.ProjectVersion {
	out := &api.ProjectVersion{Version: v.Version, Current: v.Version == current, Hash: v.Hash, Size: v.Size, Deployer: v.Deployer,
		DeployedAt: v.DeployedAt, Description: v.Description, Parameters: toAPIParams(v.Parameters), Packages: toAPIPackages(v)}
	for _, c := range v.Connections {
		out.Connections = append(out.Connections, api.Connection{Name: c.Name, Type: c.Type, Description: c.Description, Properties: c.Properties})
	}
	return out
}

func toAPIProject(p *catalog.Project, cur *catalog.ProjectVersion) api.Project {
	out := api.Project{Folder: p.Folder, Name: p.Name, Description: p.Description, Version: p.Version, CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt}
	if cur != nil {
		out.Current = toAPIVersion(cur, p.Version)
	}
	for _, v := range p.Values {
		av := api.ParamValue{Package: v.Package, Name: v.Name, Kind: v.Kind, Value: v.Value, Variable: v.Variable, Sensitive: v.Sensitive}
		if v.Sensitive && v.Kind == catalog.ValueLiteral {
			av.Value = api.Masked
		}
		out.Values = append(out.Values, av)
	}
	for _, r := range p.EnvRefs {
		out.References = append(out.References, r.String())
	}
	return out
}

func (s *srv) listProjects(r *http.Request) (any, error) {
	return apiList(func(p *catalog.Project) api.Project { return toAPIProject(p, nil) })(s.svc.Catalog.Projects(r.PathValue("folder")))
}

func (s *srv) getProject(r *http.Request) (any, error) {
	p, cur, err := s.svc.Catalog.Project(r.PathValue("folder"), r.PathValue("project"))
	if err != nil {
		return nil, err
	}
	return toAPIProject(p, cur), nil
}

func (s *srv) deleteProject(r *http.Request) (any, error) {
	return nil, s.svc.Catalog.DeleteProject(r.Context(), r.PathValue("folder"), r.PathValue("project"))
}

func (s *srv) deploy(r *http.Request) (any, error) {
	return withBody(r, func(req *api.DeployRequest) (any, error) {
		v, err := s.svc.Catalog.Deploy(r.Context(), r.PathValue("folder"), r.PathValue("project"), req.Hash, caller(r))
		if err != nil {
			return nil, err
		}
		return toAPIVersion(v, v.Version), nil
	})
}

func (s *srv) listVersions(r *http.Request) (any, error) {
	list, current, err := s.svc.Catalog.ProjectVersions(r.PathValue("folder"), r.PathValue("project"))
	if err != nil {
		return nil, err
	}
	out := make([]*api.ProjectVersion, 0, len(list))
	for _, v := range list {
		av := toAPIVersion(v, current)
		av.Parameters, av.Packages, av.Connections = nil, nil, nil
		out = append(out, av)
	}
	return out, nil
}

func (s *srv) restoreVersion(r *http.Request) (any, error) {
	return withBody(r, func(req *api.RestoreRequest) (any, error) {
		return nil, s.svc.Catalog.RestoreVersion(r.Context(), r.PathValue("folder"), r.PathValue("project"), req.Version)
	})
}

func (s *srv) setValue(r *http.Request) (any, error) {
	return withBody(r, func(req *api.SetValueRequest) (any, error) {
		return nil, s.svc.Catalog.SetValue(r.Context(), r.PathValue("folder"), r.PathValue("project"), req)
	})
}

func (s *srv) setReference(r *http.Request) (any, error) {
	return withBody(r, func(req *api.ReferenceRequest) (any, error) {
		return nil, s.svc.Catalog.SetReference(r.Context(), r.PathValue("folder"), r.PathValue("project"), req.Environment, req.Remove)
	})
}

func (s *srv) listPackages(r *http.Request) (any, error) {
	_, cur, err := s.svc.Catalog.Project(r.PathValue("folder"), r.PathValue("project"))
	if err != nil {
		return nil, err
	}
	return toAPIPackages(cur), nil
}

func (s *srv) createExecution(r *http.Request) (any, error) {
	return withBody(r, func(req *api.CreateExecutionRequest) (any, error) {
		if err := idempotencyKey(r, &req.IdempotencyKey); err != nil {
			return nil, err
		}
		id, err := s.svc.Catalog.CreateExecution(r.Context(), r.PathValue("folder"), r.PathValue("project"), r.PathValue("package"), req, caller(r))
		if err != nil {
			return nil, err
		}
		return api.SubmitResponse{ID: id}, nil
	})
}

func toAPIEnvironment(e *catalog.Environment) api.Environment {
	out := api.Environment{Folder: e.Folder, Name: e.Name, Description: e.Description, CreatedAt: e.CreatedAt}
	for _, v := range e.Variables {
		av := api.Variable{Name: v.Name, Type: v.Type, Value: v.Value, Sensitive: v.Sensitive, Description: v.Description}
		if v.Sensitive {
			av.Value = api.Masked
		}
		out.Variables = append(out.Variables, av)
	}
	return out
}

func (s *srv) listEnvironments(r *http.Request) (any, error) {
	return apiList(toAPIEnvironment)(s.svc.Catalog.Environments(r.PathValue("folder")))
}

func (s *srv) createEnvironment(r *http.Request) (any, error) {
	return withBody(r, func(req *api.EnvironmentRequest) (any, error) {
		return nil, s.svc.Catalog.CreateEnvironment(r.Context(), r.PathValue("folder"), req.Name, req.Description)
	})
}

func (s *srv) getEnvironment(r *http.Request) (any, error) {
	return apiValue(toAPIEnvironment)(s.svc.Catalog.Environment(r.PathValue("folder"), r.PathValue("env")))
}

func (s *srv) deleteEnvironment(r *http.Request) (any, error) {
	return nil, s.svc.Catalog.DeleteEnvironment(r.Context(), r.PathValue("folder"), r.PathValue("env"))
}

func (s *srv) setVariable(r *http.Request) (any, error) {
	return withBody(r, func(req *api.VariableRequest) (any, error) {
		return nil, s.svc.Catalog.SetVariable(r.Context(), r.PathValue("folder"), r.PathValue("env"), r.PathValue("name"), req, false)
	})
}

func (s *srv) deleteVariable(r *http.Request) (any, error) {
	return nil, s.svc.Catalog.SetVariable(r.Context(), r.PathValue("folder"), r.PathValue("env"), r.PathValue("name"), &api.VariableRequest{}, true)
}

func (s *srv) saveSnapshot(w io.Writer, r *http.Request) error {
	return s.svc.Operator.WriteSnapshot(w)
}

func (s *srv) restoreSnapshot(_ io.Writer, r *http.Request) error {
	err := s.svc.Operator.RestoreSnapshot(r.Context(), r.Body)
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return codedErr(http.StatusRequestEntityTooLarge, "snapshot is larger than %d bytes", mbe.Limit)
	}
	return err
}

// addCatalogFields copies the catalog fields of an execution into its API
// form, masking sensitive project parameters.
func addCatalogFields(out *api.Execution, e *catalog.Execution) {
	out.Folder, out.Project, out.ProjectVersion, out.Environment = e.Folder, e.Project, e.ProjectVersion, e.Environment
	out.LoggingLevel, out.TargetWorkers, out.TargetLabels, out.Truncated = e.LoggingLevel, e.TargetWorkers, e.TargetLabels, e.Truncated
	if e.Folder != "" && e.PackageFile != "" {
		out.PackageFile = e.PackageFile
	}
	out.ProjectParams = e.ProjectParams
	if len(e.ProjectSensitive) > 0 {
		out.ProjectParams = maps.Clone(e.ProjectParams)
		for _, name := range e.ProjectSensitive {
			if _, ok := out.ProjectParams[name]; ok {
				out.ProjectParams[name] = api.Masked
			}
		}
	}
}
