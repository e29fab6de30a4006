package agent_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/scaleout/scaleout/api"
	"github.com/scaleout/scaleout/cluster/clustertest"
)

// scrape reads an agent's /v1/metrics with the Prometheus text parser: a
// parse error fails the test.
func scrape(t *testing.T, addr string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(addr + "/v1/metrics")
	if err != nil {
		t.Fatalf("GET /v1/metrics: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET /v1/metrics: %s: %s", resp.Status, b)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("/v1/metrics is not valid Prometheus text: %v", err)
	}
	return fams
}

// value sums the samples of a family whose labels include want (counter,
// gauge, or a histogram's count).
func value(fams map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	f, ok := fams[name]
	if !ok {
		return 0, false
	}
	var sum float64
	for _, m := range f.GetMetric() {
		match := true
		for k, v := range want {
			found := false
			for _, l := range m.GetLabel() {
				if l.GetName() == k && l.GetValue() == v {
					found = true
				}
			}
			match = match && found
		}
		if !match {
			continue
		}
		switch {
		case m.Counter != nil:
			sum += m.GetCounter().GetValue()
		case m.Gauge != nil:
			sum += m.GetGauge().GetValue()
		case m.Histogram != nil:
			sum += float64(m.GetHistogram().GetSampleCount())
		}
	}
	return sum, true
}

func TestAgent_MetricsMoveAsExecutionsRun(t *testing.T) {
	c := clustertest.NewCluster(t, clustertest.Options{Servers: 3})
	// The leader as its own metrics say (leadership may still move just
	// after the election).
	var leader *clustertest.Node
	var before map[string]*dto.MetricFamily
	clustertest.WaitFor(t, 30*time.Second, "an agent reporting scaleout_raft_leader 1", func() (bool, string) {
		for _, n := range c.Nodes {
			fams := scrape(t, n.Agent.APIAddr())
			if v, _ := value(fams, "scaleout_raft_leader", nil); v == 1 {
				leader, before = n, fams
				return true, ""
			}
		}
		return false, "none"
	})
	term, _ := value(before, "scaleout_raft_term", nil)
	for _, name := range []string{"scaleout_raft_leader", "scaleout_raft_term", "scaleout_raft_commit_index",
		"scaleout_worker_slots", "scaleout_queue_depth", "go_goroutines", "scaleout_forward_errors_total"} {
		if _, ok := before[name]; !ok {
			t.Errorf("metric %s missing", name)
		}
	}
	if v, _ := value(before, "scaleout_worker_slots", map[string]string{"state": "free"}); v != 4 {
		t.Errorf("free slots of an idle worker = %v, want 4", v)
	}
	okBefore, _ := value(before, "scaleout_executions_finished_total", map[string]string{"status": "succeeded"})
	failBefore, _ := value(before, "scaleout_executions_finished_total", map[string]string{"status": "failed"})

	// Through a follower: forwarded to the leader, which records them.
	var follower *clustertest.Node
	for _, n := range c.Nodes {
		if n != leader {
			follower = n
			break
		}
	}
	// A leadership change under load answers 503: submit again (the term
	// check below then skips the test, whose counters are per leader).
	submit := func(req api.SubmitRequest) uint64 {
		t.Helper()
		if req.Package == "" {
			req.Package = echoPkg
		}
		var id uint64
		clustertest.WaitFor(t, 60*time.Second, "a submission", func() (bool, string) {
			var err error
			id, err = follower.Client.Executions().Submit(context.Background(), &req)
			if err != nil && !api.IsStatus(err, http.StatusServiceUnavailable) {
				t.Fatalf("submit: %v", err)
			}
			return err == nil, fmt.Sprint(err)
		})
		return id
	}
	ok1 := submit(api.SubmitRequest{})
	ok2 := submit(api.SubmitRequest{})
	bad := submit(api.SubmitRequest{Package: "name: bad\ntasks:\n  - name: f\n    exec: {command: [/bin/false]}\n"})
	for _, id := range []uint64{ok1, ok2, bad} {
		waitEnded(t, follower.Client, id, 60*time.Second)
	}
	// The leader records ends and leases off the request's path: wait for
	// the counters to arrive.
	var after map[string]*dto.MetricFamily
	clustertest.WaitFor(t, 30*time.Second, "the counters of 3 ended executions", func() (bool, string) {
		after = scrape(t, leader.Agent.APIAddr())
		if v, _ := value(after, "scaleout_raft_leader", nil); v != 1 {
			return true, "" // moved: the counting goes on elsewhere (skipped below)
		}
		if v, _ := value(after, "scaleout_raft_term", nil); v != term {
			return true, ""
		}
		ok, _ := value(after, "scaleout_executions_finished_total", map[string]string{"status": "succeeded"})
		failed, _ := value(after, "scaleout_executions_finished_total", map[string]string{"status": "failed"})
		waits, _ := value(after, "scaleout_execution_submit_to_start_seconds", nil)
		return ok-okBefore >= 2 && failed-failBefore >= 1 && waits >= 3, fmt.Sprintf("succeeded +%v, failed +%v, waits %v", ok-okBefore, failed-failBefore, waits)
	})
	// The same leader still leads in the same term (else part of the
	// counting happened on another agent: counters are per leader).
	if v, _ := value(after, "scaleout_raft_leader", nil); v != 1 {
		t.Skip("leadership moved during the test; counters are per leader")
	}
	if v, _ := value(after, "scaleout_raft_term", nil); v != term {
		t.Skip("a new term began during the test; counters are per leader")
	}
	if v, _ := value(after, "scaleout_executions_finished_total", map[string]string{"status": "succeeded"}); v-okBefore != 2 {
		t.Errorf("succeeded counter moved by %v, want 2", v-okBefore)
	}
	if v, _ := value(after, "scaleout_executions_finished_total", map[string]string{"status": "failed"}); v-failBefore != 1 {
		t.Errorf("failed counter moved by %v, want 1", v-failBefore)
	}
	if v, _ := value(after, "scaleout_executions_submitted_total", nil); v < 3 {
		t.Errorf("submitted = %v, want >= 3", v)
	}
	if v, _ := value(after, "scaleout_execution_submit_to_start_seconds", nil); v < 3 {
		t.Errorf("submit-to-start observations = %v, want >= 3", v)
	}
	if v, _ := value(after, "scaleout_execution_duration_seconds", map[string]string{"package": "echo", "status": "succeeded"}); v < 2 {
		t.Errorf("duration observations of echo = %v, want >= 2", v)
	}
	if v, _ := value(after, "scaleout_events_written_total", nil); v <= 0 {
		t.Errorf("events written = %v, want > 0", v)
	}
	if v, _ := value(after, "scaleout_raft_apply_duration_seconds", nil); v <= 0 {
		t.Errorf("raft apply observations = %v, want > 0", v)
	}
	// A follower's view: not leader, knows one, its own term and indexes.
	fm := scrape(t, follower.Agent.APIAddr())
	if v, _ := value(fm, "scaleout_raft_leader", nil); v != 0 {
		t.Errorf("scaleout_raft_leader on a follower = %v", v)
	}
	if v, _ := value(fm, "scaleout_raft_has_leader", nil); v != 1 {
		t.Errorf("scaleout_raft_has_leader on a follower = %v", v)
	}
}

func TestAgent_HealthLiveAndReady(t *testing.T) {
	c := clustertest.NewCluster(t, clustertest.Options{Servers: 3, Workers: 1})
	c.WaitForLeader()
	for _, n := range c.Nodes {
		for _, path := range []string{"/v1/health/live", "/v1/health/ready"} {
			clustertest.WaitFor(t, 30*time.Second, n.Name+path+" 200", func() (bool, string) {
				code, body := get(t, n.Agent.APIAddr()+path)
				return code == http.StatusOK, fmt.Sprintf("%d %s", code, body)
			})
		}
	}
	// Cut a follower off: it loses the leader and stops being ready, but
	// stays live.
	f := c.Followers()[0]
	c.Partition(f.Name)
	clustertest.WaitFor(t, 60*time.Second, f.Name+" not ready while cut off", func() (bool, string) {
		code, body := get(t, f.Agent.APIAddr()+"/v1/health/ready")
		return code == http.StatusServiceUnavailable && strings.Contains(body, "not ready"), fmt.Sprintf("%d %s", code, body)
	})
	if code, body := get(t, f.Agent.APIAddr()+"/v1/health/live"); code != http.StatusOK {
		t.Errorf("live while cut off = %d %s", code, body)
	}
	c.Heal()
	clustertest.WaitFor(t, 60*time.Second, f.Name+" ready again", func() (bool, string) {
		code, body := get(t, f.Agent.APIAddr()+"/v1/health/ready")
		return code == http.StatusOK, fmt.Sprintf("%d %s", code, body)
	})
	// No profiler without --enable-debug.
	if code, _ := get(t, f.Agent.APIAddr()+"/debug/pprof/"); code != http.StatusNotFound {
		t.Errorf("/debug/pprof/ without enable-debug = %d, want 404", code)
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
