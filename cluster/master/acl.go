package master

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/scaleout/scaleout/catalog"
	"github.com/scaleout/scaleout/fsm"
)

// The access control lists: tokens live in the replicated catalog as the
// SHA-256 of their secret, so every server checks a token against its own
// copy (no cache: a revoke is in force on a server as soon as it applied
// it). The leader makes secrets; they never enter Raft.

// SecretBytes is the size of a token's random secret (256 bits).
const SecretBytes = 32

// HashSecret returns the hex SHA-256 of a token's secret, the form the
// catalog keeps.
func HashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// newToken fills tok's accessor id and secret hash and returns the secret.
func newToken(tok *catalog.ACLToken) (string, error) {
	secret, err := randomHex(SecretBytes)
	if err != nil {
		return "", err
	}
	if tok.AccessorID, err = randomHex(16); err != nil {
		return "", err
	}
	tok.SecretHash = HashSecret(secret)
	return secret, nil
}

// ACLBootstrap makes the management token (role admin) and switches the
// access control lists on. It works once; the second time it is
// catalog.ErrACLBootstrapped (409). The secret is returned once.
func (m *Master) ACLBootstrap(ctx context.Context) (string, *catalog.ACLToken, error) {
	tok := &catalog.ACLToken{Name: "management", Role: catalog.RoleAdmin, CreatedBy: "acl bootstrap", Bootstrap: true}
	secret, err := newToken(tok)
	if err != nil {
		return "", nil, err
	}
	if m.ACLBootstrapped() {
		return "", nil, catalog.ErrACLBootstrapped
	}
	if err := catalog.CheckToken(tok); err != nil {
		return "", nil, err
	}
	if _, err := m.apply(ctx, fsm.ACLBootstrapType, &fsm.ACLBootstrapRequest{Time: m.now(), Token: *tok}); err != nil {
		return "", nil, err
	}
	tok.CreatedAt = m.now()
	return secret, tok, nil
}

// CreateToken makes a token; the secret is returned once.
func (m *Master) CreateToken(ctx context.Context, name, role string, folders map[string][]string, createdBy string) (string, *catalog.ACLToken, error) {
	for f, perms := range folders {
		for i, p := range perms {
			perms[i] = strings.ToUpper(strings.TrimSpace(p))
		}
		folders[f] = perms
	}
	tok := &catalog.ACLToken{Name: name, Role: role, Folders: folders, CreatedBy: createdBy}
	secret, err := newToken(tok)
	if err != nil {
		return "", nil, err
	}
	if err := catalog.CheckToken(tok); err != nil {
		return "", nil, err
	}
	tok.CreatedAt = m.now()
	if _, err := m.apply(ctx, fsm.ACLTokenCreateType, &fsm.ACLTokenCreateRequest{Time: tok.CreatedAt, Token: *tok}); err != nil {
		return "", nil, err
	}
	return secret, tok, nil
}

// RevokeToken deletes a token named by accessor id or name.
func (m *Master) RevokeToken(ctx context.Context, id string) error {
	if id == "" {
		return invalidf("revoke: name the token (accessor id or name)")
	}
	_, err := m.apply(ctx, fsm.ACLTokenRevokeType, &fsm.ACLTokenRevokeRequest{Time: m.now(), ID: id})
	return err
}

// Tokens lists the tokens (never their secrets) from this agent's copy.
func (m *Master) Tokens() ([]*catalog.ACLToken, error) {
	if m.store == nil {
		return nil, errNoCatalog
	}
	return catalog.Read(m.store, (*catalog.Tx).Tokens)
}

// Token reads one token by accessor id or name.
func (m *Master) Token(id string) (*catalog.ACLToken, error) {
	if m.store == nil {
		return nil, errNoCatalog
	}
	return catalog.Read(m.store, func(tx *catalog.Tx) (*catalog.ACLToken, error) { return tx.FindToken(id) })
}

var errNoCatalog = errors.New("this agent holds no catalog")

// ACLEnabled reports whether every request needs a token: this agent
// runs secure (Config.ACLRequired), or, in this agent's copy, acl
// bootstrap has run or acl_required is on. On an agent without a copy
// only the first counts.
func (m *Master) ACLEnabled() bool {
	if m.cfg.ACLRequired {
		return true
	}
	if m.store == nil {
		return false
	}
	on, _ := catalog.Read(m.store, func(tx *catalog.Tx) (bool, error) { return tx.ACLOn(), nil })
	return on
}

// ACLBootstrapped reports whether acl bootstrap has run, in this agent's
// copy.
func (m *Master) ACLBootstrapped() bool {
	if m.store == nil {
		return false
	}
	on, _ := catalog.Read(m.store, func(tx *catalog.Tx) (bool, error) { return tx.ACLBootstrapped(), nil })
	return on
}

// ResolveToken finds the token whose secret is secret, in this agent's
// copy: catalog.ErrNotFound for an unknown or revoked one.
func (m *Master) ResolveToken(secret string) (*catalog.ACLToken, error) {
	if m.store == nil {
		return nil, errNoCatalog
	}
	if len(secret) == 0 || len(secret) > 1024 {
		return nil, fmt.Errorf("token: %w", catalog.ErrNotFound)
	}
	h := HashSecret(secret)
	return catalog.Read(m.store, func(tx *catalog.Tx) (*catalog.ACLToken, error) { return tx.TokenBySecretHash(h) })
}

// ApproveWorker lets a worker that waits for approval get work.
func (m *Master) ApproveWorker(ctx context.Context, id string) error {
	_, err := m.apply(ctx, fsm.WorkerApproveType, &fsm.WorkerApproveRequest{Time: m.now(), ID: id})
	return err
}

// SetSetting changes a cluster setting.
func (m *Master) SetSetting(ctx context.Context, name, value string) error {
	if err := catalog.CheckSetting(name, value); err != nil {
		return err
	}
	_, err := m.apply(ctx, fsm.SettingSetType, &fsm.SettingSetRequest{Time: m.now(), Name: name, Value: value})
	return err
}

// Settings returns the effective cluster settings.
func (m *Master) Settings() (map[string]string, error) {
	if m.store == nil {
		return nil, errNoCatalog
	}
	return catalog.Read(m.store, func(tx *catalog.Tx) (map[string]string, error) {
		return map[string]string{catalog.SettingAutoApproveWorkers: fmt.Sprint(tx.AutoApproveWorkers()),
			catalog.SettingACLRequired: fmt.Sprint(tx.ACLRequired())}, nil
	})
}

// MaxOperationsPage bounds one page of operations list.
const MaxOperationsPage = 1000

// Operations lists the operations log, oldest first, one page: next is
// the after of the next page (0: no more).
func (m *Master) Operations(f catalog.OperationFilter) ([]*catalog.Operation, uint64, error) {
	if m.store == nil {
		return nil, 0, errNoCatalog
	}
	if f.Limit <= 0 || f.Limit > MaxOperationsPage {
		f.Limit = MaxOperationsPage
	}
	var next uint64
	ops, err := catalog.Read(m.store, func(tx *catalog.Tx) ([]*catalog.Operation, error) {
		ops, n, err := tx.Operations(f, 50*MaxOperationsPage)
		next = n
		return ops, err
	})
	return ops, next, err
}
