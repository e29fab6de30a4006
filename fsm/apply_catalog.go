package fsm

import (
	"errors"

	"github.com/scaleout/scaleout/catalog"
)

func init() {
	register(FolderCreateType, applyFolderCreate)
	register(FolderRenameType, applyFolderRename)
	register(FolderDeleteType, applyFolderDelete)
	register(ArchiveChunkType, applyArchiveChunk)
	register(ProjectDeployType, applyProjectDeploy)
	register(ProjectRestoreType, applyProjectRestore)
	register(ProjectDeleteType, applyProjectDelete)
	register(ProjectSetValueType, applyProjectSetValue)
	register(ProjectEnvRefType, applyProjectEnvRef)
	register(EnvironmentCreateType, applyEnvironmentCreate)
	register(EnvironmentDeleteType, applyEnvironmentDelete)
	register(EnvironmentSetVariableType, applyEnvironmentSetVariable)
}

// classify returns a business error (one of the catalog's sentinels) as it
// is, for the caller of the command; anything else is a storage failure,
// wrapped as a fatalError (apply.go decides: rejection or failing disk).
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

func applyFolderCreate(tx *catalog.Tx, req *FolderCreateRequest) any {
	return bizOnly(tx.CreateFolder(req.Name, req.Description, req.Time))
}

func applyFolderRename(tx *catalog.Tx, req *FolderRenameRequest) any {
	return bizOnly(tx.RenameFolder(req.Name, req.NewName))
}

func applyFolderDelete(tx *catalog.Tx, req *FolderDeleteRequest) any {
	return bizOnly(tx.DeleteFolder(req.Name))
}

func applyArchiveChunk(tx *catalog.Tx, req *ArchiveChunkRequest) any {
	return bizOnly(tx.PutArchiveChunk(req.Hash, req.Size, req.N, req.Data, req.Time))
}

func applyProjectDeploy(tx *catalog.Tx, req *ProjectDeployRequest) any {
	// Check everything that can fail as a business error before writing.
	if _, err := tx.Folder(req.Version.Folder); err != nil {
		return bizOnly(err)
	}
	if err := catalog.ValidateObjectName("project", req.Version.Project); err != nil {
		return err
	}
	if err := catalog.CheckVersion(&req.Version); err != nil {
		return err
	}
	if err := tx.CommitArchive(req.Version.Hash); err != nil {
		return bizOnly(err)
	}
	v, err := tx.DeployVersion(&req.Version, req.Keep, req.Time)
	return catalogResult(&DeployResponse{Version: v}, err)
}

func applyProjectRestore(tx *catalog.Tx, req *ProjectRestoreRequest) any {
	return bizOnly(tx.RestoreVersion(req.Folder, req.Project, req.Version, req.Time))
}

func applyProjectDelete(tx *catalog.Tx, req *ProjectDeleteRequest) any {
	return bizOnly(tx.DeleteProject(req.Folder, req.Project))
}

func applyProjectSetValue(tx *catalog.Tx, req *ProjectSetValueRequest) any {
	if req.Value.Sensitive && req.Value.Kind == catalog.ValueLiteral && !catalog.IsSealed(req.Value.Value) {
		return errors.New("sensitive value is not sealed") // a leader bug; never store plaintext
	}
	return bizOnly(tx.SetParamValue(req.Folder, req.Project, req.Value, req.Clear, req.Time))
}

func applyProjectEnvRef(tx *catalog.Tx, req *ProjectEnvRefRequest) any {
	return bizOnly(tx.SetEnvRef(req.Folder, req.Project, req.Ref, req.Remove, req.Time))
}

func applyEnvironmentCreate(tx *catalog.Tx, req *EnvironmentCreateRequest) any {
	return bizOnly(tx.CreateEnvironment(req.Folder, req.Name, req.Description, req.Time))
}

func applyEnvironmentDelete(tx *catalog.Tx, req *EnvironmentDeleteRequest) any {
	return bizOnly(tx.DeleteEnvironment(req.Folder, req.Name))
}

func applyEnvironmentSetVariable(tx *catalog.Tx, req *EnvironmentSetVariableRequest) any {
	return bizOnly(tx.SetVariable(req.Folder, req.Environment, req.Variable, req.Remove))
}
