package fsm

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/scaleout/scaleout/catalog"
)

// What an older server does with what a newer one wrote (docs/operations.md,
// Upgrades): a snapshot of a later format version is refused with an error
// that says so and leaves the state alone; a command type it does not know
// is skipped when the newer server flagged it ignorable, and otherwise stops
// this server's applying with an error naming the type (never a panic, never
// a divergent state).

// TestFSM_NewerSnapshotVersionIsAClearError restores a snapshot whose header
// carries a format version this build does not know.
func TestFSM_NewerSnapshotVersionIsAClearError(t *testing.T) {
	src := newHarness(t)
	src.apply(FolderCreateType, &FolderCreateRequest{Name: "in-snapshot", Time: t0})
	newer := src.snapshot()
	at := len("SCALEOUT-SNAP")
	if !bytes.HasPrefix(newer, []byte("SCALEOUT-SNAP")) {
		t.Fatalf("snapshot does not start with its magic: %q", newer[:min(len(newer), 16)])
	}
	newer[at] = 0xfe // the version byte

	h := newHarness(t)
	h.apply(FolderCreateType, &FolderCreateRequest{Name: "kept", Time: t0})
	err := h.fsm.Restore(ioNopCloser{bytes.NewReader(newer)})
	if !errors.Is(err, catalog.ErrInvalid) || !strings.Contains(err.Error(), "unsupported snapshot version 254") ||
		!strings.Contains(err.Error(), "newer scaleout") {
		t.Fatalf("restore of a newer snapshot: %v, want ErrInvalid naming the version and a newer scaleout", err)
	}
	if got := folderNames(t, h.fsm); got != "kept" {
		t.Fatalf("folders after the refused restore %q, want kept", got)
	}
	// The FSM goes on applying.
	h.apply(FolderCreateType, &FolderCreateRequest{Name: "after", Time: t0})
	if got := folderNames(t, h.fsm); got != "after,kept" {
		t.Fatalf("folders %q, want after,kept", got)
	}
	// The same snapshot with this build's version restores.
	newer[at] = bytes.Clone(src.snapshot())[at]
	h.restore(newer)
	if got := folderNames(t, h.fsm); got != "in-snapshot" {
		t.Fatalf("folders after the restore %q, want in-snapshot", got)
	}
}

// TestFSM_UnknownCommandTypesFromNewerServers feeds commands of types this
// build does not know, with payloads it could not decode either, amid known
// ones: the ignorable one is skipped and the batch goes on; the other stops
// applying with an error that names the type and says to upgrade.
func TestFSM_UnknownCommandTypesFromNewerServers(t *testing.T) {
	h := newHarness(t)
	unknown := MessageType(119) // no command has this type
	if _, known := appliers[unknown]; known {
		t.Fatalf("type %d has an applier; pick an unused one", unknown)
	}
	raw := func(data []byte) *raft.Log {
		h.index++
		return &raft.Log{Index: h.index, Term: 1, Type: raft.LogCommand, Data: data}
	}
	batch := []*raft.Log{
		h.log(FolderCreateType, &FolderCreateRequest{Name: "a", Time: t0}),
		raw(append([]byte{byte(unknown | IgnoreUnknownTypeFlag)}, []byte(`{"field_of_the_future": [1, {"x": null}]}`)...)),
		raw([]byte{byte(unknown | IgnoreUnknownTypeFlag), 0xff, 0x00}), // not even JSON
		h.log(FolderCreateType, &FolderCreateRequest{Name: "b", Time: t0}),
	}
	resps := h.fsm.ApplyBatch(batch)
	for i, r := range resps {
		if r != nil {
			t.Errorf("entry %d answered %v, want nil", i, r)
		}
	}
	if got := folderNames(t, h.fsm); got != "a,b" {
		t.Fatalf("folders %q, want a,b", got)
	}
	if idx, _, _ := h.fsm.Store().Applied(); idx != h.index {
		t.Fatalf("applied index %d, want %d", idx, h.index)
	}

	done := make(chan any, 1)
	stuck := raw(append([]byte{byte(unknown)}, []byte(`{"from": "a newer server"}`)...))
	go func() { done <- h.fsm.Apply(stuck) }()
	waitHealth(t, h.fsm, false)
	err := h.fsm.Health().Err
	for _, want := range []string{"unknown command type 119", "index " + strconv.FormatUint(stuck.Index, 10), "upgrade this one"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("health error %v lacks %q", err, want)
		}
	}
	h.fsm.Close()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not end the retry loop")
	}
	if got := folderNames(t, h.fsm); got != "a,b" {
		t.Fatalf("folders %q after the unknown command, want a,b", got)
	}
}
