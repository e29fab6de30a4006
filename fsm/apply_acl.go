package fsm

import (
	"errors"

	"github.com/scaleout/scaleout/catalog"
)

func init() {
	register(ACLBootstrapType, applyACLBootstrap)
	register(ACLTokenCreateType, applyACLTokenCreate)
	register(ACLTokenRevokeType, applyACLTokenRevoke)
	register(WorkerApproveType, applyWorkerApprove)
	register(SettingSetType, applySettingSet)
}

// business reports whether err is a deterministic refusal of the store
// (the command changes nothing) rather than a storage failure.
func business(err error) bool {
	return errors.Is(err, catalog.ErrInvalid) || errors.Is(err, catalog.ErrExists) ||
		errors.Is(err, catalog.ErrNotFound) || errors.Is(err, catalog.ErrTooLarge)
}

// storeResult turns an error of a store write into an applier's response.
func storeResult(err error) any {
	switch {
	case err == nil:
		return nil
	case business(err):
		return err
	}
	return fatalError{err}
}

func applyACLBootstrap(tx *catalog.Tx, req *ACLBootstrapRequest) any {
	tok := req.Token
	tok.CreatedAt, tok.Bootstrap, tok.Role = req.Time, true, catalog.RoleAdmin
	return storeResult(tx.BootstrapACL(&tok))
}

func applyACLTokenCreate(tx *catalog.Tx, req *ACLTokenCreateRequest) any {
	tok := req.Token
	tok.CreatedAt, tok.Bootstrap = req.Time, false
	return storeResult(tx.PutToken(&tok))
}

func applyACLTokenRevoke(tx *catalog.Tx, req *ACLTokenRevokeRequest) any {
	tok, err := tx.FindToken(req.ID)
	if err != nil {
		return storeResult(err)
	}
	return storeResult(tx.DeleteToken(tok.AccessorID))
}

func applyWorkerApprove(tx *catalog.Tx, req *WorkerApproveRequest) any {
	w, err := tx.Worker(req.ID)
	if err != nil {
		return storeResult(err)
	}
	w.Unapproved = false
	return storeResult(tx.PutWorker(w))
}

func applySettingSet(tx *catalog.Tx, req *SettingSetRequest) any {
	return storeResult(tx.PutSetting(req.Name, req.Value))
}
