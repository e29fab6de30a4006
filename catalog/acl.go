package catalog

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// Access control lists: tokens with a role and, optionally, permissions per
// folder (SSISDB's roles and catalog.grant_permission, simplified). Only
// the SHA-256 hash of a token's secret is stored; the secret is shown once,
// when the token is made.

var (
	bucketACLTokens  = []byte("acl_tokens")  // accessor id -> ACLToken
	bucketACLSecrets = []byte("acl_secrets") // secret hash (hex) -> accessor id
	keyACLBootstrap  = []byte("acl_bootstrapped")
)

// Roles of a token.
const (
	RoleAdmin    = "admin"    // everything: catalog, executions, workers, operator, acl
	RoleExecutor = "executor" // read, and run and stop executions, in its folders
	RoleReader   = "reader"   // read the catalog and executions (sensitive values masked)
	RoleWorker   = "worker"   // the worker protocol only (an agent's acl_agent_token)
)

// Folder permissions, named as SSISDB names them.
const (
	PermRead    = "READ"    // read the folder, its projects, environments and executions
	PermModify  = "MODIFY"  // deploy, delete and configure projects and environments
	PermExecute = "EXECUTE" // create, start and stop executions of its packages
)

// RolePerms is what each role may do in a folder; a token with folder
// grants may do, in each listed folder, the listed permissions (a subset of
// its role's) and nothing in other folders.
var RolePerms = map[string][]string{
	RoleAdmin:    {PermRead, PermModify, PermExecute},
	RoleExecutor: {PermRead, PermExecute, PermModify},
	RoleReader:   {PermRead},
	RoleWorker:   nil,
}

// defaultPerms is what a role may do in every folder when its token lists
// no folders: an executor gets MODIFY only when a grant names it.
var defaultPerms = map[string][]string{
	RoleAdmin:    {PermRead, PermModify, PermExecute},
	RoleExecutor: {PermRead, PermExecute},
	RoleReader:   {PermRead},
}

// Limits of the access control lists.
const (
	MaxTokens         = 10000
	MaxTokenNameBytes = 128
	MaxTokenFolders   = 256
)

// ACLToken is a token as the catalog keeps it: never its secret.
type ACLToken struct {
	// AccessorID names the token in list, show and revoke (not a secret).
	AccessorID string `json:"accessor_id"`
	// Name is recorded as the caller of whatever the token does.
	Name string `json:"name"`
	Role string `json:"role"`
	// Folders, if not empty, limits the token to these folders with these
	// permissions each.
	Folders map[string][]string `json:"folders,omitempty"`
	// SecretHash is the hex SHA-256 of the secret.
	SecretHash string    `json:"secret_hash"`
	CreatedAt  time.Time `json:"created_at"`
	CreatedBy  string    `json:"created_by,omitempty"`
	// Bootstrap marks the management token made by acl bootstrap.
	Bootstrap bool `json:"bootstrap,omitempty"`
}

// Allows reports whether the token may use perm in folder.
func (t *ACLToken) Allows(folder, perm string) bool {
	if t.Role == RoleAdmin {
		return true
	}
	if len(t.Folders) == 0 {
		return slices.Contains(defaultPerms[t.Role], perm)
	}
	return slices.Contains(t.Folders[folder], perm) && slices.Contains(RolePerms[t.Role], perm)
}

// AllFolders reports whether the token is not limited to listed folders.
func (t *ACLToken) AllFolders() bool { return t.Role == RoleAdmin || len(t.Folders) == 0 }

// CheckToken validates a token before it is stored.
func CheckToken(t *ACLToken) error {
	if t.AccessorID == "" || len(t.AccessorID) > 64 {
		return invalidf("token accessor id %q: want 1 to 64 characters", t.AccessorID)
	}
	if err := ValidateTokenName(t.Name); err != nil {
		return err
	}
	if _, ok := RolePerms[t.Role]; !ok {
		return invalidf("role %q: want one of admin, executor, reader, worker", t.Role)
	}
	if h, err := hex.DecodeString(t.SecretHash); err != nil || len(h) != 32 {
		return invalidf("token secret hash: want 64 hex digits (SHA-256)")
	}
	if len(t.Folders) > 0 && (t.Role == RoleAdmin || t.Role == RoleWorker) {
		return invalidf("a token of role %s takes no --folder grants (they limit executor and reader tokens)", t.Role)
	}
	if len(t.Folders) > MaxTokenFolders {
		return invalidf("token lists %d folders, over the limit of %d", len(t.Folders), MaxTokenFolders)
	}
	for f, perms := range t.Folders {
		if err := ValidateObjectName("folder", f); err != nil {
			return err
		}
		if len(perms) == 0 {
			return invalidf("folder %q: no permission granted", f)
		}
		for _, p := range perms {
			if !slices.Contains(RolePerms[t.Role], p) {
				return invalidf("folder %q: permission %q is not one a %s token can hold (%s)", f, p, t.Role, strings.Join(RolePerms[t.Role], ", "))
			}
		}
	}
	return nil
}

// ValidateTokenName checks a token's name: 1 to MaxTokenNameBytes letters,
// digits and . _ @ -.
func ValidateTokenName(name string) error {
	if name == "" || len(name) > MaxTokenNameBytes {
		return invalidf("token name %q: want 1 to %d characters", name, MaxTokenNameBytes)
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._@-", r)) {
			return invalidf("token name %q: only letters, digits and . _ @ - are allowed", name)
		}
	}
	return nil
}

// ErrACLBootstrapped refuses a second acl bootstrap.
var ErrACLBootstrapped = fmt.Errorf("%w: the access control lists are bootstrapped already (acl bootstrap works once; "+
	"make more tokens with 'acl token create')", ErrExists)

// ACLBootstrapped reports whether acl bootstrap has run: from then on every
// request needs a token.
func (t *Tx) ACLBootstrapped() bool {
	return t.tx.Bucket(bucketMeta).Get(keyACLBootstrap) != nil
}

// BootstrapACL stores the management token and switches the lists on. It
// refuses a second bootstrap.
func (t *Tx) BootstrapACL(tok *ACLToken) error {
	if t.ACLBootstrapped() {
		return ErrACLBootstrapped
	}
	if err := t.PutToken(tok); err != nil {
		return err
	}
	return t.tx.Bucket(bucketMeta).Put(keyACLBootstrap, []byte{1})
}

// PutToken stores a new token; its name, accessor and secret must be new.
// A business error (ErrInvalid, ErrExists, ErrTooLarge) changes nothing.
func (t *Tx) PutToken(tok *ACLToken) error {
	if err := CheckToken(tok); err != nil {
		return err
	}
	b := t.tx.Bucket(bucketACLTokens)
	if b.Get([]byte(tok.AccessorID)) != nil || t.tx.Bucket(bucketACLSecrets).Get([]byte(tok.SecretHash)) != nil {
		return fmt.Errorf("token %s: %w", tok.AccessorID, ErrExists)
	}
	n := 0
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		n++
		var o ACLToken
		if err := json.Unmarshal(v, &o); err != nil {
			return err
		}
		if o.Name == tok.Name {
			return fmt.Errorf("token named %q (%s): %w; names are recorded as callers and must be unique", tok.Name, o.AccessorID, ErrExists)
		}
	}
	if n >= MaxTokens {
		return fmt.Errorf("%w: %d tokens, the limit; revoke some first", ErrTooLarge, n)
	}
	if err := putJSON(b, []byte(tok.AccessorID), tok); err != nil {
		return err
	}
	return t.tx.Bucket(bucketACLSecrets).Put([]byte(tok.SecretHash), []byte(tok.AccessorID))
}

// Token reads a token by accessor id.
func (t *Tx) Token(accessor string) (*ACLToken, error) {
	var tok ACLToken
	ok, err := getJSON(t.tx.Bucket(bucketACLTokens), []byte(accessor), &tok)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("token %q: %w", accessor, ErrNotFound)
	}
	return &tok, nil
}

// TokenBySecretHash finds the token whose secret hashes to hash (hex),
// or ErrNotFound.
func (t *Tx) TokenBySecretHash(hash string) (*ACLToken, error) {
	acc := t.tx.Bucket(bucketACLSecrets).Get([]byte(hash))
	if acc == nil {
		return nil, fmt.Errorf("token: %w", ErrNotFound)
	}
	return t.Token(string(acc))
}

// FindToken reads a token by accessor id, or by name when no accessor has
// that id.
func (t *Tx) FindToken(idOrName string) (*ACLToken, error) {
	if tok, err := t.Token(idOrName); err == nil {
		return tok, nil
	}
	toks, err := t.Tokens()
	if err != nil {
		return nil, err
	}
	for _, tok := range toks {
		if tok.Name == idOrName {
			return tok, nil
		}
	}
	return nil, fmt.Errorf("token %q (accessor id or name): %w", idOrName, ErrNotFound)
}

// Tokens lists every token, by name.
func (t *Tx) Tokens() ([]*ACLToken, error) {
	out, err := listJSON[ACLToken](t.tx.Bucket(bucketACLTokens), nil, nil)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, err
}

// DeleteToken revokes a token: its secret no longer authenticates.
func (t *Tx) DeleteToken(accessor string) error {
	tok, err := t.Token(accessor)
	if err != nil {
		return err
	}
	if err := t.tx.Bucket(bucketACLSecrets).Delete([]byte(tok.SecretHash)); err != nil {
		return err
	}
	return t.tx.Bucket(bucketACLTokens).Delete([]byte(accessor))
}
