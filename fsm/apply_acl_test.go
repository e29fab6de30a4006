package fsm

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/scaleout/scaleout/catalog"
)

func testToken(name, role, secretHashByte string) catalog.ACLToken {
	return catalog.ACLToken{AccessorID: "acc-" + name, Name: name, Role: role, SecretHash: strings.Repeat(secretHashByte, 64)}
}

func (h *harness) token(hash string) (*catalog.ACLToken, error) {
	return catalog.Read(h.fsm.Store(), func(tx *catalog.Tx) (*catalog.ACLToken, error) { return tx.TokenBySecretHash(hash) })
}

func TestFSM_ACLCommands(t *testing.T) {
	h := newHarness(t)
	on := func() bool {
		b, _ := catalog.Read(h.fsm.Store(), func(tx *catalog.Tx) (bool, error) { return tx.ACLBootstrapped(), nil })
		return b
	}
	if on() {
		t.Fatal("bootstrapped before bootstrap")
	}
	if r := h.apply(ACLBootstrapType, &ACLBootstrapRequest{Time: t0, Token: testToken("management", "admin", "a")}); r != nil {
		t.Fatal(r)
	}
	if !on() {
		t.Fatal("not bootstrapped")
	}
	r := h.apply(ACLBootstrapType, &ACLBootstrapRequest{Time: t0, Token: testToken("m2", "admin", "b")})
	if err, _ := r.(error); !errors.Is(err, catalog.ErrACLBootstrapped) {
		t.Fatalf("second bootstrap: %v", r)
	}
	if _, err := h.token(strings.Repeat("b", 64)); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("the refused bootstrap stored its token: %v", err)
	}
	ex := testToken("ops", "executor", "c")
	ex.Folders = map[string][]string{"A": {"READ", "EXECUTE"}}
	if r := h.apply(ACLTokenCreateType, &ACLTokenCreateRequest{Time: t0, Token: ex}); r != nil {
		t.Fatal(r)
	}
	for _, bad := range []catalog.ACLToken{
		testToken("ops", "reader", "d"),                                   // name taken
		testToken("x", "root", "e"),                                       // no such role
		{AccessorID: "z", Name: "z", Role: "reader", SecretHash: "short"}, // not a hash
		func() catalog.ACLToken {
			t := testToken("y", "reader", "f")
			t.Folders = map[string][]string{"A": {"EXECUTE"}}
			return t
		}(),
	} {
		r := h.apply(ACLTokenCreateType, &ACLTokenCreateRequest{Time: t0, Token: bad})
		if err, _ := r.(error); err == nil || !(errors.Is(err, catalog.ErrExists) || errors.Is(err, catalog.ErrInvalid)) {
			t.Fatalf("token %+v: %v", bad, r)
		}
	}
	got, err := h.token(strings.Repeat("c", 64))
	if err != nil || got.Name != "ops" || !got.Allows("A", "EXECUTE") || got.Allows("B", "EXECUTE") || got.Allows("A", "MODIFY") {
		t.Fatalf("token %+v %v", got, err)
	}
	if r := h.apply(ACLTokenRevokeType, &ACLTokenRevokeRequest{Time: t0, ID: "ops"}); r != nil {
		t.Fatal(r)
	}
	if _, err := h.token(strings.Repeat("c", 64)); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("revoked token still resolves: %v", err)
	}
	if r := h.apply(ACLTokenRevokeType, &ACLTokenRevokeRequest{Time: t0, ID: "ops"}); !errors.Is(r.(error), catalog.ErrNotFound) {
		t.Fatalf("second revoke: %v", r)
	}
}

func TestFSM_WorkerApproval(t *testing.T) {
	h := newHarness(t)
	reg := func(id string, cert bool) *catalog.Worker {
		if r := h.apply(WorkerRegisterType, &WorkerRegisterRequest{Time: t0, Worker: catalog.Worker{ID: id, Node: id, MaxTasks: 1, Certificate: cert}}); r != nil {
			t.Fatal(r)
		}
		w, err := catalog.Read(h.fsm.Store(), func(tx *catalog.Tx) (*catalog.Worker, error) { return tx.Worker(id) })
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	if w := reg("before", false); w.Unapproved {
		t.Fatal("a worker is unapproved before acl bootstrap (the default keeps today's behaviour)")
	}
	h.apply(ACLBootstrapType, &ACLBootstrapRequest{Time: t0, Token: testToken("management", "admin", "a")})
	if w := reg("after", true); !w.Unapproved {
		t.Fatal("a new worker is approved by itself after bootstrap with auto_approve_workers unset")
	}
	if w := reg("before", false); w.Unapproved {
		t.Fatal("re-registration lost the approval")
	}
	if r := h.apply(SettingSetType, &SettingSetRequest{Time: t0, Name: catalog.SettingAutoApproveWorkers, Value: "true"}); r != nil {
		t.Fatal(r)
	}
	if w := reg("certified", true); w.Unapproved {
		t.Fatal("a worker with a CA certificate is not approved with auto_approve_workers on")
	}
	if w := reg("plain", false); !w.Unapproved {
		t.Fatal("a worker without a certificate was approved by itself with ACLs on")
	}
	if r := h.apply(WorkerApproveType, &WorkerApproveRequest{Time: t0, ID: "plain"}); r != nil {
		t.Fatal(r)
	}
	if w := reg("plain", false); w.Unapproved {
		t.Fatal("approve did not stick")
	}
	if r := h.apply(WorkerApproveType, &WorkerApproveRequest{Time: t0, ID: "nobody"}); !errors.Is(r.(error), catalog.ErrNotFound) {
		t.Fatalf("approve unknown: %v", r)
	}
	if r := h.apply(SettingSetType, &SettingSetRequest{Time: t0, Name: "nope", Value: "1"}); !errors.Is(r.(error), catalog.ErrInvalid) {
		t.Fatalf("unknown setting: %v", r)
	}
}

func (h *harness) operations(f catalog.OperationFilter) []*catalog.Operation {
	h.t.Helper()
	if f.Limit == 0 {
		f.Limit = 1000
	}
	ops, err := catalog.Read(h.fsm.Store(), func(tx *catalog.Tx) ([]*catalog.Operation, error) {
		ops, _, err := tx.Operations(f, 100000)
		return ops, err
	})
	if err != nil {
		h.t.Fatal(err)
	}
	return ops
}

func (h *harness) op(caller string, typ MessageType, msg any, prune time.Time) any {
	h.t.Helper()
	payload, err := json.Marshal(msg)
	if err != nil {
		h.t.Fatal(err)
	}
	return h.apply(OperationType, &OperationRequest{Time: t0, Caller: caller, Type: typ, Payload: payload, PruneBefore: prune})
}

func TestFSM_OperationLog(t *testing.T) {
	h := newHarness(t)
	if r := h.op("alice", FolderCreateType, &FolderCreateRequest{Time: t0, Name: "F"}, time.Time{}); r != nil {
		t.Fatal(r)
	}
	// A refused change is recorded as failed; the change itself is not made.
	if r := h.op("bob", FolderCreateType, &FolderCreateRequest{Time: t0, Name: "F"}, time.Time{}); !errors.Is(r.(error), catalog.ErrExists) {
		t.Fatalf("duplicate: %v", r)
	}
	// A coalesced submit records each execution with its own caller.
	r := h.op("", ExecutionSubmitType, &ExecutionSubmitRequest{Time: t0, Executions: []NewExecution{
		{ExecutionSpec: testSpec(), Caller: "carol"}, {ExecutionSpec: testSpec(), Caller: "dave"}}}, time.Time{})
	if sr, ok := r.(*SubmitResponse); !ok || len(sr.IDs) != 2 {
		t.Fatalf("submit: %v", r)
	}
	ops := h.operations(catalog.OperationFilter{})
	if len(ops) != 4 || ops[0].Type != "create_folder" || ops[0].Caller != "alice" || ops[0].Result != "succeeded" ||
		ops[1].Caller != "bob" || !strings.HasPrefix(ops[1].Result, "failed: ") ||
		ops[2].Type != "create_execution" || ops[2].Caller != "carol" || ops[3].Caller != "dave" || !strings.HasPrefix(ops[3].Object, "execution 2 ") {
		for _, o := range ops {
			t.Logf("%+v", *o)
		}
		t.Fatal("operations log")
	}
	if got := h.operations(catalog.OperationFilter{Caller: "dave"}); len(got) != 1 {
		t.Fatalf("caller filter: %d", len(got))
	}
	if got := h.operations(catalog.OperationFilter{Object: "execution 1"}); len(got) != 1 || got[0].Caller != "carol" {
		t.Fatalf("object filter: %+v", got)
	}
	// Pruning: entries older than PruneBefore go with the next append.
	h.op("erin", FolderCreateType, &FolderCreateRequest{Time: t0, Name: "G"}, t0.Add(time.Second))
	if got := h.operations(catalog.OperationFilter{}); len(got) != 1 || got[0].Caller != "erin" {
		t.Fatalf("after pruning: %d entries", len(got))
	}
	// Malformed envelopes are refused, never a panic.
	for _, bad := range []*OperationRequest{{Time: t0}, {Time: t0, Type: OperationType, Payload: json.RawMessage(`{}`)},
		{Time: t0, Type: FolderCreateType, Payload: json.RawMessage(`[1]`)}, {Time: t0, Type: ExecutionLeaseType, Payload: json.RawMessage(`{}`)}} {
		if r := h.apply(OperationType, bad); r == nil || !errors.Is(r.(error), catalog.ErrInvalid) {
			t.Fatalf("%+v: %v", bad, r)
		}
	}
}

func testSpec() catalog.ExecutionSpec {
	return catalog.ExecutionSpec{PackageName: "p", Source: "name: p"}
}
