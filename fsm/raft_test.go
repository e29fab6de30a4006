package fsm

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/scaleout/scaleout/catalog"
)

// TestFSM_RaftClusterSurvivesPoisonStream proposes a stream of malformed
// and oversize commands, mixed with good ones, straight to a real
// three-server Raft group (hashicorp/raft's in-memory transport, each FSM
// over its own bbolt file): every bad command comes back as an error, the
// good ones commit, every server ends with the same catalog and applied
// index, and the cluster still commits afterwards.
func TestFSM_RaftClusterSurvivesPoisonStream(t *testing.T) {
	fsms, rafts := startRaftGroup(t, 3)
	leader := func() *raft.Raft {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			for _, r := range rafts {
				if r.State() == raft.Leader {
					return r
				}
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatal("no leader in 30 s")
		return nil
	}

	enc := func(typ MessageType, msg any) []byte {
		buf, err := Encode(typ, msg)
		if err != nil {
			t.Fatal(err)
		}
		return buf
	}
	bad := [][]byte{
		enc(WorkerRegisterType, &WorkerRegisterRequest{Worker: catalog.Worker{ID: strings.Repeat("x", 40<<10), MaxTasks: 1}}),
		enc(WorkerRegisterType, &WorkerRegisterRequest{Worker: catalog.Worker{ID: "w", MaxTasks: 1, Labels: manyLabels(10_000)}}),
		enc(FolderCreateType, &FolderCreateRequest{Name: strings.Repeat("f", 256<<10)}),
		enc(FolderCreateType, &FolderCreateRequest{Name: "d", Description: strings.Repeat("d", 1<<20)}),
		enc(ExecutionSubmitType, &ExecutionSubmitRequest{Executions: []NewExecution{{ExecutionSpec: catalog.ExecutionSpec{
			PackageName: "p", Source: "x", TargetWorkers: make([]string, 10_000)}}}}),
		enc(ExecutionSubmitType, &ExecutionSubmitRequest{Executions: []NewExecution{{ExecutionSpec: catalog.ExecutionSpec{
			PackageName: "p", Source: "x", PackageFile: strings.Repeat("n", 256<<10)}}}}),
		{},
		{byte(FolderCreateType)},
		{byte(FolderCreateType), 'n', 'u'},
		{byte(ExecutionLeaseType), '{', '"', 'i', 't', 'e', 'm', 's', '"', ':', '7', '}'},
		{byte(testPanicType), '{', '}'},
		{byte(testRefusedType), '{', '"', 'n', 'a', 'm', 'e', '"', ':', '"', 'r', '"', '}'},
	}
	// apply proposes to whoever leads, again if leadership moved (a
	// busy machine); a retried good command may find its folder exists.
	apply := func(b []byte) any {
		t.Helper()
		for try := 0; ; try++ {
			f := leader().Apply(b, 5*time.Second)
			err := f.Error()
			if err == nil {
				return f.Response()
			}
			if try > 50 || !(errors.Is(err, raft.ErrNotLeader) || errors.Is(err, raft.ErrLeadershipLost) || errors.Is(err, raft.ErrEnqueueTimeout)) {
				t.Fatalf("raft error %v", err)
			}
		}
	}
	want := []string{}
	for round := 0; round < 3; round++ {
		for i, b := range bad {
			r := apply(b)
			if sr, ok := r.(*SubmitResponse); ok {
				r = sr.Err(0)
			}
			if err, _ := r.(error); err == nil {
				t.Errorf("round %d, bad command %d accepted", round, i)
			} else if !errors.Is(err, catalog.ErrInvalid) {
				t.Errorf("round %d, bad command %d: %v, want a rejection (ErrInvalid)", round, i, err)
			}
			name := fmt.Sprintf("ok-%d-%d", round, i)
			if r := apply(enc(FolderCreateType, &FolderCreateRequest{Name: name, Time: t0})); r != nil {
				if err, _ := r.(error); !errors.Is(err, catalog.ErrExists) {
					t.Fatalf("good command after bad one %d: %v", i, r)
				}
			}
			want = append(want, name)
		}
	}
	// Every server applied the same: poll until the followers caught up.
	last := leader().LastIndex()
	deadline := time.Now().Add(10 * time.Second)
	for _, f := range fsms {
		for {
			idx, _, _ := f.Store().Applied()
			if idx >= last {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("a server applied up to %d, leader's log is at %d", idx, last)
			}
			time.Sleep(10 * time.Millisecond)
		}
		if got := folderNames(t, f); len(strings.Split(got, ",")) != len(want) {
			t.Errorf("server has folders %s, want the %d good ones", got, len(want))
		}
		if f.Health().Err != nil {
			t.Errorf("a server is unhealthy: %v", f.Health().Err)
		}
	}
}

func manyLabels(n int) map[string]string {
	m := make(map[string]string, n)
	for i := 0; i < n; i++ {
		m[fmt.Sprint("l", i)] = "v"
	}
	return m
}

// startRaftGroup starts n raft servers on raft's in-memory transport and
// stores, each with an FSM over its own bbolt file, bootstrapped together.
func startRaftGroup(t *testing.T, n int) ([]*FSM, []*raft.Raft) {
	t.Helper()
	var (
		fsms  []*FSM
		rafts []*raft.Raft
		trans []*raft.InmemTransport
		conf  raft.Configuration
	)
	for i := 0; i < n; i++ {
		addr, tr := raft.NewInmemTransport("")
		trans = append(trans, tr)
		conf.Servers = append(conf.Servers, raft.Server{ID: raft.ServerID(fmt.Sprint("s", i)), Address: addr})
	}
	for i := range trans {
		for j := range trans {
			if i != j {
				trans[i].Connect(trans[j].LocalAddr(), trans[j])
			}
		}
	}
	for i, tr := range trans {
		rc := raft.DefaultConfig()
		rc.LocalID = conf.Servers[i].ID
		rc.HeartbeatTimeout, rc.ElectionTimeout, rc.LeaderLeaseTimeout = 300*time.Millisecond, 300*time.Millisecond, 150*time.Millisecond
		rc.CommitTimeout = 5 * time.Millisecond
		rc.LogOutput = io.Discard
		f := New(catalog.TestStore(t), nil)
		logs := raft.NewInmemStore()
		snaps := raft.NewInmemSnapshotStore()
		if err := raft.BootstrapCluster(rc, logs, logs, snaps, tr, conf); err != nil {
			t.Fatal(err)
		}
		r, err := raft.NewRaft(rc, f, logs, logs, snaps, tr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = r.Shutdown().Error() })
		fsms, rafts = append(fsms, f), append(rafts, r)
	}
	return fsms, rafts
}
