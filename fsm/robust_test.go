package fsm

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/scaleout/scaleout/catalog"
	bolt "go.etcd.io/bbolt"
)

// Test-only command types: appliers that fail the way a bug or a store
// refusal would, to drive the rejection path that the limits normally keep
// commands away from.
const (
	testPanicType   MessageType = 120
	testRefusedType MessageType = 121
)

type testFolderRequest struct {
	Name string `json:"name"`
}

func init() {
	register(testPanicType, func(tx *catalog.Tx, req *testFolderRequest) any {
		if err := tx.CreateFolder(req.Name, "", t0); err != nil {
			return err
		}
		var m map[string]int
		m["boom"]++ // panics after a write
		return nil
	})
	register(testRefusedType, func(tx *catalog.Tx, req *testFolderRequest) any {
		if err := tx.CreateFolder(req.Name, "", t0); err != nil {
			return err
		}
		return fatalError{bolt.ErrKeyTooLarge} // after a write, as a too-long key would
	})
	typeNames[testPanicType], typeNames[testRefusedType] = "TestPanic", "TestRefused"
}

func waitHealth(t *testing.T, f *FSM, healthy bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if (f.Health().Err == nil) == healthy {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("FSM health did not become healthy=%v: %+v", healthy, f.Health())
}

func folderNames(t testing.TB, f *FSM) string {
	t.Helper()
	fs, err := catalog.Read(f.Store(), func(tx *catalog.Tx) ([]*catalog.Folder, error) { return tx.Folders() })
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, x := range fs {
		names = append(names, x.Name)
	}
	return strings.Join(names, ",")
}

// poisonBatch is a batch mixing good commands with every kind of bad one.
func poisonBatch(h *harness) []*raft.Log {
	raw := func(data []byte) *raft.Log {
		h.index++
		return &raft.Log{Index: h.index, Term: 1, Type: raft.LogCommand, Data: data}
	}
	return []*raft.Log{
		h.log(FolderCreateType, &FolderCreateRequest{Name: "a", Time: t0}),
		h.log(testRefusedType, &testFolderRequest{Name: "refused"}),
		h.log(WorkerRegisterType, &WorkerRegisterRequest{Worker: catalog.Worker{ID: strings.Repeat("w", 40<<10), MaxTasks: 1}}),
		raw(nil),
		raw([]byte{byte(FolderCreateType), '{', '"'}),
		raw([]byte{byte(WorkerRegisterType), '[', '1', ']'}),
		h.log(testPanicType, &testFolderRequest{Name: "panicked"}),
		h.log(FolderCreateType, &FolderCreateRequest{Name: "b", Time: t0, Description: strings.Repeat("d", 10<<20)}),
		h.log(FolderCreateType, &FolderCreateRequest{Name: "c", Time: t0}),
	}
}

// TestFSM_PoisonCommandsAreRejections applies bad commands mixed with good
// ones, in one batch and one by one: nothing panics, every bad command is an
// error response that changed nothing (not even the writes it made before
// failing), the good ones apply, and the state is the same whatever the
// batch boundaries.
func TestFSM_PoisonCommandsAreRejections(t *testing.T) {
	batch := newHarness(t)
	logs := poisonBatch(batch)
	resps := batch.fsm.ApplyBatch(logs)

	single := newHarness(t)
	var singles []any
	for _, l := range poisonBatch(single) {
		singles = append(singles, single.fsm.Apply(l))
	}
	for i := range resps {
		good := i == 0 || i == len(resps)-1
		if err, _ := resps[i].(error); (err == nil) != good {
			t.Errorf("entry %d (%s) answered %v", i, logs[i].Data[:min(1, len(logs[i].Data))], resps[i])
		}
		if fmt.Sprint(resps[i]) != fmt.Sprint(singles[i]) {
			t.Errorf("entry %d: batch answered %v, alone %v", i, resps[i], singles[i])
		}
	}
	if got := folderNames(t, batch.fsm); got != "a,c" {
		t.Errorf("folders after the batch: %s, want a,c", got)
	}
	if b, s := folderNames(t, batch.fsm), folderNames(t, single.fsm); b != s {
		t.Errorf("batch and single applies differ: %s vs %s", b, s)
	}
	if idx, _, _ := batch.fsm.Store().Applied(); idx != batch.index {
		t.Errorf("applied index %d, want %d: the log must move on", idx, batch.index)
	}
	if err, _ := resps[2].(error); err == nil || !strings.Contains(err.Error(), "40960 bytes, over the limit of 512 bytes") {
		t.Errorf("40 KB worker id answered %v, want the limit named", resps[2])
	}
}

// TestFSM_DiskFailureBlocksAndRecovers fails the store's transaction as a
// full disk would: the apply blocks (no panic), the FSM reports itself
// unhealthy, and when the disk works again the batch is applied once and
// the FSM is healthy.
func TestFSM_DiskFailureBlocksAndRecovers(t *testing.T) {
	h := newHarness(t)
	var failing atomic.Bool
	failing.Store(true)
	errDisk := errors.New("write catalog.db: no space left on device")
	h.fsm.SetUpdateHook(func(fn func(tx *catalog.Tx) error) error {
		if failing.Load() {
			return errDisk
		}
		return h.fsm.Store().Update(fn)
	})
	done := make(chan any, 1)
	l := h.log(FolderCreateType, &FolderCreateRequest{Name: "kept", Time: t0})
	go func() { done <- h.fsm.Apply(l) }()
	waitHealth(t, h.fsm, false)
	if hl := h.fsm.Health(); !errors.Is(hl.Err, errDisk) || hl.Since.IsZero() {
		t.Fatalf("health %+v, want the disk error", hl)
	}
	select {
	case r := <-done:
		t.Fatalf("apply returned %v while the disk fails; it must wait", r)
	default:
	}
	failing.Store(false)
	select {
	case r := <-done:
		if r != nil {
			t.Fatalf("apply after recovery answered %v", r)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("apply did not resume after the disk recovered")
	}
	waitHealth(t, h.fsm, true)
	if got := folderNames(t, h.fsm); got != "kept" {
		t.Fatalf("folders %q, want kept (nothing acknowledged may be lost)", got)
	}
}
