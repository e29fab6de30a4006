package fsm

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/scaleout/scaleout/catalog"
	"github.com/scaleout/scaleout/catalog/pkgspec"
)

// deploy uploads data in chunks and deploys it as the next version of F/P.
func (h *harness) deploy(data []byte, entry bool) uint64 {
	h.t.Helper()
	sum := sha256.Sum256(data)
	hash := hex.EncodeToString(sum[:])
	for n := 0; n < catalog.ChunkCount(int64(len(data))); n++ {
		end := min((n+1)*catalog.ArchiveChunkSize, len(data))
		if r := h.apply(ArchiveChunkType, &ArchiveChunkRequest{Time: t0, Hash: hash, Size: int64(len(data)), N: n,
			Data: data[n*catalog.ArchiveChunkSize : end]}); r != nil {
			h.t.Fatalf("chunk %d: %v", n, r)
		}
	}
	r := h.apply(ProjectDeployType, &ProjectDeployRequest{Time: t0, Keep: 2, Version: catalog.ProjectVersion{
		Folder: "F", Project: "P", Hash: hash, Size: int64(len(data)),
		Packages: []catalog.PackageInfo{{Name: "main", File: "packages/main.yaml", EntryPoint: entry}}}})
	dr, ok := r.(*DeployResponse)
	if !ok {
		h.t.Fatalf("deploy answered %v", r)
	}
	return dr.Version
}

func TestFSM_CatalogCommands(t *testing.T) {
	h := newHarness(t)
	if r := h.apply(FolderCreateType, &FolderCreateRequest{Time: t0, Name: "F"}); r != nil {
		t.Fatal(r)
	}
	if r := h.apply(FolderCreateType, &FolderCreateRequest{Time: t0, Name: "F"}); !errors.Is(r.(error), catalog.ErrExists) {
		t.Fatalf("duplicate folder: %v", r)
	}
	if v := h.deploy([]byte("one"), true); v != 1 {
		t.Fatalf("first version %d", v)
	}
	big := bytes.Repeat([]byte("z"), catalog.ArchiveChunkSize*2+5)
	if v := h.deploy(big, true); v != 2 {
		t.Fatalf("second version %d", v)
	}
	h.deploy([]byte("three"), false)
	if r := h.apply(EnvironmentCreateType, &EnvironmentCreateRequest{Time: t0, Folder: "F", Name: "E"}); r != nil {
		t.Fatal(r)
	}
	if r := h.apply(EnvironmentSetVariableType, &EnvironmentSetVariableRequest{Folder: "F", Environment: "E",
		Variable: catalog.Variable{Name: "n", Type: "int", Value: "007"}}); r != nil {
		t.Fatal(r)
	}
	if r := h.apply(ProjectEnvRefType, &ProjectEnvRefRequest{Time: t0, Folder: "F", Project: "P", Ref: catalog.EnvRef{Name: "E"}}); r != nil {
		t.Fatal(r)
	}
	if r := h.apply(ProjectSetValueType, &ProjectSetValueRequest{Time: t0, Folder: "F", Project: "P",
		Value: catalog.ParamValue{Name: "pw", Kind: catalog.ValueLiteral, Value: "clear", Sensitive: true}}); r == nil {
		t.Fatal("an unsealed sensitive value was accepted")
	}
	if r := h.apply(FolderDeleteType, &FolderDeleteRequest{Name: "F"}); !errors.Is(r.(error), catalog.ErrNotEmpty) {
		t.Fatalf("delete non-empty folder: %v", r)
	}

	spec := func(version uint64, hash string, retries int) catalog.ExecutionSpec {
		return catalog.ExecutionSpec{Folder: "F", Project: "P", ProjectVersion: version, ArchiveHash: hash, PackageName: "main",
			PackageFile: "packages/main.yaml", Retries: retries, LoggingLevel: pkgspec.LoggingBasic, MaxEvents: 100}
	}
	// create submits one execution of a deployed package and returns its
	// response, or the execution's own error.
	create := func(version uint64, hash string, retries int) any {
		r := h.apply(ExecutionSubmitType, &ExecutionSubmitRequest{Time: t0, Caller: "me",
			Executions: []NewExecution{{ExecutionSpec: spec(version, hash, retries)}}})
		if sr, ok := r.(*SubmitResponse); ok && sr.Err(0) != nil {
			if sr.IDs[0] != 0 {
				t.Errorf("a failed execution got id %d", sr.IDs[0])
			}
			return sr.Err(0)
		}
		return r
	}
	var pv *catalog.ProjectVersion
	_ = h.fsm.Store().View(func(tx *catalog.Tx) (err error) { pv, err = tx.ProjectVersion("F", "P", 2); return })
	cases := []struct {
		name    string
		version uint64
		hash    string
		retries int
		want    error
	}{
		{"pruned version", 1, pv.Hash, 0, catalog.ErrNotFound},
		{"wrong hash", 2, "beef", 0, catalog.ErrInvalid},
		{"not an entry point", 3, "", 0, catalog.ErrInvalid},
		{"negative retries", 2, pv.Hash, -1, catalog.ErrInvalid},
	}
	for _, c := range cases {
		hash := c.hash
		if c.version == 3 {
			_ = h.fsm.Store().View(func(tx *catalog.Tx) error { v, _ := tx.ProjectVersion("F", "P", 3); hash = v.Hash; return nil })
		}
		r := create(c.version, hash, c.retries)
		if err, _ := r.(error); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, r, c.want)
		}
	}
	r := create(2, pv.Hash, 1)
	sr, ok := r.(*SubmitResponse)
	if !ok {
		t.Fatalf("create: %v", r)
	}
	e := h.execution(sr.IDs[0])
	if e.Status != catalog.StatusPending || e.PackageFile != "packages/main.yaml" || e.Caller != "me" || e.ProjectVersion != 2 {
		t.Fatalf("created %+v", e)
	}
	// A log written before every execution went through ExecutionSubmit
	// still replays: the retired ExecutionCreate creates the same record
	// by the same rules.
	old := h.apply(ExecutionCreateType, &ExecutionCreateRequest{Time: t0, Caller: "old", Execution: catalog.Execution{
		ID: 99, Status: catalog.StatusFailed, Attempt: 4, ExecutionSpec: spec(2, pv.Hash, 0)}})
	osr, ok := old.(*SubmitResponse)
	if !ok || osr.Err(0) != nil || osr.IDs[0] != e.ID+1 {
		t.Fatalf("retired create: %v", old)
	}
	if oe := h.execution(osr.IDs[0]); oe.Status != catalog.StatusPending || oe.Attempt != 0 || oe.Caller != "old" || oe.ArchiveHash != pv.Hash {
		t.Fatalf("retired create made %+v", oe)
	}
	if r := h.apply(ExecutionCreateType, &ExecutionCreateRequest{Time: t0, Execution: catalog.Execution{ExecutionSpec: spec(1, pv.Hash, 0)}}); !errors.Is(r.(error), catalog.ErrNotFound) {
		t.Fatalf("retired create of a pruned version: %v", r)
	}

	// Events of a basic-level execution drop progress.
	h.apply(ExecutionLeaseType, &ExecutionLeaseRequest{Time: t0, Worker: "w", Items: []LeaseItem{{ID: e.ID, Attempt: 1}}})
	h.apply(ExecutionFinishType, &ExecutionFinishRequest{Time: t0.Add(time.Second), Items: []FinishItem{{ID: e.ID, Attempt: 1,
		Status: catalog.StatusSucceeded, Events: []catalog.Event{{Type: "progress"}, {Type: "stdout", Message: "x"}}}}})
	var types []string
	_ = h.fsm.Store().View(func(tx *catalog.Tx) error {
		evs, _ := tx.Events(e.ID, 0, 0)
		for _, ev := range evs {
			types = append(types, ev.Type)
		}
		return nil
	})
	if strings.Join(types, " ") != "status_change status_change stdout status_change" {
		t.Fatalf("events %v", types)
	}

	// Retention: a purge before the end time keeps it, after removes it.
	pr := h.apply(ExecutionPurgeType, &ExecutionPurgeRequest{Time: t0, Before: t0, IDs: []uint64{e.ID}}).(*PurgeResponse)
	if pr.Executions != 0 {
		t.Fatal("purged an execution that ended after the cut-off")
	}
	pr = h.apply(ExecutionPurgeType, &ExecutionPurgeRequest{Time: t0, Before: t0.Add(time.Hour), IDs: []uint64{e.ID}}).(*PurgeResponse)
	if pr.Executions != 1 {
		t.Fatal("expired execution not purged")
	}
}

// TestFSM_CatalogSnapshotRoundTrip checks that a snapshot carries every
// catalog object: the restored store has the same digest.
func TestFSM_CatalogSnapshotRoundTrip(t *testing.T) {
	h := newHarness(t)
	h.apply(FolderCreateType, &FolderCreateRequest{Time: t0, Name: "F", Description: "d"})
	h.deploy([]byte("one"), true)
	h.deploy(bytes.Repeat([]byte("q"), catalog.ArchiveChunkSize+1), true)
	h.apply(EnvironmentCreateType, &EnvironmentCreateRequest{Time: t0, Folder: "F", Name: "E"})
	h.apply(EnvironmentSetVariableType, &EnvironmentSetVariableRequest{Folder: "F", Environment: "E",
		Variable: catalog.Variable{Name: "s", Value: catalog.SealedPrefix + "xxxx", Sensitive: true}})
	h.apply(ProjectEnvRefType, &ProjectEnvRefRequest{Time: t0, Folder: "F", Project: "P", Ref: catalog.EnvRef{Folder: "F", Name: "E"}})
	h.apply(ProjectSetValueType, &ProjectSetValueRequest{Time: t0, Folder: "F", Project: "P",
		Value: catalog.ParamValue{Package: "main", Name: "x", Kind: catalog.ValueReference, Variable: "s"}})
	// An upload in progress is part of the state too.
	h.apply(ArchiveChunkType, &ArchiveChunkRequest{Time: t0, Hash: "h", Size: catalog.ArchiveChunkSize + 1, N: 1, Data: []byte("x")})
	h.submit(2, 0)

	data := h.snapshot()
	h2 := newHarness(t)
	h2.apply(FolderCreateType, &FolderCreateRequest{Time: t0, Name: "other"})
	h2.restore(data)
	d1, err1 := h.fsm.Store().Digest()
	d2, err2 := h2.fsm.Store().Digest()
	if err1 != nil || err2 != nil || d1 != d2 {
		t.Fatalf("digest differs after restore: %s vs %s (%v %v)", d1, d2, err1, err2)
	}
}
