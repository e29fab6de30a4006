package fsm

import (
	"encoding/json"
	"time"

	"github.com/scaleout/scaleout/catalog"
)

// Commands of the access control lists, worker approval, cluster settings
// and the operations log (60-69).
const (
	ACLBootstrapType   MessageType = 60
	ACLTokenCreateType MessageType = 61
	ACLTokenRevokeType MessageType = 62
	WorkerApproveType  MessageType = 63
	SettingSetType     MessageType = 64
	OperationType      MessageType = 65
)

func init() {
	for t, n := range map[MessageType]string{ACLBootstrapType: "ACLBootstrap", ACLTokenCreateType: "ACLTokenCreate",
		ACLTokenRevokeType: "ACLTokenRevoke", WorkerApproveType: "WorkerApprove", SettingSetType: "SettingSet",
		OperationType: "Operation"} {
		typeNames[t] = n
	}
}

// ACLBootstrapRequest stores the management token and switches the access
// control lists on; refused (catalog.ErrACLBootstrapped) the second time.
// The leader made the token's secret and sends only its hash.
type ACLBootstrapRequest struct {
	Time  time.Time        `json:"time"`
	Token catalog.ACLToken `json:"token"`
}

// ACLTokenCreateRequest stores a new token (only its secret's hash).
type ACLTokenCreateRequest struct {
	Time  time.Time        `json:"time"`
	Token catalog.ACLToken `json:"token"`
}

// ACLTokenRevokeRequest deletes a token, named by accessor id or name.
type ACLTokenRevokeRequest struct {
	Time time.Time `json:"time"`
	ID   string    `json:"id"`
}

// WorkerApproveRequest approves a worker: it gets work from then on.
type WorkerApproveRequest struct {
	Time time.Time `json:"time"`
	ID   string    `json:"id"`
}

// SettingSetRequest changes a cluster setting (catalog.Settings).
type SettingSetRequest struct {
	Time  time.Time `json:"time"`
	Name  string    `json:"name"`
	Value string    `json:"value"`
}

// OperationRequest applies the command Type with Payload and, in the same
// transaction, appends to the operations log what it did, who asked
// (Caller, or the caller each item names) and the result. Type 0 records
// an operation that is not a command of its own (a snapshot restore):
// Kind and Object name it. Entries of the log older than PruneBefore go
// (a few per command).
type OperationRequest struct {
	Time        time.Time       `json:"time"`
	Caller      string          `json:"caller,omitempty"`
	PruneBefore time.Time       `json:"prune_before,omitzero"`
	Type        MessageType     `json:"type,omitempty"`
	Payload     json.RawMessage `json:"payload,omitempty"`
	Kind        string          `json:"kind,omitempty"`
	Object      string          `json:"object,omitempty"`
}
