package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// diskFullRSSBound is the most the agent's RSS may reach in
// TestE2EDocker_DiskFull (a dev agent with a small catalog; measured about
// 40 MiB).
const diskFullRSSBound = 200 << 10 // kB

// TestE2EDocker_DiskFull runs a dev agent in a container whose data dir is
// a 8 MB tmpfs, then fills that filesystem: writes get 507 naming the full
// disk (promptly, not after a wait for recovery), the agent reports itself
// unhealthy at /v1/status/health, nothing acknowledged before is lost, and
// once space is freed it recovers by itself and accepts writes.
func TestE2EDocker_DiskFull(t *testing.T) {
	busybox := dockerUsable(t)
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	id := hex.EncodeToString(rnd[:])
	image := "scaleout-e2e:" + id
	buildDockerImage(t, image, id, busybox, nil)
	t.Cleanup(func() { removeDocker(t, "rmi", "-f", image) })
	net := dockerPrefix + id
	prefix := createDockerNetwork(t, net, id)
	t.Cleanup(func() { removeDocker(t, "network", "rm", net) })
	container := net + "-d1"
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := docker(context.Background(), nil, "logs", "--tail", "200", container)
			t.Logf("log of the agent:\n%s", out)
		}
		removeDocker(t, "rm", "-f", "-v", container)
	})
	ip := prefix + ".11"
	// The tmpfs belongs to the image's user (uid 10001, Dockerfile).
	mustDocker(t, "run", "-d", "--name", container, "--hostname", "d1", "--network", net, "--ip", ip,
		"--label", dockerLabel+"="+id, "--tmpfs", "/data:size=8m,uid=10001,gid=10001,mode=0700",
		image, "agent", "--dev", "--node", "d1", "--data-dir", "/data", "--http-addr", "0.0.0.0:8391")
	base := "http://" + ip + ":8391"
	sh := func(script string) (int, string) {
		return execInContainer(container, 30*time.Second, "sh", "-c", script)
	}
	rss := func() int64 {
		_, out := sh("cat /proc/1/status")
		for _, line := range strings.Split(out, "\n") {
			if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
				n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
				return n
			}
		}
		return 0
	}
	health := func() (int, string) { return httpTry(base+"/v1/status/health", "GET", nil) }
	waitFor(t, "the agent to serve", 60*time.Second, func() (bool, string) {
		code, body := health()
		return code == 200, body
	})
	desc := strings.Repeat("d", 4000)
	write := func(name string) (int, string) {
		return httpTry(base+"/v1/folders", "POST", mustJSON(t, map[string]string{"name": name, "description": desc}))
	}
	var acked []string
	for i := range 20 {
		name := fmt.Sprint("before-", i)
		if code, body := write(name); code != 200 {
			t.Fatalf("write before the disk is full: %d %s", code, body)
		}
		acked = append(acked, name)
	}

	// Fill the filesystem: a file that takes all the space left.
	if code, out := sh("cat /dev/zero > /data/filler; df /data"); !strings.Contains(out, "No space left") && !strings.Contains(out, "100%") {
		t.Fatalf("filling /data: exit %d: %s", code, out)
	}
	// Write until the disk refuses: bbolt reuses free pages first, so a
	// few writes may still fit. Each one answered 200 is acknowledged.
	var refused, refusedName string
	for i := 0; refused == "" && i < 2000; i++ {
		name := fmt.Sprint("filling-", i)
		start := time.Now()
		code, body := write(name)
		took := time.Since(start)
		switch {
		case code == 200:
			acked = append(acked, name)
		case code == 507:
			refused, refusedName = body, name
			t.Logf("write %d refused after %s: %d %s", i, took.Round(time.Millisecond), code, body)
		default:
			t.Fatalf("write %d on a full disk: %d %s (after %s), want 200 or 507", i, code, body, took.Round(time.Millisecond))
		}
		if took > 50*time.Second { // waiting for the disk to recover would hang until the client gives up (60 s)
			t.Fatalf("write %d on a full disk took %s: a failing disk must be answered promptly", i, took)
		}
	}
	if !strings.Contains(refused, "no space left on device") {
		t.Fatalf("no write was refused naming the full disk (last answer %q)", refused)
	}
	t.Logf("%d writes acknowledged before the disk refused", len(acked))
	waitFor(t, "the agent to report itself unhealthy", 30*time.Second, func() (bool, string) {
		code, body := health()
		return code == 507 && strings.Contains(body, "no space left on device"), fmt.Sprint(code, " ", body)
	})
	for i := range 3 {
		start := time.Now()
		code, body := write(fmt.Sprint("while-full-", i))
		if code != 507 || time.Since(start) > 50*time.Second {
			t.Fatalf("write while the disk is full: %d %s after %s, want a prompt 507", code, body, time.Since(start).Round(time.Millisecond))
		}
	}
	if kb := rss(); kb > diskFullRSSBound {
		t.Errorf("agent RSS %d MiB on a full disk, over the bound of %d MiB", kb>>10, diskFullRSSBound>>10)
	} else {
		t.Logf("agent RSS on a full disk: %d MiB (bound %d MiB)", kb>>10, diskFullRSSBound>>10)
	}

	// Free the space: the agent recovers by itself.
	if code, out := sh("rm /data/filler"); code != 0 {
		t.Fatalf("rm: %d %s", code, out)
	}
	freed := time.Now()
	waitFor(t, "the agent to recover and accept a write", 90*time.Second, func() (bool, string) {
		code, body := write("after-recovery")
		return code == 200, fmt.Sprint(code, " ", body)
	})
	t.Logf("a write was accepted %s after the space was freed", time.Since(freed).Round(time.Millisecond))
	if code, body := health(); code != 200 {
		t.Fatalf("health after recovery: %d %s", code, body)
	}
	for _, name := range acked {
		if code, body := httpTry(base+"/v1/folders/"+name, "GET", nil); code != 200 {
			t.Errorf("acknowledged folder %s lost: %d %s", name, code, body)
		}
	}
	// The refused write was proposed; if its entry reached the Raft log
	// (committed), it takes effect after the recovery, as its answer said.
	code, _ := httpTry(base+"/v1/folders/"+refusedName, "GET", nil)
	t.Logf("the write refused first (%s) after the recovery: %d (200: it was committed and has taken effect)", refusedName, code)
	if code, _ := sh("test -e /proc/1/status"); code != 0 {
		t.Fatal("the agent (pid 1 of the container) is gone")
	}
	if out, _ := docker(t.Context(), nil, "inspect", "-f", "{{.RestartCount}} {{.State.Status}}", container); strings.TrimSpace(out) != "0 running" {
		t.Errorf("container restarts/status: %q, want 0 running (no crash)", out)
	}
}

// httpTry sends a request and returns the status and body; a transport
// error is status -1 with the error as body.
func httpTry(url, method string, body []byte) (int, string) {
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		return -1, err.Error()
	}
	resp, err := (&http.Client{Timeout: 60 * time.Second}).Do(req)
	if err != nil {
		return -1, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
