package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/scaleout/scaleout/catalog"
)

// TestE2ECompose_ClusterFromComposeFile runs the repository's
// docker-compose.yml as docs/operations.md tells a user to: three servers and
// a worker-only agent from the image `make image` built. The cluster must
// form (four alive members, three Raft voters, one leader), run the smoke
// package on the worker-only agent and through every server, and take a
// server back after a graceful stop and start (the volume keeps its state).
//
// It runs only under `make compose-test` (SCALEOUT_COMPOSE_TEST=1, with
// SCALEOUT_IMAGE naming the image): it needs docker, docker-compose or the
// compose plugin, and an image built from this checkout, which `make test`
// does not build.
func TestE2ECompose_ClusterFromComposeFile(t *testing.T) {
	if os.Getenv("SCALEOUT_COMPOSE_TEST") != "1" {
		t.Skip("compose test: run it with `make compose-test` (SCALEOUT_COMPOSE_TEST=1 after make image)")
	}
	image := os.Getenv("SCALEOUT_IMAGE")
	if image == "" {
		image = "scaleout:local"
	}
	compose := composeCommand(t)
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	project := "scaleout-compose-" + hex.EncodeToString(rnd[:])
	ports := freePorts(t, 3)
	env := append(os.Environ(), "SCALEOUT_IMAGE="+image, "SCALEOUT_ENCRYPT_KEY="+catalog.GenerateKey(),
		fmt.Sprintf("SCALEOUT_HTTP_PORT=%d", ports[0]), fmt.Sprintf("SCALEOUT_HTTP_PORT_2=%d", ports[1]),
		fmt.Sprintf("SCALEOUT_HTTP_PORT_3=%d", ports[2]))
	run := func(timeout time.Duration, args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		full := append(append(append([]string{}, compose[1:]...), "-f", "../../docker-compose.yml", "-p", project), args...)
		cmd := exec.CommandContext(ctx, compose[0], full...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			return string(out), fmt.Errorf("%s %s: %w\n%s", compose[0], strings.Join(full, " "), err, out)
		}
		return string(out), nil
	}
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := run(time.Minute, "logs", "--no-color", "--tail", "200")
			t.Logf("compose logs:\n%s", out)
		}
		if _, err := run(2*time.Minute, "down", "-v", "--timeout", "5"); err != nil {
			t.Logf("cleanup: %v", err)
		}
	})
	start := time.Now()
	if _, err := run(3*time.Minute, "up", "-d"); err != nil {
		t.Fatal(err)
	}
	apis := map[string]string{}
	for i, s := range []string{"s1", "s2", "s3"} {
		apis[s] = fmt.Sprintf("http://127.0.0.1:%d", ports[i])
	}
	waitForComposeCluster(t, apis["s1"])
	t.Logf("compose cluster formed in %s", time.Since(start).Round(time.Millisecond))

	smoke := func(via string, extra ...string) {
		t.Helper()
		args := append([]string{"run", "deploy/docker/smoke.yaml", "--wait", "--plain", "--param", "rows=5"}, extra...)
		r := cli(t, apis[via], args...)
		if r.code != 0 || !strings.Contains(r.stdout, "scaleout version") || !strings.Contains(r.stdout, "-> succeeded") {
			t.Fatalf("smoke package through %s %v: exit %d\n%s\n%s", via, extra, r.code, r.stdout, r.stderr)
		}
	}
	smoke("s2", "--worker", "w1")
	for _, s := range []string{"s1", "s2", "s3"} {
		smoke(s)
	}

	// A graceful stop leaves the cluster (Raft drops the server), a start
	// from the same volume joins it again.
	if _, err := run(2*time.Minute, "stop", "s2"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "2 voters after s2 left", 30*time.Second, func() (bool, string) {
		r := cli(t, apis["s1"], "operator", "raft", "list-peers")
		return r.code == 0 && strings.Count(r.stdout, "voter") == 2, r.stdout + r.stderr
	})
	smoke("s3")
	if _, err := run(2*time.Minute, "start", "s2"); err != nil {
		t.Fatal(err)
	}
	waitForComposeCluster(t, apis["s2"])
	smoke("s2", "--worker", "s2")
}

// waitForComposeCluster waits until the agent at api sees four alive
// members with a leader and three Raft voters.
func waitForComposeCluster(t *testing.T, api string) {
	t.Helper()
	waitFor(t, "4 alive members, a leader and 3 voters", 2*time.Minute, func() (bool, string) {
		r := cli(t, api, "members")
		if r.code != 0 || strings.Count(r.stdout, " alive ") != 4 || !strings.Contains(r.stdout, " true ") {
			return false, r.stdout + r.stderr
		}
		p := cli(t, api, "operator", "raft", "list-peers")
		return p.code == 0 && strings.Count(p.stdout, "voter") == 3, p.stdout + p.stderr
	})
}

// composeCommand returns docker-compose (v1) or `docker compose` (the
// plugin), whichever answers, or skips the test.
func composeCommand(t *testing.T) []string {
	t.Helper()
	for _, c := range [][]string{{"docker", "compose"}, {"docker-compose"}} {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		err := exec.CommandContext(ctx, c[0], append(c[1:], "version")...).Run()
		cancel()
		if err == nil {
			return c
		}
	}
	t.Skip("compose test: neither `docker compose` nor docker-compose is installed")
	return nil
}
