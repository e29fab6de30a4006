package catalog

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/scaleout/scaleout/catalog/pkgspec"
)

func mustUpdate(t *testing.T, s *Store, fn func(tx *Tx) error) {
	t.Helper()
	if err := s.Update(fn); err != nil {
		t.Fatal(err)
	}
}

func TestStore_FolderRules(t *testing.T) {
	s := TestStore(t)
	mustUpdate(t, s, func(tx *Tx) error {
		if err := tx.CreateFolder("F", "", t0); err != nil {
			return err
		}
		return tx.CreateEnvironment("F", "E", "", t0)
	})
	cases := []struct {
		name string
		op   func(tx *Tx) error
		want error
	}{
		{"duplicate", func(tx *Tx) error { return tx.CreateFolder("F", "", t0) }, ErrExists},
		{"empty name", func(tx *Tx) error { return tx.CreateFolder("", "", t0) }, ErrInvalid},
		{"leading space", func(tx *Tx) error { return tx.CreateFolder(" F", "", t0) }, ErrInvalid},
		{"pipe", func(tx *Tx) error { return tx.CreateFolder("a|b", "", t0) }, ErrInvalid},
		{"control char", func(tx *Tx) error { return tx.CreateFolder("a\x01", "", t0) }, ErrInvalid},
		{"too long", func(tx *Tx) error { return tx.CreateFolder(strings.Repeat("x", 129), "", t0) }, ErrInvalid},
		{"delete unknown", func(tx *Tx) error { return tx.DeleteFolder("nope") }, ErrNotFound},
		{"rename onto existing", func(tx *Tx) error {
			if err := tx.CreateFolder("G", "", t0); err != nil {
				return err
			}
			return tx.RenameFolder("F", "G")
		}, ErrExists},
		{"env in unknown folder", func(tx *Tx) error { return tx.CreateEnvironment("nope", "E", "", t0) }, ErrNotFound},
		{"duplicate environment", func(tx *Tx) error { return tx.CreateEnvironment("F", "E", "", t0) }, ErrExists},
		{"bad variable name", func(tx *Tx) error {
			return tx.SetVariable("F", "E", Variable{Name: "1x", Value: "v"}, false)
		}, ErrInvalid},
		{"bad variable type", func(tx *Tx) error {
			return tx.SetVariable("F", "E", Variable{Name: "x", Type: "integer", Value: "1"}, false)
		}, ErrInvalid},
		{"variable value of wrong type", func(tx *Tx) error {
			return tx.SetVariable("F", "E", Variable{Name: "x", Type: "int", Value: "abc"}, false)
		}, ErrInvalid},
		{"unsealed sensitive variable", func(tx *Tx) error {
			return tx.SetVariable("F", "E", Variable{Name: "x", Value: "clear", Sensitive: true}, false)
		}, ErrInvalid},
		{"delete non-empty folder", func(tx *Tx) error { return tx.DeleteFolder("F") }, ErrNotEmpty},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// Each case runs in a transaction that is rolled back, so cases
			// do not see each other's changes.
			err := s.Update(func(tx *Tx) error {
				err := c.op(tx)
				if err == nil {
					return errors.New("rollback")
				}
				return fmt.Errorf("case: %w", err)
			})
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
		})
	}
}

func stageArchive(t *testing.T, tx *Tx, data []byte) string {
	t.Helper()
	sum := sha256.Sum256(data)
	hash := hex.EncodeToString(sum[:])
	for n := 0; n < ChunkCount(int64(len(data))); n++ {
		end := min((n+1)*ArchiveChunkSize, len(data))
		if err := tx.PutArchiveChunk(hash, int64(len(data)), n, data[n*ArchiveChunkSize:end], t0); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.CommitArchive(hash); err != nil {
		t.Fatal(err)
	}
	return hash
}

func TestStore_DeployPruneRestoreDelete(t *testing.T) {
	s := TestStore(t)
	var hashes []string
	mustUpdate(t, s, func(tx *Tx) error {
		if err := tx.CreateFolder("F", "", t0); err != nil {
			return err
		}
		for i := 0; i < 4; i++ {
			// Version 3 reuses the archive of version 1 (a redeploy of the
			// same content): the archive must survive version 1's pruning.
			content := fmt.Sprintf("archive %d", i%2)
			if i == 3 {
				content = strings.Repeat("y", ArchiveChunkSize+10) // two chunks
			}
			h := stageArchive(t, tx, []byte(content))
			hashes = append(hashes, h)
			v, err := tx.DeployVersion(&ProjectVersion{Folder: "F", Project: "P", Hash: h,
				Packages: []PackageInfo{{Name: "p", File: "packages/p.yaml", EntryPoint: true}}}, 3, t0.Add(time.Duration(i)*time.Second))
			if err != nil {
				return err
			}
			if v != uint64(i+1) {
				return fmt.Errorf("version %d, want %d", v, i+1)
			}
		}
		return nil
	})
	_ = s.View(func(tx *Tx) error {
		vs, err := tx.ProjectVersions("F", "P")
		if err != nil {
			t.Fatal(err)
		}
		var got []uint64
		for _, v := range vs {
			got = append(got, v.Version)
		}
		if fmt.Sprint(got) != "[2 3 4]" {
			t.Errorf("kept versions %v, want [2 3 4]", got)
		}
		if m, err := tx.ArchiveInfo(hashes[0]); err != nil || m.Refs != 1 {
			t.Errorf("shared archive after pruning v1: %+v %v", m, err)
		}
		var buf bytes.Buffer
		if err := tx.WriteArchive(hashes[3], &buf); err != nil || buf.Len() != ArchiveChunkSize+10 {
			t.Errorf("two-chunk archive read back %d bytes, %v", buf.Len(), err)
		}
		return nil
	})
	mustUpdate(t, s, func(tx *Tx) error { return tx.RestoreVersion("F", "P", 2, t0) })
	err := s.Update(func(tx *Tx) error { return tx.RestoreVersion("F", "P", 1, t0) })
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("restore of a pruned version: %v", err)
	}
	// A deploy with keep 1 keeps the restored current version 2 and the new one.
	mustUpdate(t, s, func(tx *Tx) error {
		p, _ := tx.Project("F", "P")
		if p.Version != 2 {
			return fmt.Errorf("current %d after restore", p.Version)
		}
		_, err := tx.DeployVersion(&ProjectVersion{Folder: "F", Project: "P", Hash: hashes[3]}, 1, t0)
		return err
	})
	mustUpdate(t, s, func(tx *Tx) error { return tx.DeleteProject("F", "P") })
	_ = s.View(func(tx *Tx) error {
		for _, h := range hashes {
			if _, err := tx.ArchiveInfo(h); !errors.Is(err, ErrNotFound) {
				t.Errorf("archive %s kept after its project was deleted: %v", h[:8], err)
			}
		}
		return nil
	})
	mustUpdate(t, s, func(tx *Tx) error { return tx.DeleteFolder("F") })
}

func TestStore_ChunkRules(t *testing.T) {
	s := TestStore(t)
	err := s.Update(func(tx *Tx) error { return tx.PutArchiveChunk("h", 10, 0, []byte("short"), t0) })
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("short chunk: %v", err)
	}
	mustUpdate(t, s, func(tx *Tx) error { return tx.PutArchiveChunk("h", ArchiveChunkSize+1, 1, []byte("x"), t0) })
	err = s.Update(func(tx *Tx) error { return tx.CommitArchive("h") })
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("commit of an incomplete upload: %v", err)
	}
	_ = s.View(func(tx *Tx) error {
		stale, _ := tx.StaleUploads(t0.Add(time.Hour), 10)
		if fmt.Sprint(stale) != "[h]" {
			t.Errorf("stale uploads %v", stale)
		}
		return nil
	})
}

func TestStore_RenameFolderMovesEverything(t *testing.T) {
	s := TestStore(t)
	mustUpdate(t, s, func(tx *Tx) error {
		for _, f := range []string{"A", "B"} {
			if err := tx.CreateFolder(f, "", t0); err != nil {
				return err
			}
		}
		if err := tx.CreateEnvironment("A", "E", "", t0); err != nil {
			return err
		}
		h := stageArchive(t, tx, []byte("x"))
		for _, f := range []string{"A", "B"} {
			if _, err := tx.DeployVersion(&ProjectVersion{Folder: f, Project: "P", Hash: h}, 0, t0); err != nil {
				return err
			}
		}
		if err := tx.SetEnvRef("A", "P", EnvRef{Name: "E"}, false, t0); err != nil {
			return err
		}
		if err := tx.SetEnvRef("B", "P", EnvRef{Folder: "A", Name: "E"}, false, t0); err != nil {
			return err
		}
		return tx.RenameFolder("A", "Z")
	})
	_ = s.View(func(tx *Tx) error {
		if _, err := tx.Folder("A"); !errors.Is(err, ErrNotFound) {
			t.Errorf("old folder still there")
		}
		p, err := tx.Project("Z", "P")
		if err != nil || p.Folder != "Z" || !p.HasEnvRef(EnvRef{Name: "E"}) {
			t.Errorf("moved project %+v %v", p, err)
		}
		if v, err := tx.ProjectVersion("Z", "P", 1); err != nil || v.Folder != "Z" {
			t.Errorf("moved version %+v %v", v, err)
		}
		if e, err := tx.Environment("Z", "E"); err != nil || e.Folder != "Z" {
			t.Errorf("moved environment %+v %v", e, err)
		}
		if b, _ := tx.Project("B", "P"); b.EnvRefs[0].String() != "Z/E" {
			t.Errorf("absolute reference not renamed: %v", b.EnvRefs)
		}
		return nil
	})
	// Deleting the environment removes the references to it.
	mustUpdate(t, s, func(tx *Tx) error { return tx.DeleteEnvironment("Z", "E") })
	_ = s.View(func(tx *Tx) error {
		if b, _ := tx.Project("B", "P"); len(b.EnvRefs) != 0 {
			t.Errorf("dangling reference %v", b.EnvRefs)
		}
		return nil
	})
}

func TestExecution_EventLevelsAndCap(t *testing.T) {
	all := []string{EventPreExecute, EventPostExecute, EventInformation, EventWarning, EventError,
		EventTaskFailed, EventProgress, EventStdout, EventStderr, EventStatusChange}
	cases := []struct {
		level string
		want  string
	}{
		{pkgspec.LoggingNone, "status_change"},
		{pkgspec.LoggingPerformance, "post_execute warning error task_failed status_change"},
		{pkgspec.LoggingBasic, "pre_execute post_execute information warning error task_failed stdout stderr status_change"},
		{pkgspec.LoggingVerbose, strings.Join(all, " ")},
		{"", strings.Join(all, " ")},
	}
	for _, c := range cases {
		e := &Execution{ExecutionSpec: ExecutionSpec{LoggingLevel: c.level}}
		var evs []Event
		for _, typ := range all {
			evs = append(evs, Event{Type: typ})
		}
		var got []string
		for _, ev := range e.admitEvents(evs) {
			got = append(got, ev.Type)
		}
		if strings.Join(got, " ") != c.want {
			t.Errorf("level %q kept %v, want %s", c.level, got, c.want)
		}
	}

	s := TestStore(t)
	e := &Execution{ID: 1, ExecutionSpec: ExecutionSpec{LoggingLevel: pkgspec.LoggingVerbose, MaxEvents: 5}}
	mustUpdate(t, s, func(tx *Tx) error {
		for i := 0; i < 3; i++ {
			if err := tx.AppendEvents(e, []Event{{Type: "stdout"}, {Type: "stdout"}, {Type: EventStatusChange}}); err != nil {
				return err
			}
		}
		return tx.PutExecution(e)
	})
	var types []string
	_ = s.View(func(tx *Tx) error {
		evs, _ := tx.Events(1, 0, 0)
		for _, ev := range evs {
			types = append(types, ev.Type)
		}
		return nil
	})
	want := "stdout stdout status_change stdout truncated status_change status_change"
	if strings.Join(types, " ") != want || !e.Truncated {
		t.Fatalf("capped events %v (truncated %v), want %s", types, e.Truncated, want)
	}
}

func TestCipher(t *testing.T) {
	key, err := ParseKey(GenerateKey())
	if err != nil {
		t.Fatal(err)
	}
	c, _ := NewCipher(key)
	sealed, err := c.Seal("s3cret")
	if err != nil || !IsSealed(sealed) || strings.Contains(sealed, "s3cret") {
		t.Fatalf("sealed %q %v", sealed, err)
	}
	if plain, err := c.Open(sealed); err != nil || plain != "s3cret" {
		t.Fatalf("open: %q %v", plain, err)
	}
	other, _ := ParseKey(GenerateKey())
	c2, _ := NewCipher(other)
	if _, err := c2.Open(sealed); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("open with another key: %v", err)
	}
	for _, bad := range []string{"", "short", "!!!!"} {
		if _, err := ParseKey(bad); err == nil {
			t.Errorf("key %q accepted", bad)
		}
	}
}

func TestStore_Retention(t *testing.T) {
	s := TestStore(t)
	old, recent := t0.Add(-48*time.Hour), t0
	mustUpdate(t, s, func(tx *Tx) error {
		for i, st := range []struct {
			status Status
			ended  *time.Time
		}{{StatusSucceeded, &old}, {StatusRunning, nil}, {StatusFailed, &old}, {StatusSucceeded, &recent}} {
			e := &Execution{ID: uint64(i + 1), Status: st.status, EndedAt: st.ended}
			if err := tx.AppendEvents(e, []Event{{Type: "x"}}); err != nil {
				return err
			}
			if err := tx.PutExecution(e); err != nil {
				return err
			}
		}
		return nil
	})
	var ids []uint64
	_ = s.View(func(tx *Tx) (err error) { ids, err = tx.ExpiredExecutions(t0.Add(-time.Hour), 10, 100); return })
	if fmt.Sprint(ids) != "[1 3]" {
		t.Fatalf("expired %v", ids)
	}
	mustUpdate(t, s, func(tx *Tx) error {
		for _, id := range ids {
			if err := tx.DeleteExecution(id); err != nil {
				return err
			}
		}
		return nil
	})
	_ = s.View(func(tx *Tx) error {
		if _, err := tx.Execution(1); !errors.Is(err, ErrNotFound) {
			t.Error("execution 1 survived")
		}
		if evs, _ := tx.Events(1, 0, 0); len(evs) != 0 {
			t.Error("events of execution 1 survived")
		}
		if act, _ := tx.ActiveExecutions(); len(act) != 1 {
			t.Errorf("active index %v", act)
		}
		return nil
	})
}

// TestStore_ArchiveKeptForLiveExecutions: pruning the version a pending
// execution runs keeps its archive until the execution ends.
func TestStore_ArchiveKeptForLiveExecutions(t *testing.T) {
	s := TestStore(t)
	var h1 string
	e := &Execution{ID: 1, Status: StatusPending}
	mustUpdate(t, s, func(tx *Tx) error {
		if err := tx.CreateFolder("F", "", t0); err != nil {
			return err
		}
		h1 = stageArchive(t, tx, []byte("v1"))
		if _, err := tx.DeployVersion(&ProjectVersion{Folder: "F", Project: "P", Hash: h1}, 1, t0); err != nil {
			return err
		}
		e.ArchiveHash = h1
		if err := tx.PutExecution(e); err != nil {
			return err
		}
		// Version 2 with keep 1 prunes version 1.
		h2 := stageArchive(t, tx, []byte("v2"))
		_, err := tx.DeployVersion(&ProjectVersion{Folder: "F", Project: "P", Hash: h2}, 1, t0)
		return err
	})
	_ = s.View(func(tx *Tx) error {
		if m, err := tx.ArchiveInfo(h1); err != nil || m.Refs != 1 {
			t.Errorf("archive of a pending execution after its version was pruned: %+v %v", m, err)
		}
		return nil
	})
	mustUpdate(t, s, func(tx *Tx) error {
		if _, err := e.Lease("w", 1, t0); err != nil {
			return err
		}
		if err := tx.PutExecution(e); err != nil {
			return err
		}
		if _, err := e.Finish(1, StatusSucceeded, "", t0); err != nil {
			return err
		}
		return tx.PutExecution(e)
	})
	_ = s.View(func(tx *Tx) error {
		if _, err := tx.ArchiveInfo(h1); !errors.Is(err, ErrNotFound) {
			t.Errorf("archive kept after its last execution ended: %v", err)
		}
		return nil
	})
}
