package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scaleout/scaleout/api"
	"github.com/scaleout/scaleout/catalog/pkgspec/pkgspectest"
	"github.com/scaleout/scaleout/cluster/clustertest/smtptest"
)

// notifyReceiver is a webhook receiver that answers 500 to the first
// failFirst tries of each execution, then 200, and keeps what it saw.
type notifyReceiver struct {
	*httptest.Server
	mu        sync.Mutex
	tries     map[uint64]int
	delivered map[uint64][]api.Notification
	raw       []string
	bad       []string
}

func newNotifyReceiver(t *testing.T, failFirst int) *notifyReceiver {
	r := &notifyReceiver{tries: map[uint64]int{}, delivered: map[uint64][]api.Notification{}}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		r.raw = append(r.raw, string(body)+" "+fmt.Sprint(req.Header))
		var n api.Notification
		if err := json.Unmarshal(body, &n); err != nil || n.Execution == 0 || req.Header.Get("Authorization") != "Bearer hdr-s3cret" ||
			req.Header.Get("Content-Type") != "application/json" {
			r.bad = append(r.bad, fmt.Sprintf("%s %v %v", body, err, req.Header))
		}
		r.tries[n.Execution]++
		if r.tries[n.Execution] <= failFirst {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		r.delivered[n.Execution] = append(r.delivered[n.Execution], n)
	}))
	t.Cleanup(r.Close)
	return r
}

// TestE2E_PackageNotifyWebhook: packages with a notify key, outside any
// schedule. A failing inline package (notify on failure, a sensitive
// parameter in its failure) is delivered exactly once although the
// receiver answers 500 twice; the body names the execution and its status
// and holds neither the sensitive value nor the header; the delivery is an
// event of the execution; it is mailed once too, through the agent's
// --smtp-addr (a server of this test). A succeeded execution of a package notifying on
// failure sends nothing; a deployed package run from the catalog and an
// execution a schedule creates notify too.
func TestE2E_PackageNotifyWebhook(t *testing.T) {
	recv := newNotifyReceiver(t, 2)
	sink := smtptest.New(t)
	a := startAgent(t, t.TempDir(), "--smtp-addr", sink.Addr(), "--smtp-from", "etl@example.com")
	cl := a.client(t)
	ctx := context.Background()
	notify := fmt.Sprintf("notify:\n  webhook: %s/hook\n  email: [ops@example.com]\n  on: [failure]\n  headers: {Authorization: Bearer hdr-s3cret}\n", recv.URL)
	dir := t.TempDir()
	pkgspectest.WriteFiles(t, dir, map[string]string{
		"ok.yaml": "name: ok\n" + notify + "tasks:\n  - name: t\n    exec: {command: [/bin/true]}\n",
		"fail.yaml": "name: fail\n" + notify + "parameters:\n  token: {type: string, sensitive: true}\n" +
			"tasks:\n  - name: t\n    exec: {command: [\"nosuch-${param.token}\"]}\n",
	})
	const secret = "tok-s3cret-42"
	// The succeeded one first: it ends before the failing one is even
	// submitted, and the leader looks at the index oldest first.
	if r := cli(t, a.api, "run", filepath.Join(dir, "ok.yaml"), "--wait"); r.code != 0 {
		t.Fatalf("run ok: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if r := cli(t, a.api, "run", filepath.Join(dir, "fail.yaml"), "--param", "token="+secret, "--wait"); r.code == 0 {
		t.Fatalf("run fail succeeded: %s", r.stdout)
	}
	list, err := cl.Executions().List(ctx, &api.ListOptions{})
	if err != nil || len(list) != 2 {
		t.Fatalf("executions: %v %v", list, err)
	}
	failID, okID := list[0].ID, list[1].ID
	var e *api.Execution
	waitFor(t, "the failed execution's notification to be recorded", 90*time.Second, func() (bool, string) {
		e, err = cl.Executions().Info(ctx, failID)
		if err != nil {
			return false, err.Error()
		}
		return e.Notification != nil, fmt.Sprintf("%s notify %+v", e.Status, e.Notify)
	})
	if e.Status != "failed" || !e.Notification.Delivered || e.Notification.Attempts != 3 {
		t.Fatalf("execution %d %s: notification %+v", e.ID, e.Status, e.Notification)
	}
	if e.Notify == nil || e.Notify.Headers["Authorization"] != api.Masked {
		t.Fatalf("the execution shows its notify unmasked: %+v", e.Notify)
	}
	if r := cli(t, a.api, "executions", "status", fmt.Sprint(failID)); r.code != 0 || !strings.Contains(r.stdout, "delivered") ||
		strings.Contains(r.stdout, "hdr-s3cret") || strings.Contains(r.stdout, secret) {
		t.Fatalf("executions status: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := cli(t, a.api, "executions", "status", fmt.Sprint(okID), "-o", "json"); r.code != 0 || strings.Contains(r.stdout, "hdr-s3cret") ||
		!strings.Contains(r.stdout, `"notify"`) || strings.Contains(r.stdout, `"notification"`) {
		t.Fatalf("executions status of the succeeded one: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	evs, err := cl.Executions().Events(ctx, failID, 0, 1000, 0)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, ev := range evs.Events {
		found = found || (ev.Type == "notification" && strings.Contains(ev.Message, "delivered") && strings.Contains(ev.Message, "attempt 3"))
	}
	if !found {
		t.Fatalf("no notification event: %+v", evs.Events)
	}

	// A deployed package, run from the catalog, notifies the same way.
	proj := t.TempDir()
	pkgspectest.WriteFiles(t, proj, map[string]string{
		"project.yaml":       "name: np\n",
		"packages/boom.yaml": "name: boom\n" + notify + "tasks:\n  - name: t\n    exec: {command: [/bin/sh, -c, 'exit 4']}\n",
	})
	cli(t, a.api, "folders", "create", "F")
	if r := cli(t, a.api, "deploy", proj, "--folder", "F"); r.code != 0 {
		t.Fatalf("deploy: %d %s", r.code, r.stderr)
	}
	if r := cli(t, a.api, "run", "F/np/boom", "--wait"); r.code == 0 {
		t.Fatalf("run boom succeeded: %s", r.stdout)
	}
	list, _ = cl.Executions().List(ctx, &api.ListOptions{})
	boomID := list[0].ID
	waitFor(t, "the deployed package's notification", 90*time.Second, func() (bool, string) {
		e, err := cl.Executions().Info(ctx, boomID)
		if err != nil {
			return false, err.Error()
		}
		return e.Notification != nil, e.Status
	})

	// An execution a schedule created carries its package's notify too.
	at := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	if r := cli(t, a.api, "schedules", "create", "s", "--file", filepath.Join(dir, "fail.yaml"), "--param", "token="+secret, "--at", at); r.code != 0 {
		t.Fatalf("schedules create: %d %s", r.code, r.stderr)
	}
	rn, err := cl.Schedules().RunNow(ctx, "s")
	if err != nil || rn.Execution == 0 {
		t.Fatalf("run-now: %+v %v", rn, err)
	}
	schedID := rn.Execution
	waitFor(t, "the scheduled execution's notification", 90*time.Second, func() (bool, string) {
		e, err := cl.Executions().Info(ctx, schedID)
		if err != nil {
			return false, err.Error()
		}
		return e.Notification != nil, e.Status
	})

	recv.mu.Lock()
	defer recv.mu.Unlock()
	if len(recv.bad) > 0 {
		t.Fatalf("bad deliveries: %v", recv.bad)
	}
	for _, raw := range recv.raw {
		if strings.Contains(raw, secret) {
			t.Fatalf("a notification holds the sensitive value: %s", raw)
		}
	}
	if recv.tries[okID] != 0 {
		t.Fatalf("the succeeded execution %d (notify on failure) was sent %d times", okID, recv.tries[okID])
	}
	got := recv.delivered[failID]
	if recv.tries[failID] != 3 || len(got) != 1 {
		t.Fatalf("execution %d: %d tries, %d deliveries; want 3 and 1", failID, recv.tries[failID], len(got))
	}
	n := got[0]
	if n.Event != "execution.failed" || n.Status != "failed" || n.Package != "fail" || n.Attempts != 1 || n.Ended == nil || n.Caller == "" {
		t.Fatalf("body %+v", n)
	}
	if b := recv.delivered[boomID]; len(b) != 1 || b[0].Folder != "F" || b[0].Project != "np" || b[0].Package != "boom" || b[0].ProjectVersion != 1 {
		t.Fatalf("deployed package's deliveries: %+v", b)
	}
	subjects := map[string]int{}
	mails := sink.Messages()
	for _, msg := range mails {
		m := msg.Data
		if strings.Contains(m, secret) || !strings.Contains(m, "From: etl@example.com") || !strings.Contains(m, `"event":"execution.failed"`) {
			t.Fatalf("mail: %s", m)
		}
		for _, l := range strings.Split(m, "\n") {
			if s, ok := strings.CutPrefix(l, "Subject: "); ok {
				subjects[strings.TrimSpace(s)]++
			}
		}
	}
	for _, id := range []uint64{failID, boomID, schedID} {
		pkg := map[uint64]string{failID: "fail", boomID: "boom", schedID: "fail"}[id]
		if subj := fmt.Sprintf("scaleout: execution %d (%s) failed", id, pkg); subjects[subj] != 1 {
			t.Errorf("mails with subject %q: %d (subjects %v)", subj, subjects[subj], subjects)
		}
	}
	if len(mails) != 3 {
		t.Errorf("%d mails, want 3 (one per failed execution)", len(mails))
	}
	if b := recv.delivered[schedID]; len(b) != 1 || b[0].Caller != "schedule:s" || b[0].Status != "failed" {
		t.Fatalf("scheduled execution's deliveries: %+v", b)
	}
	t.Logf("failed execution's body: %+v", n)
}
