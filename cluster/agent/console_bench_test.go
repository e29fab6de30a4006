package agent_test

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/scaleout/scaleout/api"
	"github.com/scaleout/scaleout/cluster/clustertest"
)

// BenchmarkConsole_ExecutionsPage measures the console's executions page
// (the All Executions report) of a one-server agent whose catalog holds
// 100,000 executions: the newest page, a deep page, and a filter that
// matches nothing (bounded by the scan limit). The executions target a
// worker that does not exist, so they stay pending and nothing runs.
//
//	go test -run '^$' -bench BenchmarkConsole_ExecutionsPage -benchtime 50x ./cluster/agent/
func BenchmarkConsole_ExecutionsPage(b *testing.B) {
	const total, bulk = 100_000, 2000
	c := clustertest.NewCluster(b, clustertest.Options{Servers: 1})
	n := c.WaitForLeader()
	reqs := make([]api.SubmitRequest, bulk)
	for i := range reqs {
		reqs[i] = api.SubmitRequest{Package: echoPkg, Workers: []string{"nowhere"}}
	}
	for done := 0; done < total; done += bulk {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		if _, err := n.Client.Executions().SubmitBulk(ctx, reqs); err != nil {
			b.Fatalf("fill: %v", err)
		}
		cancel()
	}
	for _, page := range []struct{ name, path string }{
		{"newest", "/ui/executions"},
		{"deep", "/ui/executions?before=50000"},
		{"filter-no-match", "/ui/executions?package=nothing-like-this"},
	} {
		b.Run(page.name, func(b *testing.B) {
			get := func() {
				resp, err := http.Get(n.Agent.APIAddr() + page.path)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Fatalf("%s: %s", page.path, resp.Status)
				}
			}
			get()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				get()
			}
		})
	}
}
