package api

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
)

// doRaw sends body (may be nil) as raw bytes and, on success, copies the
// answer to out (may be nil).
func (c *Client) doRaw(ctx context.Context, method, path string, q url.Values, body io.Reader, out io.Writer) error {
	resp, err := c.send(ctx, method, path, q, body, "application/octet-stream")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		out = io.Discard
	}
	_, err = io.Copy(out, resp.Body)
	return err
}

func esc(s string) string { return url.PathEscape(s) }

// Folders returns the folder endpoints.
func (c *Client) Folders() *Folders { return &Folders{c} }

// Folders is the handle for /v1/folders.
type Folders struct{ c *Client }

// Create creates a folder.
func (f *Folders) Create(ctx context.Context, name, description string) error {
	return f.c.do(ctx, http.MethodPost, "/v1/folders", nil, &FolderRequest{Name: name, Description: description}, nil)
}

// List returns every folder.
func (f *Folders) List(ctx context.Context) ([]Folder, error) {
	return getList[Folder](ctx, f.c, "/v1/folders")
}

// Info returns one folder.
func (f *Folders) Info(ctx context.Context, name string) (*Folder, error) {
	return getOne[Folder](ctx, f.c, "/v1/folders/"+esc(name))
}

// Rename renames a folder.
func (f *Folders) Rename(ctx context.Context, name, newName string) error {
	return f.c.do(ctx, http.MethodPost, "/v1/folders/"+esc(name)+"/rename", nil, &FolderRequest{Name: newName}, nil)
}

// Delete deletes an empty folder.
func (f *Folders) Delete(ctx context.Context, name string) error {
	return f.c.do(ctx, http.MethodDelete, "/v1/folders/"+esc(name), nil, nil, nil)
}

// Archives returns the archive endpoints.
func (c *Client) Archives() *Archives { return &Archives{c} }

// Archives is the handle for /v1/archives: content-addressed project
// archives, uploaded and fetched in chunks.
type Archives struct{ c *Client }

// Start starts or resumes the upload of an archive.
func (a *Archives) Start(ctx context.Context, hash string, size int64) (*UploadStatus, error) {
	var out UploadStatus
	return &out, a.c.do(ctx, http.MethodPost, "/v1/archives", nil, &UploadRequest{Hash: hash, Size: size}, &out)
}

// PutChunk sends chunk n of an archive.
func (a *Archives) PutChunk(ctx context.Context, hash string, size int64, n int, data []byte) error {
	q := url.Values{"size": {strconv.FormatInt(size, 10)}}
	return a.c.doRaw(ctx, http.MethodPut, fmt.Sprintf("/v1/archives/%s/chunks/%d", esc(hash), n), q, bytes.NewReader(data), nil)
}

// Upload sends every chunk of data the server does not have yet.
func (a *Archives) Upload(ctx context.Context, hash string, data []byte) error {
	st, err := a.Start(ctx, hash, int64(len(data)))
	if err != nil || st.Exists {
		return err
	}
	have := map[int]bool{}
	for _, n := range st.Have {
		have[n] = true
	}
	for n := 0; n < st.Chunks; n++ {
		if have[n] {
			continue
		}
		end := min((n+1)*st.ChunkSize, len(data))
		if err := a.PutChunk(ctx, hash, int64(len(data)), n, data[n*st.ChunkSize:end]); err != nil {
			return err
		}
	}
	return nil
}

// Download writes the archive with the given hash to w.
func (a *Archives) Download(ctx context.Context, hash string, w io.Writer) error {
	return a.c.doRaw(ctx, http.MethodGet, "/v1/archives/"+esc(hash), nil, nil, w)
}

// folderObjects is what the handles of objects in a folder share: the
// paths, list, info and delete. kind names the collection ("projects").
type folderObjects[T any] struct {
	c      *Client
	folder string
	kind   string
}

func (f folderObjects[T]) path(name string, rest ...string) string {
	s := "/v1/folders/" + esc(f.folder) + "/" + f.kind
	if name != "" {
		s += "/" + esc(name)
	}
	for _, r := range rest {
		s += "/" + r
	}
	return s
}

// List returns the objects of the folder.
func (f folderObjects[T]) List(ctx context.Context) ([]T, error) {
	return getList[T](ctx, f.c, f.path(""))
}

// Info returns one object: a project with its current version, an
// environment with its sensitive values masked.
func (f folderObjects[T]) Info(ctx context.Context, name string) (*T, error) {
	return getOne[T](ctx, f.c, f.path(name))
}

// Delete deletes an object: a project and its versions, an environment and
// the references to it.
func (f folderObjects[T]) Delete(ctx context.Context, name string) error {
	return f.c.do(ctx, http.MethodDelete, f.path(name), nil, nil, nil)
}

// Projects returns the project endpoints of a folder.
func (c *Client) Projects(folder string) *Projects {
	return &Projects{folderObjects[Project]{c, folder, "projects"}}
}

// Projects is the handle for /v1/folders/{folder}/projects.
type Projects struct {
	folderObjects[Project]
}

// Deploy uploads an archive (from project.Pack) and deploys it as the next
// version of the project name.
func (p *Projects) Deploy(ctx context.Context, name, hash string, archive []byte) (*ProjectVersion, error) {
	if err := p.c.Archives().Upload(ctx, hash, archive); err != nil {
		return nil, err
	}
	var out ProjectVersion
	return &out, p.c.do(ctx, http.MethodPost, p.path(name, "versions"), nil, &DeployRequest{Hash: hash}, &out)
}

// Versions lists the kept versions, oldest first.
func (p *Projects) Versions(ctx context.Context, name string) ([]ProjectVersion, error) {
	return getList[ProjectVersion](ctx, p.c, p.path(name, "versions"))
}

// Restore makes an earlier version current.
func (p *Projects) Restore(ctx context.Context, name string, version uint64) error {
	return p.c.do(ctx, http.MethodPost, p.path(name, "restore"), nil, &RestoreRequest{Version: version}, nil)
}

// SetValue sets or clears a server-side parameter value.
func (p *Projects) SetValue(ctx context.Context, name string, req *SetValueRequest) error {
	return p.c.do(ctx, http.MethodPut, p.path(name, "values"), nil, req, nil)
}

// Reference adds (or with remove, removes) an environment reference:
// "name" in the same folder or "folder/name".
func (p *Projects) Reference(ctx context.Context, name, env string, remove bool) error {
	return p.c.do(ctx, http.MethodPost, p.path(name, "references"), nil, &ReferenceRequest{Environment: env, Remove: remove}, nil)
}

// Packages lists the packages of the current version.
func (p *Projects) Packages(ctx context.Context, name string) ([]Package, error) {
	return getList[Package](ctx, p.c, p.path(name, "packages"))
}

// Execute creates an execution of a package of the project's current
// version and returns its id.
func (p *Projects) Execute(ctx context.Context, name, pkg string, req *CreateExecutionRequest) (uint64, error) {
	var out SubmitResponse
	err := p.c.do(ctx, http.MethodPost, p.path(name, "packages", esc(pkg), "executions"), nil, req, &out)
	return out.ID, err
}

// Environments returns the environment endpoints of a folder.
func (c *Client) Environments(folder string) *Environments {
	return &Environments{folderObjects[Environment]{c, folder, "environments"}}
}

// Environments is the handle for /v1/folders/{folder}/environments.
type Environments struct {
	folderObjects[Environment]
}

// Create creates an environment.
func (e *Environments) Create(ctx context.Context, name, description string) error {
	return e.c.do(ctx, http.MethodPost, e.path(""), nil, &EnvironmentRequest{Name: name, Description: description}, nil)
}

// SetVariable creates or replaces a variable.
func (e *Environments) SetVariable(ctx context.Context, env, name string, v *VariableRequest) error {
	return e.c.do(ctx, http.MethodPut, e.path(env)+"/variables/"+esc(name), nil, v, nil)
}

// DeleteVariable deletes a variable.
func (e *Environments) DeleteVariable(ctx context.Context, env, name string) error {
	return e.c.do(ctx, http.MethodDelete, e.path(env)+"/variables/"+esc(name), nil, nil, nil)
}

// Operator returns the operator endpoints.
func (c *Client) Operator() *Operator { return &Operator{c} }

// Operator is the handle for /v1/operator.
type Operator struct{ c *Client }

// SnapshotSave writes a consistent copy of the whole catalog to w.
func (o *Operator) SnapshotSave(ctx context.Context, w io.Writer) error {
	return o.c.doRaw(ctx, http.MethodGet, "/v1/operator/snapshot", nil, nil, w)
}

// SnapshotRestore replaces the cluster's whole state with a snapshot.
func (o *Operator) SnapshotRestore(ctx context.Context, r io.Reader) error {
	return o.c.doRaw(ctx, http.MethodPut, "/v1/operator/snapshot", nil, r, nil)
}
