package fsm

import (
	"testing"

	"github.com/hashicorp/raft"
	"github.com/scaleout/scaleout/catalog"
)

func BenchmarkEncodeSubmit(b *testing.B) {
	req := &ExecutionSubmitRequest{Time: t0, Executions: []NewExecution{{ExecutionSpec: catalog.ExecutionSpec{PackageName: "hello", Source: string(make([]byte, 300)), Params: map[string]string{"who": "world", "code": "0"}}}}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Encode(ExecutionSubmitType, req); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeSubmit(b *testing.B) {
	buf, _ := Encode(ExecutionSubmitType, &ExecutionSubmitRequest{Time: t0, Executions: []NewExecution{{ExecutionSpec: catalog.ExecutionSpec{PackageName: "hello", Source: "name: hello", Params: map[string]string{"who": "world"}}}}})
	b.ReportAllocs()
	for b.Loop() {
		var out ExecutionSubmitRequest
		if err := Decode(buf, &out); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkApplySubmitBatch applies batches of 64 submit commands, one bbolt
// transaction per batch, as raft hands them to the BatchingFSM.
func BenchmarkApplySubmitBatch(b *testing.B) {
	f := New(catalog.TestStore(b), nil)
	buf, _ := Encode(ExecutionSubmitType, &ExecutionSubmitRequest{Time: t0, Executions: []NewExecution{{ExecutionSpec: catalog.ExecutionSpec{PackageName: "hello", Source: "name: hello"}}}})
	var index uint64
	b.ReportAllocs()
	for b.Loop() {
		logs := make([]*raft.Log, 64)
		for i := range logs {
			index++
			logs[i] = &raft.Log{Index: index, Term: 1, Type: raft.LogCommand, Data: buf}
		}
		f.ApplyBatch(logs)
	}
	b.ReportMetric(float64(b.N*64)/b.Elapsed().Seconds(), "commands/s")
}
