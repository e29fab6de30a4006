package fsm

import (
	"errors"

	"github.com/scaleout/scaleout/catalog"
)

func init() {
	register(FolderCreateType, (*FSM).applyFolderCreate)
	register(FolderRenameType, (*FSM).applyFolderRename)
	register(FolderDeleteType, (*FSM).applyFolderDelete)
	register(ArchiveChunkType, (*FSM).applyArchiveChunk)
	register(ProjectDeployType, (*FSM).applyProjectDeploy)
	register(ProjectRestoreType, (*FSM).applyProjectRestore)
	register(ProjectDeleteType, (*FSM).applyProjectDelete)
	register(ProjectSetValueType, (*FSM).applyProjectSetValue)
	register(ProjectEnvRefType, (*FSM).applyProjectEnvRef)
	register(EnvironmentCreateType, (*FSM).applyEnvironmentCreate)
	register(EnvironmentDeleteType, (*FSM).applyEnvironmentDelete)
	register(EnvironmentSetVariableType, (*FSM).applyEnvironmentSetVariable)
}

// classify returns a business error (one of the catalog's sentinels) as it
// is, for the caller of the command; anything else is a storage failure,
// wrapped as a fatalError that stops the server.
func classify(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, catalog.ErrNotFound), errors.Is(err, catalog.ErrExists),
		errors.Is(err, catalog.ErrNotEmpty), errors.Is(err, catalog.ErrInvalid),
		errors.Is(err, catalog.ErrAlreadyEnded):
		return err
	}
	return fatalError{err}
}

// catalogResult turns the error of a catalog rule into the applier's
// response (see classify).
func catalogResult(resp any, err error) any {
	if err = classify(err); err != nil {
		return err
	}
	return resp
}

// bizOnly is catalogResult without a value. The catalog rules check
// everything before they write, so a business error leaves the batch's
// transaction unchanged.
func bizOnly(err error) any { return catalogResult(nil, err) }

func (f *FSM) applyFolderCreate(tx *catalog.Tx, _ uint64, buf []byte) any {
	var req FolderCreateRequest
	mustDecode(buf, &req)
	return bizOnly(tx.CreateFolder(req.Name, req.Description, req.Time))
}

func (f *FSM) applyFolderRename(tx *catalog.Tx, _ uint64, buf []byte) any {
	var req FolderRenameRequest
	mustDecode(buf, &req)
	return bizOnly(tx.RenameFolder(req.Name, req.NewName))
}

func (f *FSM) applyFolderDelete(tx *catalog.Tx, _ uint64, buf []byte) any {
	var req FolderDeleteRequest
	mustDecode(buf, &req)
	return bizOnly(tx.DeleteFolder(req.Name))
}

func (f *FSM) applyArchiveChunk(tx *catalog.Tx, _ uint64, buf []byte) any {
	var req ArchiveChunkRequest
	mustDecode(buf, &req)
	return bizOnly(tx.PutArchiveChunk(req.Hash, req.Size, req.N, req.Data, req.Time))
}

func (f *FSM) applyProjectDeploy(tx *catalog.Tx, _ uint64, buf []byte) any {
	var req ProjectDeployRequest
	mustDecode(buf, &req)
	// Check everything that can fail as a business error before writing.
	if _, err := tx.Folder(req.Version.Folder); err != nil {
		return bizOnly(err)
	}
	if err := catalog.ValidateObjectName("project", req.Version.Project); err != nil {
		return err
	}
	if err := tx.CommitArchive(req.Version.Hash); err != nil {
		return bizOnly(err)
	}
	v, err := tx.DeployVersion(&req.Version, req.Keep, req.Time)
	return catalogResult(&DeployResponse{Version: v}, err)
}

func (f *FSM) applyProjectRestore(tx *catalog.Tx, _ uint64, buf []byte) any {
	var req ProjectRestoreRequest
	mustDecode(buf, &req)
	return bizOnly(tx.RestoreVersion(req.Folder, req.Project, req.Version, req.Time))
}

func (f *FSM) applyProjectDelete(tx *catalog.Tx, _ uint64, buf []byte) any {
	var req ProjectDeleteRequest
	mustDecode(buf, &req)
	return bizOnly(tx.DeleteProject(req.Folder, req.Project))
}

func (f *FSM) applyProjectSetValue(tx *catalog.Tx, _ uint64, buf []byte) any {
	var req ProjectSetValueRequest
	mustDecode(buf, &req)
	if req.Value.Sensitive && req.Value.Kind == catalog.ValueLiteral && !catalog.IsSealed(req.Value.Value) {
		return errors.New("sensitive value is not sealed") // a leader bug; never store plaintext
	}
	return bizOnly(tx.SetParamValue(req.Folder, req.Project, req.Value, req.Clear, req.Time))
}

func (f *FSM) applyProjectEnvRef(tx *catalog.Tx, _ uint64, buf []byte) any {
	var req ProjectEnvRefRequest
	mustDecode(buf, &req)
	return bizOnly(tx.SetEnvRef(req.Folder, req.Project, req.Ref, req.Remove, req.Time))
}

func (f *FSM) applyEnvironmentCreate(tx *catalog.Tx, _ uint64, buf []byte) any {
	var req EnvironmentCreateRequest
	mustDecode(buf, &req)
	return bizOnly(tx.CreateEnvironment(req.Folder, req.Name, req.Description, req.Time))
}

func (f *FSM) applyEnvironmentDelete(tx *catalog.Tx, _ uint64, buf []byte) any {
	var req EnvironmentDeleteRequest
	mustDecode(buf, &req)
	return bizOnly(tx.DeleteEnvironment(req.Folder, req.Name))
}

func (f *FSM) applyEnvironmentSetVariable(tx *catalog.Tx, _ uint64, buf []byte) any {
	var req EnvironmentSetVariableRequest
	mustDecode(buf, &req)
	return bizOnly(tx.SetVariable(req.Folder, req.Environment, req.Variable, req.Remove))
}
